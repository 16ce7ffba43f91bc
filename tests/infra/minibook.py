"""A two-chapter book that uses every piece of the book's toolkit, built with the book's own
configuration: the site checks and the Sphinx extensions are tested on it in a minute, instead
of on the whole book. ``make_minibook(dest)`` writes it; ``defects=True`` adds a page with one
instance of every defect the site check must catch (tests/infra/test_site_checks.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[2]

BIB = """@article{ackley1985learning,
  title={A learning algorithm for {B}oltzmann machines},
  author={Ackley, David H and Hinton, Geoffrey E and Sejnowski, Terrence J},
  journal={Cognitive Science}, volume={9}, number={1}, pages={147--169}, year={1985}}
@article{hinton2002training,
  title={Training products of experts by minimizing contrastive divergence},
  author={Hinton, Geoffrey E}, journal={Neural Computation}, volume={14}, pages={1771--1800},
  year={2002}}
"""

COLAB = ('# Colab only\nimport sys\n\nif "google.colab" in sys.modules:\n'
         '    %pip install -q "ebmlib[book] @ git+URL@main"')


def md(text: str, **meta):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip(), **meta)


def code(text: str, *tags: str):
    cell = nbformat.v4.new_code_cell(textwrap.dedent(text).strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def chapter_one():
    return [
        md("""
        # The demo chapter

        This chapter runs in {runtime}`this` on the build machine; it builds on {chapter}`2`
        and on {cite:t}`ackley1985learning`.
        """),
        code(COLAB, "remove-cell"),
        code('SEED = 0\nDEVICE = "cpu"', "parameters", "hide-input"),
        code("""
        import matplotlib.pyplot as plt
        import torch

        import ebmlib
        from ebmlib import book, plotting

        ch = ebmlib.book.setup(SEED, DEVICE)
        """, "hide-input"),
        md("## A claim\n\nAn estimate, compared with the truth:"),
        code("""
        estimate, truth = torch.tensor(1.016), torch.tensor(1.0)
        err = (estimate - truth).abs()
        """),
        code("""
        ch.check("the estimate lands within {tol} nats of the truth: off by {err:.3f}",
                 err < 0.1, tol=0.1, err=err)
        ch.glue(n_states=book.power(2, 784), eps=book.number(8.9e-16, ".1e"),
                small=book.number(-0.00001, ".3f"))
        """, "hide-input"),
        md("""
        It is off by {glue:text}`err` nats. A sum over {glue}`n_states` states; machine epsilon
        {glue}`eps` (as text: {glue:text}`eps`); a tiny number {glue:text}`small`.

        ## A table
        """),
        code("""
        rows = [
            {"method": "CD-1", "test LL": (-150.112, 0.31), "updates": 740.33, "note": None},
            {"method": "PCD", "test LL": (-19.0, 0.25), "updates": 600, "note": "persistent"},
            {"method": "NCE", "test LL": (-31.5, float("nan")), "updates": 12, "note": None},
        ]
        tab = book.table(rows, formats={"test LL": ".2f", "updates": ",d"},
                         units={"test LL": "nats"}, best={"test LL": "max"})
        ch.glue(tab_demo=tab)
        """, "hide-input"),
        md("""
        ```{glue-table} tab_demo
        :name: tab-demo

        Test log-likelihood (mean ± standard deviation over seeds) and updates per method.
        ```

        {numref}`tab-demo` has three rows.

        ## A figure
        """),
        code("""
        fig, axes = plotting.subplots("two")
        for name in ["CD-1", "PCD", "exact ML"]:
            axes[0].plot([0, 1, 2], [0, 1, 4], **plotting.method_style(name))
        axes[0].set_xlabel(r"$\\Sigma + \\sigma^2$")
        axes[0].legend()
        axes[1].hist(torch.randn(500).numpy(), bins=20)
        plotting.label_panels(axes)
        ch.glue(fig_demo=fig)
        """, "hide-input"),
        md("""
        ```{glue:figure} fig_demo
        :name: fig-demo

        Two panels in the book style: (a) methods in their colours, (b) a histogram.
        ```

        ## Exercises

        ```{exercise}
        :label: ex-demo-1

        Compute $\\log 2^{10}$.
        ```

        ```{solution-start} ex-demo-1
        ```

        The solution runs at build:
        """),
        code("import math\nprint(f'{10 * math.log(2):.4f}')"),
        md("""
        ```{solution-end}
        ```
        """),
    ]


def chapter_two():
    return [
        md("""
        # Another chapter

        Back to {chapter}`1`, or to {chapter}`the first chapter <1>`.
        """),
        code('SEED = 0\nDEVICE = "cpu"', "parameters", "hide-input"),
        code("import ebmlib\nch = ebmlib.book.setup(SEED, DEVICE, quiet=True)", "hide-input"),
        code("""
        for k in range(3):
            print(f"step {k}")
        """),
        code("""
        ch.check("three steps ran: {n} of them", True, n=3)
        """, "hide-input"),
    ]


# One instance of each defect the site check must catch (see tests/infra/test_site_checks.py).
DEFECTS = [
    md("""
    # Defects

    A lone dollar $ sign from broken TeX.
    """),
    md("""
    A raw backslash \\\\alpha in the text.
    """),
    md("""
    $$
    Z = \\sum_{x_1, x_2, x_3, x_4, x_5, x_6, x_7, x_8, x_9, x_{10}, x_{11}, x_{12}, x_{13}, x_{14}, x_{15}, x_{16}, x_{17}, x_{18}, x_{19}, x_{20}} \\exp\\left(-E(x_1, x_2, x_3, x_4, x_5, x_6, x_7, x_8, x_9, x_{10}, x_{11}, x_{12})\\right)
    $$
    """),
    md("""
    An inline formula too wide for a phone:
    $E(x) = x_1 x_2 + x_2 x_3 + x_3 x_4 + x_4 x_5 + x_5 x_6 + x_6 x_7 + x_7 x_8 + x_8 x_9 + x_9 x_{10}$.
    """),
    md("See chapter 1 for more."),
    code('SEED = 0\nDEVICE = "cpu"', "parameters", "hide-input"),
    code("""
    import matplotlib.pyplot as plt
    import pandas as pd
    import ebmlib
    ch = ebmlib.book.setup(SEED, DEVICE, quiet=True)
    """, "hide-input"),
    code("\n".join(f"x{i} = {i}" for i in range(30))),
    code("err = 0.01\nassert err < 0.1\nch.glue(err_visible=f'{err:.2f}')"),
    code("""
    pd.DataFrame({"a": [1.0, float("nan")], "b": [float("inf"), 2.0]})
    """),
    code("""
    fig, ax = plt.subplots(figsize=(16, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("tiny text", fontsize=6)
    ch.glue(fig_tiny=fig)
    """, "hide-input"),
    md("""
    ```{glue:figure} fig_tiny
    :name: fig-tiny

    A figure far too wide for its column, so its text shrinks.
    ```

    <div style="width: 900px; background: #ddd">a fixed-width block wider than a phone</div>
    """),
    code("{'a': 1, 'b': 2}"),
]


def make_minibook(dest: Path, defects: bool = False, execute: bool = True) -> Path:
    """Write the mini book into ``dest`` (created) and return it."""
    dest = Path(dest)
    (dest / "book").mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["title"] = "Mini book"
    config["bibtex_bibfiles"] = ["book/references.bib"]
    config["execute"]["execute_notebooks"] = "force" if execute else "off"
    config["exclude_patterns"] = [p for p in config["exclude_patterns"] if p != "tools"] + ["tools"]
    config["sphinx"]["local_extensions"] = {k: str(ROOT / "tools") for k in config["sphinx"]["local_extensions"]}
    config["sphinx"]["config"]["html_static_path"] = [str(ROOT / "_assets")]
    config["html"].pop("favicon", None)
    (dest / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    chapters = [{"file": "book/01_demo"}, {"file": "book/02_other"}]
    if defects:
        chapters.append({"file": "book/03_defects"})
    toc = {"format": "jb-book", "root": "book/00_intro",
           "parts": [{"caption": "Chapters", "numbered": 1, "chapters": chapters},
                     {"caption": "Reference", "chapters": [
                         {"file": "book/claims"}, {"file": "book/execution"}, {"file": "book/bibliography"}]}]}
    (dest / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    (dest / "book" / "references.bib").write_text(BIB)
    (dest / "book" / "00_intro.md").write_text("# Mini book\n\nA book of two chapters, {chapter}`1` and {chapter}`2`.\n")
    for name in ("claims.md", "execution.md", "bibliography.md"):
        (dest / "book" / name).write_text((ROOT / "book" / name).read_text())
    parts = [("01_demo", chapter_one()), ("02_other", chapter_two())]
    if defects:
        parts.append(("03_defects", DEFECTS))
    for name, cells in parts:
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["ebmlib"] = {"page_rules": True, "output_rules": True}  # checked against every rule
        nbformat.write(nb, dest / "book" / f"{name}.ipynb")
    return dest


if __name__ == "__main__":
    import sys

    print(make_minibook(Path(sys.argv[1]), defects="--defects" in sys.argv))
