"""References the way the text writes them.

* ``{chapter}`3``` is a link reading "chapter 3" to the chapter whose notebook is
  ``book/03_*``; ``{chapter}`Chapter 3 <3>``` sets the text (``{chapter}`3 <3>``` for "3" alone,
  as in "chapters 5, 6 and 9"). An unknown number is a build warning (so an error).
* Bibliography labels in author-year form ("Ackley et al., 1985"), matching the author-year
  citations in the text (``bibtex_reference_style: author_year``), instead of pybtex's alpha
  labels ("AHS85"): a pybtex label style and a formatting style ``authoryear`` that uses it
  (``bibtex_default_style: authoryear`` in _config.yml), sorted by author, year and title.
"""

from __future__ import annotations

import re
from collections import Counter

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.addnodes import pending_xref
from sphinx.util import logging
from sphinx.util.docutils import ReferenceRole

LOGGER = logging.getLogger(__name__)


# --------------------------------------------------------------------------- {chapter}


def chapter_docname(found_docs, number: int) -> str | None:
    prefix = f"book/{number:02d}_"
    matches = sorted(d for d in found_docs if d.startswith(prefix))
    return matches[0] if len(matches) == 1 else None


class ChapterRole(ReferenceRole):
    def run(self):
        target = self.target.strip()
        if not target.isdigit():
            msg = f"{{chapter}} takes a chapter number, got {target!r}"
            LOGGER.warning(msg, location=self.get_location(), type="ebmlib", subtype="chapter")
            return [nodes.inline(self.rawtext, self.title)], []
        docname = chapter_docname(self.env.found_docs, int(target))
        if docname is None:
            msg = f"{{chapter}}: no chapter {target} (no single book/{int(target):02d}_*)"
            LOGGER.warning(msg, location=self.get_location(), type="ebmlib", subtype="chapter")
            return [nodes.inline(self.rawtext, self.title)], []
        text = self.title if self.has_explicit_title else f"chapter {int(target)}"
        ref = pending_xref(self.rawtext, refdomain="std", reftype="doc", reftarget="/" + docname,
                           refexplicit=True, refwarn=True, refdoc=self.env.docname)
        ref += nodes.inline(text, text, classes=["xref", "std", "std-doc", "ebm-chapter-ref"])
        self.set_source_info(ref)
        return [ref], []


# --------------------------------------------------------------------------- author-year labels


def _last_names(person) -> str:
    """The person's last name(s) as plain text (LaTeX accents resolved: Hyv{\\"a}rinen)."""
    names = " ".join(person.prelast_names + person.last_names)
    return Text.from_latex(names).render_as("text") if names else "Anon."


def _authors(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last_names(p) for p in people]
    if not names:
        key = entry.fields.get("organization") or entry.fields.get("title") or entry.key
        return re.sub(r"[{}]", "", str(key)).split(":")[0][:30]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


class AuthorYearLabelStyle(BaseLabelStyle):
    """'Ackley et al., 1985'; 'Hinton, 2002a' and 'Hinton, 2002b' when they would clash."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        bases = [f"{_authors(e)}, {e.fields.get('year', 'n.d.')}" for e in entries]
        counts = Counter(bases)
        seen: Counter = Counter()
        for base in bases:
            if counts[base] > 1:
                yield f"{base}{chr(ord('a') + seen[base])}"
                seen[base] += 1
            else:
                yield base


class AuthorYearStyle(UnsrtStyle):
    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def setup(app):
    app.add_role("chapter", ChapterRole())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
