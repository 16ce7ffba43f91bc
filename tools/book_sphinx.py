"""Sphinx fixes for this book, loaded through _config.yml's sphinx.local_extensions.

Exercise solutions (sphinx-exercise's ``{solution}`` and gated ``{solution-start}`` /
``{solution-end}``) are folded by default: every solution gets the ``dropdown`` class that
sphinx-togglebutton collapses, so no chapter has to remember ``:class: dropdown``.

A duplicate script:

Sphinx 7.4 writes a script twice when an extension adds an inline script after the HTML
builder has started (``add_js_file(None, body=...)`` is stored once as None and once as ''),
so every page declared sphinx-thebe's ``const THEBE_JS_URL`` twice and the browser reported
"Identifier 'THEBE_JS_URL' has already been declared" (fixed upstream in Sphinx 8.2,
sphinx-doc/sphinx#13402; Jupyter Book 1.x needs Sphinx 7). This drops the second copy of any
script or style sheet from each page.
"""


def _key(asset):
    return (asset.filename or "", asset.priority, tuple(sorted(asset.attributes.items())))


def drop_duplicate_assets(app, pagename, templatename, context, doctree):
    for name in ("script_files", "css_files"):
        assets = context.get(name)
        if not isinstance(assets, list):
            continue
        seen, kept = set(), []
        for asset in assets:
            key = _key(asset) if hasattr(asset, "attributes") else ("", 0, (("str", str(asset)),))
            if key not in seen:
                seen.add(key)
                kept.append(asset)
        context[name] = kept


def fold_solutions(app, doctree):
    try:
        from sphinx_exercise.nodes import solution_node, solution_start_node
    except ImportError:  # sphinx-exercise not loaded
        return
    for node in doctree.findall(lambda n: isinstance(n, (solution_node, solution_start_node))):
        if "dropdown" not in node["classes"]:
            node["classes"].append("dropdown")


def setup(app):
    app.connect("html-page-context", drop_duplicate_assets, priority=900)
    app.connect("doctree-read", fold_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
