"""Message templates: Jinja2 in a sandbox, overridable per organization, translatable.

Each kind has ``<kind>.txt.j2`` (subject, short line and plain text, separated by the
record separator — see ``_message.txt.j2``) and ``<kind>.html.j2`` (the HTML e-mail).
An organization may override any of them; its templates see the same variables, may
``{% extends "default/<name>" %}`` to change one block, and run in a sandbox because
admins write them. Strings are wrapped in ``_()`` (gettext, new-style ``%(name)s``).
"""

from __future__ import annotations

import gettext
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    DictLoader,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = Path(__file__).parent / "templates"
SEP = "\x1e"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    short: str
    text: str
    html: str


def money(amount: int | None, currency: str = "EUR") -> str:
    if amount is None:
        return ""
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency + " ")
    return f"{symbol}{amount / 100:,.2f}"


def _env(overrides: dict[str, str], translations: gettext.NullTranslations | None
         ) -> ImmutableSandboxedEnvironment:
    files = FileSystemLoader(str(TEMPLATES))
    loader = ChoiceLoader([DictLoader(overrides), PrefixLoader({"default": files}), files])
    env = ImmutableSandboxedEnvironment(
        loader=loader, autoescape=select_autoescape(["html.j2"], default=False),
        extensions=["jinja2.ext.i18n"], undefined=StrictUndefined, trim_blocks=False)
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations or gettext.NullTranslations(), newstyle=True)
    env.filters["money"] = money
    env.globals["SEP"] = SEP
    return env


@lru_cache(maxsize=64)
def _cached_env(overrides_json: str) -> ImmutableSandboxedEnvironment:
    return _env(json.loads(overrides_json), None)


def env_for(overrides: dict[str, str] | None) -> ImmutableSandboxedEnvironment:
    """One environment per distinct set of overrides (templates are compiled once)."""
    return _cached_env(json.dumps(overrides or {}, sort_keys=True))


def render(kind: str, context: dict[str, Any], *, overrides: dict[str, str] | None = None
           ) -> Rendered:
    """Render a kind's parts. Raises ``TemplateError`` (a broken override is the
    caller's permanent error, not a reason to retry)."""
    env = env_for(overrides)
    txt = env.get_template(f"{kind}.txt.j2")
    parts = txt.render(context).split(SEP)
    if len(parts) != 3:
        raise TemplateError(f"{kind}.txt.j2 must keep the two separators of _message.txt.j2")
    subject, short, text = (p.strip() for p in parts)
    subject = " ".join(subject.split())[:200]
    lead = ""
    if "lead" in txt.blocks:
        lead = "".join(txt.blocks["lead"](txt.new_context(context))).strip()
    html = env.get_template(f"{kind}.html.j2").render({**context, "subject": subject,
                                                       "lead": lead})
    return Rendered(subject=subject, short=" ".join(short.split())[:320], text=text + "\n",
                    html=html)


def validate_override(name: str, source: str, sample: dict[str, Any]) -> None:
    """Compile and render an organization's template with sample data; ``ValueError``
    with Jinja's message when it is broken."""
    kind = name.split(".", 1)[0]
    try:
        render(kind, sample, overrides={name: source})
    except TemplateError as exc:
        raise ValueError(f"{name}: {exc}") from None


def overrides_digest(overrides: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:12]
