"""Figure helpers the chapters share (matplotlib is imported lazily)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["use_book_style", "image_grid", "density_2d"]


def use_book_style() -> None:
    """Readable defaults for the book's figures: larger fonts, light grid, no top/right spines."""
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 110,
            "figure.constrained_layout.use": True,
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
        }
    )


def image_grid(
    images: torch.Tensor,
    image_shape: Sequence[int],
    n_cols: int = 10,
    ax=None,
    title: str | None = None,
):
    """Show rows of ``images`` (``[n, h*w]``) as a grid of ``h x w`` pictures; returns the axes."""
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
        _, ax = plt.subplots(figsize=(0.6 * n_cols + 0.4, 0.6 * n_rows + 0.4))
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax


def density_2d(
    log_density: Callable[[torch.Tensor], torch.Tensor],
    bounds: tuple[float, float] = (-6.0, 6.0),
    n_grid: int = 200,
    ax=None,
    title: str | None = None,
):
    """Plot ``exp(log_density)`` of a 2-D function on a square grid; returns the axes.

    ``log_density`` maps ``[m, 2]`` points to ``[m]`` values (unnormalized is fine: the
    picture is scaled to its maximum).
    """
    import matplotlib.pyplot as plt

    lo, hi = bounds
    axis = torch.linspace(lo, hi, n_grid)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    points = torch.stack([xx.reshape(-1), yy.reshape(-1)], -1)
    with torch.no_grad():
        values = log_density(points).reshape(n_grid, n_grid).double()
    values = torch.exp(values - values.max())
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(values.numpy(), origin="lower", extent=(lo, hi, lo, hi), cmap="viridis")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax
