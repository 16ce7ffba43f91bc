"""A glued table with a numbered caption: ``{glue-table}``.

A chapter glues a table made by ``ebmlib.book.table`` (``ch.glue(tab_rbm=tab)``) and shows it
in the text with its caption above it::

    ```{glue-table} tab_rbm
    :name: tab-rbm

    Exact test log-likelihood after 600 updates, mean ± standard deviation over three seeds.
    ```

It is numbered as a table ("Table 10.1"), so ``{numref}`tab-rbm``` refers to it. This is
myst-nb's ``{glue:figure}`` with the node registered as a table (Sphinx numbers nodes by their
class); the caption, which HTML writes after the table, is shown above it (_assets/book.css),
where tables carry it.
"""

from __future__ import annotations

from docutils import nodes
from myst_nb.ext.glue.directives import PasteFigureDirective
from sphinx.writers.html5 import HTML5Translator


class table_figure(nodes.figure):
    """A glued table with its caption; numbered as a table."""


class GlueTableDirective(PasteFigureDirective):
    def run(self):
        out = super().run()
        for node in out:
            if isinstance(node, nodes.figure):
                # The node itself becomes a table (not a copy: the document's ids already point
                # to it, and the numbering and {numref} look it up there).
                node.__class__ = table_figure
                node["classes"] = list(dict.fromkeys(node["classes"] + ["ebm-glue-table"]))
        return out


def _title(node):
    for child in node.children:
        if isinstance(child, nodes.caption):
            return child.astext()
    return None


def visit_table_figure(self: HTML5Translator, node):
    self.visit_figure(node)


def depart_table_figure(self: HTML5Translator, node):
    self.depart_figure(node)


def setup(app):
    app.add_enumerable_node(table_figure, "table", _title,
                            html=(visit_table_figure, depart_table_figure))
    app.add_directive("glue-table", GlueTableDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
