"""The chapters' toolkit: visible checks, tables, typeset numbers, the figure style."""

import html
import itertools
import json
import math
import re

import numpy as np
import pytest
import torch

from ebmlib import book, plotting
from ebmlib.book import ClaimFailed

# --------------------------------------------------------------------------- checks


def chapter():
    return book.Chapter(0, torch.device("cpu"))


def test_a_check_shows_the_claim_with_its_values_and_glues_them_as_shown(capsys):
    ch = chapter()
    err = torch.tensor(0.01634)
    assert ch.check("AIS lands within {tol} nats of the exact log Z: it is off by {err:.3f}",
                    err < 0.1, tol=0.1, err=err) is None
    line = capsys.readouterr().out.strip()
    assert line == "✓ AIS lands within 0.1 nats of the exact log Z: it is off by 0.016"
    assert {k: str(v) for k, v in ch.glued.items()} == {"tol": "0.1", "err": "0.016"}
    claim = ch.claims[-1]
    page = claim._repr_html_()
    assert "ebm-check-pass" in page and "✓" in page and "<pre" not in page
    payload = json.loads(html.unescape(re.search(r'data-ebm-check="([^"]*)"', page).group(1)))
    assert payload["text"] == claim.text and payload["values"] == {"tol": "0.1", "err": "0.016"}
    assert payload["anchor"] == "ebm-check-1" and f'id="{payload["anchor"]}"' in page


def test_a_false_claim_shows_a_cross_and_raises_with_the_claim_and_values(capsys):
    ch = chapter()
    with pytest.raises(ClaimFailed) as info:
        ch.check("AIS lands within {tol} nats: it is off by {err:.3f}", torch.tensor(False),
                 tol=0.1, err=0.3)
    assert isinstance(info.value, AssertionError)
    assert "AIS lands within 0.1 nats: it is off by 0.300" in str(info.value)
    assert "err=0.300" in str(info.value)
    assert capsys.readouterr().out.startswith("✗ ")
    assert "ebm-check-fail" in ch.claims[-1]._repr_html_()
    assert ch.glued == {}  # nothing is published from a claim that does not hold


def test_two_claims_that_share_a_value_glue_it_once(monkeypatch):
    """myst-nb warns on a glue key glued twice (a build warning, so an error): a value that two
    checks of a cell show is glued by the first only (the second is refused if it differs)."""
    myst_nb = pytest.importorskip("myst_nb")  # the book's extra: absent at the oldest versions
    keys = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=False: keys.append(name))
    ch = chapter()
    ch.check("step {step} accepts {rate:.2f}", True, step=0.3, rate=0.51)
    ch.check("step {step} is stable", True, step=0.3)
    assert keys == ["step", "rate"]
    with pytest.raises(ValueError, match="step"):
        ch.check("step {step} again", True, step=0.4)


def test_glued_strings_show_a_real_minus_sign(monkeypatch):
    """An f-string glued for the text reads like book.number's output beside it: a real minus
    sign, a typeset exponent, no negative zero; hyphens in words and ranges stay."""
    myst_nb = pytest.importorskip("myst_nb")
    shown = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=False: shown.update({name: value}))
    ch = chapter()
    ch.glue(a=f"{-0.412:.2f}", b=f"{8.9e-16:.1e}", c=f"{-0.0001:.3f}", d="-0.41 nats (CD-1, 10-20)")
    assert shown == {"a": "\u22120.41", "b": "8.9 \u00d7 10\u207b\u00b9\u2076", "c": "0.000",
                     "d": "\u22120.41 nats (CD-1, 10-20)"}
    assert ch.glued["a"] == "-0.41"  # what the chapter glued, as it wrote it


@pytest.mark.parametrize("claim, passed, values, error", [
    ("off by {err}", True, {}, ValueError),                        # a field without a value
    ("off by {err}", True, {"err": 1.0, "tol": 2.0}, ValueError),   # a value the claim hides
    ("off by {err}", 1.0, {"err": 1.0}, TypeError),                 # passed is not a bool
    ("off by {err}", torch.tensor([True, True]), {"err": 1.0}, TypeError),
    ("off by {err[0]}", True, {"err": [1.0]}, ValueError),           # not a plain name
    ("off by {err}", True, {"err": float("nan")}, ValueError),       # never a NaN
    ("", True, {}, ValueError),
])
def test_a_check_refuses_what_would_mislead(claim, passed, values, error):
    with pytest.raises(error):
        chapter().check(claim, passed, **values)


