"""Sphinx fixes so every page of the book loads without a console error and passes
the accessibility check (axe-core, WCAG 2 A and AA) of tests/book/test_browser.py.

Loaded by _config.yml (`sphinx.local_extensions`). Two upstream glitches of the
Jupyter Book 1 stack make the browser report errors on every page, which would
hide real ones from tests/book/test_browser.py:

- sphinx-thebe 0.3.1 registers its inline `const THEBE_JS_URL = ...` script in a way
  that Sphinx 7.4 emits twice, so the second copy throws "Identifier 'THEBE_JS_URL'
  has already been declared". We drop exact duplicate <script> entries per page.
- pydata-sphinx-theme 0.17 logs "Got invalid theme mode" when `default_mode` is not
  set; we default it to "auto" (follow the reader's system setting).

And one in the bibliography's markup: docutils writes each entry of
sphinxcontrib-bibtex's list as `<div role="doc-biblioentry">` inside `<div
role="list">`. DPUB-ARIA 1.1 deprecates that role, and a list whose children are not
list items fails ARIA's required-children rule; we give the entries role="listitem".
"""
from __future__ import annotations

from typing import Any


def _script_key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    # An inline script is registered with filename None by some extensions and "" by others.
    return (getattr(script, "filename", str(script)) or "",
            tuple(sorted((name, str(value)) for name, value in attributes.items()
                         if name != "priority")))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: Sphinx restores its own list after each page.
    scripts[:] = unique


def bibliography_list_items(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def default_theme_mode(app, config) -> None:
    config.html_context = {**(config.html_context or {})}
    config.html_context.setdefault("default_mode", "auto")


def setup(app) -> dict[str, Any]:
    app.connect("config-inited", default_theme_mode)
    # Late priority: after the extensions that add scripts during page context.
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.connect("html-page-context", bibliography_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
