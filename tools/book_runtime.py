"""How long each chapter takes to run, from this build's own execution (never typed).

* ``{runtime}`this``` (or ``{runtime}`book/08_estimating_z```): the run time of this (or
  that) chapter in this build, in words: "about 2 minutes".
* ``{runtime-table}``: every executed chapter with its run time and status, and the machine
  that ran them (CPU model and cores, GPU if any).

Both read myst-nb's execution data (what ``{nb-exec-table}`` shows) after every document has
been read. In a build that does not execute the chapters (``execute_notebooks: off``) the times
are unknown and say so.
"""

from __future__ import annotations

import os
import platform

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

LOGGER = logging.getLogger(__name__)


class runtime_ref(nodes.Inline, nodes.TextElement):
    """Placeholder for a chapter's run time."""


class runtime_table(nodes.General, nodes.Element):
    """Placeholder for the table of run times."""


class RuntimeRole(SphinxRole):
    def run(self):
        target = self.text.strip()
        docname = self.env.docname if target in {"", "this", "."} else target.lstrip("/")
        node = runtime_ref("", "", docname=docname)
        self.set_source_info(node)
        return [node], []


class RuntimeTableDirective(SphinxDirective):
    def run(self):
        self.env.ebm_runtime_pages = getattr(self.env, "ebm_runtime_pages", set()) | {self.env.docname}
        return [runtime_table("")]


def in_words(seconds: float) -> str:
    """'about 40 seconds', 'about 2 minutes', 'about 1.5 hours'."""
    if seconds < 55:
        return f"about {max(5, 5 * round(seconds / 5))} seconds"
    minutes = seconds / 60
    if minutes < 90:
        n = max(1, round(minutes))
        return f"about {n} minute{'s' if n != 1 else ''}"
    return f"about {minutes / 60:.1f} hours"


def as_clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def machine() -> str:
    """The CPU model and core count of the machine that builds (and executes) the book."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = "no GPU"
    if os.path.exists("/proc/driver/nvidia/gpus"):
        gpu = "an NVIDIA GPU (the chapters use it where DEVICE is 'auto')"
    return f"{cores} CPU cores ({model}), {gpu}"


def _exec_data(env, docname):
    from myst_nb.sphinx_ import NbMetadataCollector

    return NbMetadataCollector.get_doc_data(env).get(docname, {}).get("exec_data")


def _chapter_title(env, docname):
    title = env.titles[docname].astext() if docname in env.titles else docname
    for numbers in getattr(env, "toc_secnumbers", {}).get(docname, {}).values():
        return f"{'.'.join(map(str, numbers))}. {title}"
    return title


def _executes(env) -> bool:
    return env.config.nb_execution_mode not in {"off", None}


class FillRuntimes(SphinxPostTransform):
    default_priority = 8

    def run(self, **kwargs):
        env, builder = self.env, self.app.builder
        for ref in list(self.document.findall(runtime_ref)):
            docname = ref["docname"]
            data = _exec_data(env, docname)
            if data and data.get("runtime") is not None:
                text = in_words(data["runtime"])
            else:
                text = "an unmeasured time"
                if docname not in env.all_docs:
                    LOGGER.warning(f"{{runtime}}: no document {docname!r}", location=ref,
                                   type="ebmlib", subtype="runtime")
                elif _executes(env):
                    LOGGER.warning(f"{{runtime}}: {docname} has no execution time in this build",
                                   location=ref, type="ebmlib", subtype="runtime")
            ref.replace_self(nodes.inline(text, text, classes=["ebm-runtime"]))
        for placeholder in list(self.document.findall(runtime_table)):
            placeholder.replace_self(self.table(env, builder))

    def table(self, env, builder) -> list[nodes.Node]:
        rows = []
        total = 0.0
        for docname in sorted(env.all_docs):
            data = _exec_data(env, docname)
            if not data:
                continue
            runtime = data.get("runtime")
            total += runtime or 0.0
            rows.append((docname, _chapter_title(env, docname),
                         "—" if runtime is None else as_clock(runtime),
                         "ran" if data.get("succeeded") else "failed"))
        intro = nodes.paragraph()
        if not rows:
            intro += nodes.Text("This build did not execute the chapters, so it has no run times.")
            return [intro]
        intro += nodes.Text(f"Measured in this build, on {machine()}: {len(rows)} chapters in "
                            f"{as_clock(total)} in all. Each chapter runs on its own, from a fresh "
                            "kernel, with its default parameters.")
        table = nodes.table(classes=["ebm-runtime-table"])
        group = nodes.tgroup(cols=3)
        table += group
        for width in (70, 18, 12):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        row = nodes.row()
        for name in ("Chapter", "Run time", "Status"):
            row += nodes.entry("", nodes.paragraph(text=name))
        head += row
        body = nodes.tbody()
        group += body
        for docname, title, clock, status in rows:
            row = nodes.row()
            par = nodes.paragraph()
            par += nodes.reference("", title, internal=True,
                                   refuri=builder.get_relative_uri(env.docname, docname))
            row += nodes.entry("", par)
            row += nodes.entry("", nodes.paragraph(text=clock), classes=["ebm-num"])
            row += nodes.entry("", nodes.paragraph(text=status))
            body += row
        return [intro, table]


def runtime_pages_outdated(app, env, added, changed, removed):
    if added or changed or removed:
        return sorted(getattr(env, "ebm_runtime_pages", set()))
    return []


def purge(app, env, docname):
    getattr(env, "ebm_runtime_pages", set()).discard(docname)


def merge(app, env, docnames, other):
    env.ebm_runtime_pages = getattr(env, "ebm_runtime_pages", set()) | (
        getattr(other, "ebm_runtime_pages", set()) & set(docnames))


def setup(app):
    app.add_node(runtime_ref)
    app.add_node(runtime_table)
    app.add_role("runtime", RuntimeRole())
    app.add_directive("runtime-table", RuntimeTableDirective)
    app.add_post_transform(FillRuntimes)
    app.connect("env-get-outdated", runtime_pages_outdated)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