def test_a_value_name_means_one_value_in_a_chapter():
    ch = chapter()
    ch.check("within {tol} nats", True, tol=0.1)
    ch.check("again within {tol} nats", True, tol=0.1)   # the same value: fine
    with pytest.raises(ValueError, match="tol"):
        ch.check("within {tol} nats of the other", True, tol=0.2)


def test_check_values_are_typeset_like_numbers_in_the_text():
    ch = chapter()
    ch.check("the gap is {gap:.1e} and the count {n}", np.bool_(True), gap=8.9e-16, n=1_048_576)
    assert ch.glued["gap"].text == "8.9 × 10⁻¹⁶" and ch.glued["gap"].tex == r"8.9 \times 10^{-16}"
    assert ch.glued["n"].text == "1,048,576"


# --------------------------------------------------------------------------- tables

RESULTS = [
    {"method": "CD-1", "test LL": (-150.112, 0.31), "updates": 740.33, "note": None},
    {"method": "PCD", "test LL": (-19.0, 0.25), "updates": 600, "note": "persistent"},
    {"method": "NCE", "test LL": (-31.5, float("nan")), "updates": np.int64(12), "note": float("nan")},
]


def test_a_table_shows_no_nan_none_or_inf_and_keeps_integers_integral():
    tab = book.table(RESULTS, formats={"test LL": ".2f", "updates": ",d"}, units={"test LL": "nats"})
    page, text = tab._repr_html_(), repr(tab)
    for shown in (page, text, tab.to_markdown()):
        assert not re.search(r"\b(nan|NaN|None|inf)\b", shown), shown
    assert [row[2] for row in tab.cells] == ["740", "600", "12"]
    assert tab.cells[0][1] == "−150.11\u00a0±\u00a00.31"     # mean ± std, unbreakable
    assert tab.cells[2][1] == "−31.50" and tab.cells[0][3] == "—" and tab.cells[2][3] == "—"
    assert page.count("<tr>") == 1 + len(RESULTS)              # one header row, no index row
    assert "overflow-x:auto" in page and "padding" in page and "nats" in page


def test_a_dataframe_with_an_index_becomes_a_table_with_a_first_column():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"mean": [-1.5, -2.25], "n": [3, 4]},
                         index=pd.Index(["PL", "CD-1"], name="method"))
    tab = book.table(frame, best={"mean": "max"})
    assert tab.header == ["method", "mean", "n"]
    assert tab.cells == [["PL", "−1.50", "3"], ["CD-1", "−2.25", "4"]]
    assert (0, 1) in tab.bold and "font-weight:700" in tab._repr_html_()


def test_a_table_refuses_inf_unless_told_what_it_means_and_refuses_nan_strings():
    with pytest.raises(ValueError, match="inf"):
        book.table([{"seconds": 1.0}, {"seconds": math.inf}])
    assert book.table([{"seconds": 1.0}, {"seconds": math.inf}], inf="never").cells[1] == ["never"]
    with pytest.raises(ValueError, match="nan"):
        book.table([{"a": "nan"}])
    with pytest.raises(ValueError, match="unknown columns"):
        book.table(RESULTS, columns=["method", "missing"])


def test_an_integer_in_a_float_column_stays_an_integer():
    tab = book.table([{"x": 3}, {"x": 0.5}], formats={"x": ".2f"})
    assert [r[0] for r in tab.cells] == ["3", "0.50"]


