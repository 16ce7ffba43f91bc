"""The claims page: every claim the chapters check, collected from the executed chapters.

A chapter states a claim with ``ch.check(...)`` (ebmlib.book), which shows a line under its
cell: HTML with the claim as JSON in a ``data-ebm-check`` attribute and an ``id`` to link to.
As each document is read (after myst-nb has executed it), this extension finds those lines in
the doctree's raw HTML outputs and keeps them in the build environment, as ``sphinx.ext.todo``
keeps todos; the ``{claims-list}`` directive on the claims page is replaced, once every
document has been read, by the claims chapter by chapter, each with its measured values and a
link back to the line in its chapter. Nothing is typed and nothing comes from a previous build:
a chapter that is executed again brings its claims again.
"""

from __future__ import annotations

import html
import json
import re

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)
CHECK = re.compile(r'data-ebm-check="([^"]*)"')


class claims_list(nodes.General, nodes.Element):
    """Placeholder for the list of claims, filled in after every document is read."""


class ClaimsListDirective(SphinxDirective):
    has_content = False

    def run(self):
        self.env.ebm_claims_pages = getattr(self.env, "ebm_claims_pages", set()) | {self.env.docname}
        return [claims_list("")]


def claims_in(doctree: nodes.Node) -> list[dict]:
    """The claims of ``ch.check`` lines in a doctree, in document order."""
    found = []
    for raw in doctree.findall(nodes.raw):
        if "html" not in raw.get("format", "").split():
            continue
        for payload in CHECK.findall(raw.astext()):
            try:
                found.append(json.loads(html.unescape(payload)))
            except json.JSONDecodeError as err:
                LOGGER.warning(f"unreadable claim payload ({err}): {payload[:80]}",
                               location=raw, type="ebmlib", subtype="claims")
    return found


def collect_claims(app, doctree):
    env = app.env
    if not hasattr(env, "ebm_claims"):
        env.ebm_claims = {}
    claims = claims_in(doctree)
    if claims:
        env.ebm_claims[env.docname] = claims
    else:
        env.ebm_claims.pop(env.docname, None)


def purge_claims(app, env, docname):
    getattr(env, "ebm_claims", {}).pop(docname, None)
    getattr(env, "ebm_claims_pages", set()).discard(docname)


def merge_claims(app, env, docnames, other):
    env.ebm_claims = getattr(env, "ebm_claims", {})
    env.ebm_claims.update({d: c for d, c in getattr(other, "ebm_claims", {}).items() if d in docnames})
    env.ebm_claims_pages = getattr(env, "ebm_claims_pages", set()) | (
        getattr(other, "ebm_claims_pages", set()) & set(docnames))


def claims_pages_outdated(app, env, added, changed, removed):
    """A claims page is rebuilt whenever any document was (re)read."""
    if added or changed or removed:
        return sorted(getattr(env, "ebm_claims_pages", set()))
    return []


def chapter_label(env, docname: str) -> str:
    title = env.titles[docname].astext() if docname in env.titles else docname
    number = None
    for numbers in getattr(env, "toc_secnumbers", {}).get(docname, {}).values():
        number = ".".join(map(str, numbers))
        break
    if number:
        return f"{number}. {title}"
    return "Preface" if docname == env.config.root_doc else title  # the root's title is the book's


def _claim_paragraph(claim: dict) -> nodes.paragraph:
    par = nodes.paragraph(classes=["ebm-claim-text"])
    par += nodes.inline("", "\u2713 " if claim.get("passed") else "\u2717 ", classes=["ebm-claim-mark"])
    for text, name in claim.get("parts") or [[claim.get("text", ""), None]]:
        par += nodes.strong(text, text) if name else nodes.Text(text)
    return par


class FillClaimsLists(SphinxPostTransform):
    """Replace each ``{claims-list}`` placeholder by the claims, chapter by chapter."""

    default_priority = 8  # before references are resolved

    def run(self, **kwargs):
        env, builder = self.env, self.app.builder
        claims = getattr(env, "ebm_claims", {})
        for placeholder in list(self.document.findall(claims_list)):
            out: list[nodes.Node] = []
            docs = [d for d in sorted(claims) if d in env.all_docs]
            total = sum(len(claims[d]) for d in docs)
            summary = nodes.paragraph(classes=["ebm-claims-summary"])
            others = [d for d in docs if not getattr(env, "toc_secnumbers", {}).get(d)]
            where = f"{len(docs) - len(others)} chapters" + (
                " and the preface" if others == [env.config.root_doc]
                else f" and {len(others)} other pages" if others else "")
            summary += nodes.Text(f"{total} claims in {where}.")
            out.append(summary)
            for docname in docs:
                section = nodes.section(ids=[f"claims-{docname.split('/')[-1]}"], classes=["ebm-claims-chapter"])
                uri = builder.get_relative_uri(env.docname, docname)
                title = nodes.title()
                title += nodes.reference("", chapter_label(env, docname), internal=True, refuri=uri)
                section += title
                items = nodes.enumerated_list(classes=["ebm-claims"])
                for claim in claims[docname]:
                    item = nodes.list_item()
                    par = _claim_paragraph(claim)
                    par += nodes.Text(" ")
                    par += nodes.reference("", "(see the check)", internal=True,
                                           refuri=f"{uri}#{claim.get('anchor', '')}",
                                           classes=["ebm-claim-link"])
                    item += par
                    items += item
                section += items
                out.append(section)
            if not docs:
                out[0] = nodes.paragraph(text="No chapter states a checked claim yet.")
                LOGGER.info("the claims page lists no claims: no chapter called ch.check")
            placeholder.replace_self(out)


def setup(app):
    app.add_node(claims_list)
    app.add_directive("claims-list", ClaimsListDirective)
    app.connect("doctree-read", collect_claims)
    app.connect("env-purge-doc", purge_claims)
    app.connect("env-merge-info", merge_claims)
    app.connect("env-get-outdated", claims_pages_outdated)
    app.add_post_transform(FillClaimsLists)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
