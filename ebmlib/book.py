"""One set-up call for a chapter (or any notebook), and one way to publish its numbers.

Every chapter of the book starts with::

    ch = ebmlib.book.setup(SEED, DEVICE)

which picks the device, seeds the global random states (for code outside ebmlib), applies
the book's figure style and returns a :class:`Chapter`. ``ch.rng("name")`` gives each
experiment its own reproducible random stream, and ``ch.glue(name=value, ...)`` hands numbers
and figures to the text (myst-nb's ``glue``), so that no number in the prose is typed by hand.
"""

from __future__ import annotations

import torch

from ._version import __version__
from .plotting import use_book_style
from .utils import get_device, make_generator, seed_everything

__all__ = ["Chapter", "setup"]


class Chapter:
    """A chapter's seed and device, its random streams, and its glue.

    Args:
        seed: the chapter's ``SEED``; every stream derives from it.
        device: a resolved ``torch.device``.
    """

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed = seed
        self.device = device
        self.glued: dict[str, object] = {}

    def rng(self, *keys: object, device: str | torch.device | None = None) -> torch.Generator:
        """A generator for the stream named by ``keys``, on ``device`` (default the chapter's).

        The same keys give the same stream in every run with the same ``SEED``; different
        keys give unrelated streams, so experiments do not depend on each other's draws.
        """
        return make_generator(self.seed, *keys, device=self.device if device is None else device)

    def glue(self, **values: object) -> None:
        """Glue each value under its name for ``{glue:text}`` / ``{glue:figure}`` (not displayed here).

        Numbers and strings are glued as they are (format them first); a matplotlib figure is
        glued for a ``{glue:figure}`` block, which carries its caption, and then closed so the
        code cell does not show it a second time. Outside Jupyter Book (plain Python) the
        values are only recorded in ``glued``.
        """
        for name, value in values.items():
            self.glued[name] = value
            try:
                from myst_nb import glue
            except ImportError:  # pragma: no cover - ebmlib[book] brings myst-nb
                continue
            glue(name, value, display=False)
            if type(value).__module__.startswith("matplotlib.figure"):
                import matplotlib.pyplot as plt

                plt.close(value)  # type: ignore[arg-type]


def setup(seed: int, device: str | torch.device = "auto", *, style: bool = True, quiet: bool = False) -> Chapter:
    """Prepare a chapter: resolve ``device``, seed the global states, apply the figure style.

    Args:
        seed: the chapter's ``SEED`` (a non-negative int).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` ...
        style: apply :func:`ebmlib.plotting.use_book_style`.
        quiet: do not print the versions line.

    Returns:
        A :class:`Chapter`.
    """
    seed_everything(seed)
    resolved = get_device(device)
    if style:
        use_book_style()
    if not quiet:
        print(f"ebmlib {__version__}, torch {torch.__version__}, device {resolved}, seed {seed}")
    return Chapter(seed, resolved)
