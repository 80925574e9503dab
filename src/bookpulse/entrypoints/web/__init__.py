"""Server-rendered pages: Jinja2 templates, htmx fragments, vendored static assets."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
