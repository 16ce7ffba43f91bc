"""The book's figures: one style, fixed sizes per layout, one colour per method.

* :func:`use_book_style` (applied by ``ebmlib.book.setup``): fonts, colours, grid, and figures
  shown as PNG at twice their display resolution, with their display size and their smallest
  font size written into the file, so that the site check can tell how large their text is.
* :func:`subplots` / :func:`figsize`: a figure for one of the book's layouts (``"single"``,
  ``"wide"``, ``"two"``, ``"three"``, ``"four"``, ``"square"``, ``"grid"``). At these sizes
  and the style's fonts, text is at least 12 px as displayed in the book's ~780 px column.
* :func:`method_style`: the one colour, marker and line style of each method, book-wide
  (Paul Tol's colour-blind-safe "muted" palette; black is the exact reference).
* :func:`label_panels`: (a), (b), ... in the corner of each panel (the caption says the rest).
* :func:`image_grid`, :func:`density_2d`: the two pictures several chapters draw.

matplotlib is imported lazily (it comes with ``ebmlib[book]``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "use_book_style",
    "figsize",
    "subplots",
    "label_panels",
    "method_style",
    "METHODS",
    "LINEUPS",
    "PALETTE",
    "render_png",
    "BookFigure",
    "image_grid",
    "density_2d",
    "DISPLAY_DPI",
    "COLUMN_WIDTH",
]

# A figure is shown at DISPLAY_DPI pixels per inch (its PNG has twice as many), so a figure
# COLUMN_WIDTH inches wide fills the 760 px of the book's text column at a 1440 px window.
DISPLAY_DPI = 100
COLUMN_WIDTH = 7.6
MIN_FONT_PT = 7.2  # 10 px at DISPLAY_DPI: the smallest text the site check accepts

LAYOUTS: dict[str, tuple[float, float, int]] = {
    # name: (width, height per row, panels per row)
    "single": (5.4, 3.4, 1),
    "wide": (COLUMN_WIDTH, 3.3, 1),
    "two": (COLUMN_WIDTH, 3.2, 2),
    "three": (COLUMN_WIDTH, 2.7, 3),
    "four": (COLUMN_WIDTH, 2.2, 4),
    "square": (4.0, 3.8, 1),
    "grid": (COLUMN_WIDTH, 2.9, 2),
}

# Paul Tol's "muted" scheme (https://personal.sron.nl/~pault/), designed to stay distinct for
# colour-blind readers, and black for the exact reference.
PALETTE: dict[str, str] = {
    "indigo": "#332288",
    "cyan": "#88CCEE",
    "teal": "#44AA99",
    "green": "#117733",
    "olive": "#999933",
    "sand": "#DDCC77",
    "rose": "#CC6677",
    "wine": "#882255",
    "purple": "#AA4499",
    "black": "#000000",
    "grey": "#777777",
}


@dataclass(frozen=True)
class Style:
    """How one method is drawn: ``ax.plot(x, y, **method_style("CD-1"))``."""

    name: str
    color: str
    marker: str
    linestyle: str = "-"

    def kwargs(self, label: bool = True) -> dict:
        out = {"color": self.color, "marker": self.marker, "linestyle": self.linestyle}
        if label:
            out["label"] = self.name
        return out


def _s(name, colour, marker, linestyle="-"):
    return Style(name, PALETTE[colour], marker, linestyle)


# Every method a chapter draws, with its one style; the aliases below map other spellings.
METHODS: dict[str, Style] = {
    s.name: s
    for s in [
        # learning binary models (chapters 2-4, 6, 10)
        _s("naive MCMC", "olive", "x"),
        _s("CD-1", "rose", "o"),
        _s("CD-k", "wine", "s"),
        _s("PCD", "indigo", "^"),
        _s("PCD centered", "indigo", "^", "--"),
        _s("fast PCD", "cyan", "v"),
        _s("PT", "purple", "D"),
        _s("PL", "green", "P"),
        _s("generalized PL", "cyan", "p", "--"),
        _s("random conditional", "olive", "X"),
        _s("ratio matching", "sand", "h"),
        _s("NCE", "teal", "*"),
        # continuous models (chapters 5, 6, 9, 10)
        _s("score matching", "wine", "d"),
        _s("sliced SM", "rose", "<"),
        _s("denoising SM", "purple", ">"),
        _s("flow contrastive", "green", "H"),
        _s("adversarial bound", "olive", "8"),
        _s("Langevin ML", "indigo", "o"),
        _s("Langevin ML (short-run)", "cyan", "o"),
        _s("Langevin ML (persistent)", "sand", "o"),
        # NCE's relatives and self-normalization (chapters 6, 7)
        _s("negative sampling", "wine", "X"),
        _s("sampled softmax", "indigo", "d"),
        _s("self-contrastive", "purple", "*"),
        _s("self-normalized", "rose", "s"),
        _s("full softmax", "indigo", "s", "--"),
        # samplers (chapters 2, 3, 9)
        _s("Gibbs", "indigo", "s"),
        _s("MH", "rose", "^"),
        _s("MALA", "teal", "D"),
        _s("ULA", "sand", "v"),
        _s("HMC", "olive", "P"),
        # estimators of log Z (chapter 8)
        _s("AIS", "indigo", "D"),
        _s("reverse AIS", "cyan", "D"),
        _s("bridge", "green", "s"),
        _s("LIS", "purple", "h"),
        _s("importance sampling", "rose", "v"),
        _s("AIS tracker", "olive", "D"),
        # the references
        _s("exact ML", "black", "None"),
        _s("exact", "black", "None", "--"),
    ]
}

_ALIASES = {
    "naive": "naive MCMC",
    "naivealgorithm": "naive MCMC",
    "cd": "CD-k",
    "sml": "PCD",
    "pcd1": "PCD",
    "pcdk": "PCD",
    "persistentcd": "PCD",
    "pcdcentered": "PCD centered",
    "pcd1centered": "PCD centered",
    "centeredpcd": "PCD centered",
    "fastpcd1": "fast PCD",
    "fpcd": "fast PCD",
    "ptpcd": "PT",
    "paralleltempering": "PT",
    "pseudolikelihood": "PL",
    "generalizedpseudolikelihood": "generalized PL",
    "gpl": "generalized PL",
    "randomconditionalpl": "random conditional",
    "rm": "ratio matching",
    "sm": "score matching",
    "exactsm": "score matching",
    "exactscorematching": "score matching",
    "ssm": "sliced SM",
    "slicedscorematching": "sliced SM",
    "dsm": "denoising SM",
    "denoisingscorematching": "denoising SM",
    "noisecontrastiveestimation": "NCE",
    "fce": "flow contrastive",
    "flowcontrastiveestimation": "flow contrastive",
    "adversarial": "adversarial bound",
    "langevinmlbuffer": "Langevin ML",
    "langevinmlreplaybuffer": "Langevin ML",
    "langevinmaximumlikelihood": "Langevin ML",
    "shortrun": "Langevin ML (short-run)",
    "langevinmlshortrun": "Langevin ML (short-run)",
    "langevinmlpersistent": "Langevin ML (persistent)",
    "importancesampledsoftmax": "sampled softmax",
    "sce": "self-contrastive",
    "selfcontrastiveestimation": "self-contrastive",
    "selfnormalization": "self-normalized",
    "softmax": "full softmax",
    "normalized": "full softmax",
    "gibbssampling": "Gibbs",
    "metropolishastings": "MH",
    "metropolisadjustedlangevin": "MALA",
    "unadjustedlangevin": "ULA",
    "langevin": "ULA",
    "hamiltonianmontecarlo": "HMC",
    "annealedimportancesampling": "AIS",
    "forwardais": "AIS",
    "reverseannealedimportancesampling": "reverse AIS",
    "bridgesampling": "bridge",
    "linkedimportancesampling": "LIS",
    "is": "importance sampling",
    "tracker": "AIS tracker",
    "maximumlikelihood": "exact ML",
    "ml": "exact ML",
    "exactlikelihood": "exact ML",
    "exactmaximumlikelihood": "exact ML",
    "truth": "exact",
    "truedensity": "exact",
}

# Methods that share a figure somewhere in the book: within one line-up every colour differs
# (tests/test_book_toolkit.py checks it, and that the colours stay apart for colour-blind eyes).
LINEUPS: dict[str, list[str]] = {
    "binary (chapters 3, 10)": [
        "CD-1",
        "CD-k",
        "PCD",
        "fast PCD",
        "PT",
        "PL",
        "random conditional",
        "ratio matching",
        "NCE",
        "exact ML",
    ],
    "naive MCMC (chapters 2, 3)": ["naive MCMC", "CD-1", "CD-k", "PCD", "exact ML"],
    "pseudolikelihood (chapter 4)": [
        "PL",
        "generalized PL",
        "random conditional",
        "ratio matching",
        "CD-1",
        "PCD",
        "exact ML",
    ],
    "continuous (chapters 5, 9, 10)": [
        "score matching",
        "sliced SM",
        "denoising SM",
        "NCE",
        "flow contrastive",
        "adversarial bound",
        "Langevin ML",
        "ratio matching",
        "exact",
    ],
    "Langevin ML (chapter 9)": [
        "Langevin ML",
        "Langevin ML (short-run)",
        "Langevin ML (persistent)",
        "score matching",
        "NCE",
        "exact",
    ],
    "NCE family (chapters 6, 7)": [
        "NCE",
        "negative sampling",
        "sampled softmax",
        "self-contrastive",
        "flow contrastive",
        "self-normalized",
        "exact ML",
    ],
    "self-normalization (chapter 7)": ["full softmax", "self-normalized"],
    "samplers (chapters 2, 3)": ["Gibbs", "MH", "MALA", "ULA", "HMC", "PT", "exact"],
    "estimators (chapter 8)": ["AIS", "reverse AIS", "bridge", "LIS", "importance sampling", "AIS tracker", "exact"],
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {_key(n): n for n in METHODS} | _ALIASES


def method_style(name: str, *, label: str | None = None) -> dict:
    """The colour, marker and line style of method ``name``, as ``plot`` keyword arguments
    (with ``label=``: the method's book-wide name, or ``label``).

    Spellings are forgiving (``"CD-1"``, ``"cd1"``, ``"PCD-1"``, ``"SML"``, ``"denoising score
    matching"``); CD with any k > 1 (``"CD-10"``) is ``"CD-k"`` and PCD with any k is ``"PCD"``.

    >>> method_style("CD-1")["marker"]
    'o'
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a method name, got {name!r}")
    key = _key(name)
    canonical = _BY_KEY.get(key)
    if canonical is None:
        if re.fullmatch(r"cd\d+", key):
            canonical = "CD-1" if key == "cd1" else "CD-k"
        elif re.fullmatch(r"pcd\d+", key):
            canonical = "PCD"
    if canonical is None:
        raise KeyError(
            f"no book style for method {name!r}; known methods: {', '.join(METHODS)} "
            "(add a new one to ebmlib.plotting.METHODS)"
        )
    out = METHODS[canonical].kwargs()
    out["label"] = label if label is not None else name
    return out


# --------------------------------------------------------------------------- style and sizes


def figsize(layout: str = "single", rows: int = 1) -> tuple[float, float]:
    """(width, height) in inches of a figure with ``rows`` rows of the ``layout``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    if not isinstance(rows, int) or rows < 1:
        raise ValueError(f"rows must be a positive int, got {rows!r}")
    width, height, _ = LAYOUTS[layout]
    return width, height * rows


def subplots(layout: str = "single", rows: int = 1, **kwargs):
    """``plt.subplots`` at the layout's size: ``"two"`` gives two panels side by side,
    ``"three"`` three, ``"four"`` four, ``"grid"`` two per row; returns ``(fig, axes)``."""
    import matplotlib.pyplot as plt

    width, height = figsize(layout, rows)
    ncols = kwargs.pop("ncols", LAYOUTS[layout][2])
    return plt.subplots(rows, ncols, figsize=(width, height), **kwargs)


def label_panels(axes, labels: Sequence[str] | None = None) -> None:
    """Write (a), (b), ... at the top left of each panel (in ``axes`` order)."""
    import numpy as np

    flat = list(np.atleast_1d(axes).flat)
    labels = labels or [f"({chr(ord('a') + i)})" for i in range(len(flat))]
    for ax, text in zip(flat, labels):
        ax.set_title(text, loc="left", fontweight="bold", fontsize="medium")


def use_book_style() -> None:
    """Apply the book's matplotlib style and, inside IPython, show figures as 2x PNG whose
    display size and smallest font size are written into the file (see :func:`render_png`)."""
    import matplotlib as mpl
    from cycler import cycler

    muted = [PALETTE[c] for c in ("indigo", "rose", "teal", "olive", "cyan", "wine", "green", "purple", "sand")]
    mpl.rcParams.update(
        {
            "figure.figsize": figsize("single"),
            "figure.dpi": DISPLAY_DPI,
            "savefig.dpi": 2 * DISPLAY_DPI,
            "figure.facecolor": "white",
            "savefig.facecolor": "white",
            "figure.constrained_layout.use": True,
            "font.size": 10,
            "axes.titlesize": 10,
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.title_fontsize": 9,
            "figure.titlesize": 10,
            "axes.prop_cycle": cycler(color=muted),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.formatter.use_mathtext": True,
            "axes.unicode_minus": True,
            "legend.frameon": False,
            "lines.linewidth": 1.6,
            "lines.markersize": 5,
            "image.cmap": "viridis",
        }
    )
    _register_png_formatter()


def _register_png_formatter() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - plain Python
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    try:  # the inline backend registers its own formatter when it starts: start it first
        import matplotlib_inline.backend_inline  # noqa: F401
    except ImportError:  # pragma: no cover
        pass
    from matplotlib.figure import Figure

    formatters = shell.display_formatter.formatters
    for mime in ("image/svg+xml", "application/pdf", "image/jpeg", "text/html"):
        formatters[mime].type_printers.pop(Figure, None)
    formatters["image/png"].for_type(Figure, lambda fig: render_png(fig))


# --------------------------------------------------------------------------- the PNG


def render_png(fig) -> tuple[bytes, dict]:
    """``fig`` as a PNG at ``2 * DISPLAY_DPI`` and its display metadata.

    The PNG carries its dpi (pHYs) and, as text chunks, ``ebmlib:min-font-pt`` (the smallest
    font size of any text drawn, in points; "none" without text) and ``ebmlib:display-dpi``.
    The metadata ``{"width", "height"}`` (pixels, half the PNG's) makes Jupyter and the book
    show it at its display size. Returns ``(png_bytes, metadata)``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    sizes: list[float] = []
    original = RendererAgg.draw_text

    def recording(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if str(s).strip():
            sizes.append(prop.get_size_in_points())
        return original(self, gc, x, y, s, prop, angle, ismath, mtext)

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    setattr(RendererAgg, "draw_text", recording)  # noqa: B010 (mypy: no assigning to a method)
    try:
        canvas.draw()
    finally:
        setattr(RendererAgg, "draw_text", original)  # noqa: B010
    smallest = f"{min(sizes):.2f}" if sizes else "none"
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        dpi=2 * DISPLAY_DPI,
        bbox_inches="tight",
        pad_inches=0.04,
        facecolor="white",
        metadata={"ebmlib:min-font-pt": smallest, "ebmlib:display-dpi": str(DISPLAY_DPI)},
    )
    data = buffer.getvalue()
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    return data, {"width": width // 2, "height": height // 2}


class BookFigure:
    """A matplotlib figure shown (or glued) as :func:`render_png` renders it."""

    def __init__(self, fig) -> None:
        self.fig = fig

    def _repr_png_(self):
        return render_png(self.fig)

    def __repr__(self) -> str:
        w, h = self.fig.get_size_inches()
        return f"<figure {w:.1f} x {h:.1f} in>"


# --------------------------------------------------------------------------- pictures


def image_grid(
    images: torch.Tensor,
    image_shape: Sequence[int],
    n_cols: int = 10,
    ax=None,
    title: str | None = None,
):
    """Show rows of ``images`` (``[n, h*w]``) as a grid of ``h x w`` pictures; returns the axes.

    ``title`` labels the panel (a method's name in a grid of panels), not the figure."""
    import matplotlib.pyplot as plt

    h, w = image_shape
    images = images.detach().cpu().float().reshape(-1, h, w)
    n = images.shape[0]
    n_cols = min(n_cols, n)
    n_rows = -(-n // n_cols)
    canvas = torch.ones(n_rows * (h + 1) + 1, n_cols * (w + 1) + 1) * 0.5
    for k in range(n):
        r, c = divmod(k, n_cols)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = images[k]
    if ax is None:
        _, ax = plt.subplots(figsize=(min(COLUMN_WIDTH, 0.6 * n_cols + 0.4), 0.6 * n_rows + 0.4))
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)
    return ax


def density_2d(
    log_density: Callable[[torch.Tensor], torch.Tensor],
    bounds: tuple[float, float] = (-6.0, 6.0),
    n_grid: int = 200,
    ax=None,
    title: str | None = None,
    *,
    device: torch.device | str | None = None,
):
    """Plot ``exp(log_density)`` of a 2-D function on a square grid; returns the axes.

    ``log_density`` maps ``[m, 2]`` points to ``[m]`` values (unnormalized is fine: the
    picture is scaled to its maximum). ``title`` labels the panel. The grid is built on
    ``device``; by default on the device and in the dtype of the module's parameters when
    ``log_density`` is a module's method (``model.log_prob``), else on the CPU in float32.
    """
    import matplotlib.pyplot as plt

    owner = getattr(log_density, "__self__", log_density)
    first = next(owner.parameters(), None) if isinstance(owner, torch.nn.Module) else None
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    if device is None:
        device = first.device if first is not None else "cpu"
    lo, hi = bounds
    axis = torch.linspace(lo, hi, n_grid, dtype=dtype, device=device)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)
    with torch.no_grad():
        values = log_density(points).reshape(n_grid, n_grid).double().cpu()
    values = torch.exp(values - values.max())
    if ax is None:
        _, ax = plt.subplots(figsize=figsize("square"))
    ax.imshow(values.numpy(), origin="lower", extent=(lo, hi, lo, hi), cmap="viridis")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax
