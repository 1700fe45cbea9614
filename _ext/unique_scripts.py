"""Sphinx extension of the book: list each <script> of a page once.

sphinx-thebe registers its configuration script (``const THEBE_JS_URL = ...``) while the documents are
read. Sphinx 7.4 then lists it twice on every page, once as the builder added it (file name ``None``)
and once as re-read from the registry (file name ``""``), and the browser reports "Identifier
'THEBE_JS_URL' has already been declared". This keeps the first of identical scripts.
"""

from __future__ import annotations


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the builder restores this same list after the page


def setup(app):
    # Late, so that the scripts other extensions add to this page (MathJax among them) are in the list.
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
