"""Templates: every kind renders in every part; HTML escapes; overrides are sandboxed."""

from __future__ import annotations

import pytest
from jinja2 import TemplateError

from bookpulse.adapters.notify import render
from bookpulse.domain.notifications import ALL_KINDS
from bookpulse.entrypoints.api.notifications import _sample


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_kind_renders_subject_short_text_and_html(kind: str) -> None:
    out = render.render(kind, _sample(kind))
    assert out.subject and out.short and out.text.strip() and "<html" in out.html
    assert "\x1e" not in out.text and len(out.subject) <= 200


def test_html_escapes_and_text_does_not() -> None:
    ctx = _sample("confirmed")
    ctx["booking"] = {**ctx["booking"], "offering": "Rock & <Roll>"}
    out = render.render("confirmed", ctx)
    assert "Rock &amp; &lt;Roll&gt;" in out.html and "<Roll>" not in out.html
    assert "Rock & <Roll>" in out.text


def test_overrides_run_in_a_sandbox() -> None:
    evil = ('{% extends "_message.txt.j2" %}{% block subject %}'
            '{{ "".__class__.__mro__[1].__subclasses__() }}{% endblock %}')
    with pytest.raises(TemplateError):
        render.render("confirmed", _sample("confirmed"), overrides={"confirmed.txt.j2": evil})
    with pytest.raises(ValueError):
        render.validate_override("confirmed.txt.j2", "no separators", _sample("confirmed"))


def test_override_can_change_one_block_of_the_default() -> None:
    src = '{% extends "default/reminder.txt.j2" %}{% block lead %}See you soon!{% endblock %}'
    out = render.render("reminder", _sample("reminder"), overrides={"reminder.txt.j2": src})
    assert "See you soon!" in out.text and "See you soon!" in out.html
    assert out.subject.startswith("Reminder")