def test_mean_std():
    mean, std = book.mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)
    assert book.mean_std([4.0]) == (4.0, None)


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value, spec, text, tex", [
    (8.9e-16, "", "8.9 × 10⁻¹⁶", r"8.9 \times 10^{-16}"),
    (8.9e-16, ".1e", "8.9 × 10⁻¹⁶", r"8.9 \times 10^{-16}"),
    (1e30, "", "10³⁰", "10^{30}"),
    (-0.0001, ".3f", "0.000", "0.000"),          # no negative zero
    (-0.0, ".2f", "0.00", "0.00"),
    (-12.5, ".1f", "−12.5", "-12.5"),            # a real minus sign in text
    (0.1, "", "0.1", "0.1"),
    (0.016234, "", "0.0162", "0.0162"),
    (1_048_576, "", "1,048,576", "1{,}048{,}576"),
    (65536.0, ",d", "65,536", "65{,}536"),
    (0.25, ".0%", "25%", r"25\%"),
    (torch.tensor(2.5), ".2f", "2.50", "2.50"),
])
def test_numbers_are_typeset(value, spec, text, tex):
    out = book.number(value, spec)
    assert (out.text, out.tex) == (text, tex)
    assert str(out) == text and f"{out}" == text and out._repr_latex_() == f"${tex}$"
    assert eval(repr(out)) == text  # text/plain survives myst-nb's literal_eval of {glue:text}


def test_powers_and_refusals():
    assert (book.power(2, 784).text, book.power(2, 784).tex) == ("2⁷⁸⁴", "2^{784}")
    assert book.number(3, unit="nats").text == "3\u00a0nats"
    for bad in (float("nan"), float("inf"), None):
        with pytest.raises((ValueError, TypeError)):
            book.number(bad)
    with pytest.raises(ValueError, match="integer"):
        book.number(740.33, ",d")
    with pytest.raises(ValueError):
        book.tidy("nan")


def test_a_plus_sign_the_format_asked_for_is_kept():
    assert book.number(0.171, "+.3f").text == "+0.171"
    assert book.number(-0.27, "+.3f").text == "\u22120.270"
    assert book.number(2.5e-5, "+.1e").text == "+2.5 × 10\u207b\u2075"
    assert book.number(0.0, "+.2f").text == "+0.00"
    # a (mean, std) cell signs the mean only: a spread has no sign
    shown = book.table([{"gap": (0.171, 0.012)}, {"gap": (-0.27, 0.1)}], formats={"gap": "+.3f"})
    assert "+0.171\u00a0±\u00a00.012" in shown._repr_html_()
    assert "\u22120.270\u00a0±\u00a00.100" in shown._repr_html_()


def test_glue_refuses_nan_inf_and_none():
    ch = chapter()
    for bad in (float("nan"), math.inf, None, "nan", torch.tensor(float("inf"))):
        with pytest.raises(ValueError):
            ch.glue(x=bad)


# --------------------------------------------------------------------------- figures


def _linear(hex_colour):
    c = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear_rgb):
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ linear_rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


# Machado, Oliveira and Fernandes (2009), severity 1: how a colour looks to a reader with
# protanopia, deuteranopia or tritanopia (applied to linear RGB).
CVD = {
    "normal": np.eye(3),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def separation(a, b):
    """The smallest CIELAB distance between two colours over normal and colour-blind vision."""
    return min(np.linalg.norm(_lab(np.clip(m @ _linear(a), 0, 1)) - _lab(np.clip(m @ _linear(b), 0, 1)))
               for m in CVD.values())


MIN_SEPARATION = 15.0  # CIELAB units; the closest pair of Tol's muted palette is ~15.6


def test_the_separation_test_refuses_a_red_green_pair():
    assert separation("#D62728", "#2CA02C") < MIN_SEPARATION   # matplotlib's C3 and C2
    assert separation("#0072B2", "#E69F00") > MIN_SEPARATION   # blue and orange


@pytest.mark.parametrize("lineup", list(plotting.LINEUPS), ids=str)
def test_methods_that_share_a_figure_have_distinct_colours_for_every_reader(lineup):
    names = plotting.LINEUPS[lineup]
    colours = [plotting.METHODS[n].color for n in names]
    assert len(set(colours)) == len(colours), f"{lineup}: two methods share a colour"
    for (a, ca), (b, cb) in itertools.combinations(zip(names, colours), 2):
        assert separation(ca, cb) >= MIN_SEPARATION, f"{lineup}: {a} and {b} look alike"


def test_every_method_has_one_style_and_no_two_methods_share_one():
    styles = [(s.color, s.marker, s.linestyle) for s in plotting.METHODS.values()]
    assert len(set(styles)) == len(styles)
    assert {s.color for s in plotting.METHODS.values()} <= set(plotting.PALETTE.values())
    for lineup in plotting.LINEUPS.values():
        assert set(lineup) <= set(plotting.METHODS)


@pytest.mark.parametrize("spelling, canonical", [
    ("CD-1", "CD-1"), ("cd1", "CD-1"), ("CD-10", "CD-k"), ("PCD-1", "PCD"), ("SML", "PCD"),
    ("denoising score matching", "denoising SM"), ("Metropolis-Hastings", "MH"),
    ("Langevin ML (buffer)", "Langevin ML"), ("PT-PCD", "PT"), ("exact", "exact"),
])
def test_method_style_knows_the_books_spellings(spelling, canonical):
    style = plotting.method_style(spelling)
    expected = plotting.METHODS[canonical]
    assert (style["color"], style["marker"], style["linestyle"]) == (
        expected.color, expected.marker, expected.linestyle)
    assert style["label"] == spelling
    with pytest.raises(KeyError, match="known methods"):
        plotting.method_style("gradient descent by hand")


def test_a_figure_png_records_its_display_size_and_smallest_text():
    pytest.importorskip("matplotlib")
    pytest.importorskip("yaml")  # tools/check_site.py reads the PNG; it comes with the book's build
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plotting.use_book_style()
    fig, axes = plotting.subplots("two")
    axes[0].plot([0, 1], [0, 1], **plotting.method_style("CD-1"))
    axes[1].set_xlabel("small", fontsize=8)
    data, meta = plotting.render_png(fig)
    plt.close(fig)
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from check_site import png_text

    texts, dpi = png_text(data)
    assert texts["ebmlib:min-font-pt"] == "8.00" and round(dpi) == 2 * plotting.DISPLAY_DPI
    width = int.from_bytes(data[16:20], "big")
    assert meta["width"] == width // 2
    assert abs(meta["width"] - plotting.COLUMN_WIDTH * plotting.DISPLAY_DPI) < 0.05 * meta["width"]
    # at the display size, 8 pt is 11 px: above the site check's 10 px
    assert 8 / 72 * plotting.DISPLAY_DPI > 10


def test_the_layouts_keep_the_default_text_above_10_px():
    pytest.importorskip("matplotlib")
    import matplotlib

    plotting.use_book_style()
    smallest = min(matplotlib.rcParams[k] for k in
                   ("xtick.labelsize", "ytick.labelsize", "legend.fontsize", "font.size"))
    assert smallest / 72 * plotting.DISPLAY_DPI >= 10
    for layout in plotting.LAYOUTS:
        width, _ = plotting.figsize(layout)
        assert width * plotting.DISPLAY_DPI <= 780   # shown at its size in the text column


def test_checks_and_tables_typeset_the_numbers_in_their_words():
    """A check's words and a table's headers and text cells read like its values: e-notation,
    carets, an x between numbers, sqrt and Z-hat typeset; hyphens in names stay."""
    from ebmlib.book.checks import state_claim
    from ebmlib.book.numbers import as_shown

    claim = state_claim("log Z-hat of the 784 x 20 RBM is within 1e-10 of sqrt(2^20): {e:.2f}",
                        True, {"e": -0.5}, "a")
    assert claim.text == "log Ẑ of the 784 × 20 RBM is within 10⁻¹⁰ of √(2²⁰): \u22120.50"
    shown = book.table([{"m": "GPL, 2x2 windows", "v": 1.0}], {"m": "CD-1 vs 8x8", "v": "log Z-hat"})
    assert shown.header == ["CD-1 vs 8×8", "log Ẑ"] and shown.cells[0][0] == "GPL, 2×2 windows"
    assert as_shown("3x wider, CD-10, 10-20, x_1") == "3× wider, CD-10, 10-20, x_1"
    assert as_shown("sigma = 0.1, beta1 = 0.9, $\\sigma = 0.1$, \\sqrt(2)") == \
        "σ = 0.1, beta1 = 0.9, $\\sigma = 0.1$, \\sqrt(2)"
