"""A chapter's set-up, its random streams, its glue and its checks."""

from __future__ import annotations

import math
import numbers

import torch

from .._version import __version__
from ..plotting import BookFigure, use_book_style
from ..utils import get_device, make_generator, seed_everything
from .checks import Claim, ClaimFailed, failure_message, state_claim
from .numbers import Typeset, as_shown
from .tables import Table, table

__all__ = ["Chapter", "setup"]


def _display(obj: object) -> None:
    """Show ``obj`` under the running cell (IPython), or print its text (plain Python)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - ebmlib[book] brings IPython through myst-nb
        print(repr(obj))
        return
    if get_ipython() is None:
        print(repr(obj))
    else:
        display(obj)


def _is_figure(value: object) -> bool:
    return type(value).__module__.startswith("matplotlib.figure")


class Chapter:
    """A chapter's seed and device, its random streams, its glue and its checked claims.

    Args:
        seed: the chapter's ``SEED``; every stream derives from it.
        device: a resolved ``torch.device``.

    Attributes:
        glued: every value glued so far, by name.
        claims: every :class:`~ebmlib.book.checks.Claim` checked so far, in order.
    """

    table = staticmethod(table)

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed = seed
        self.device = device
        self.glued: dict[str, object] = {}
        self.claims: list[Claim] = []
        self._glued_by: dict[str, tuple[Typeset, str]] = {}  # name -> (value, claim) of a check

    def rng(self, *keys: object, device: str | torch.device | None = None) -> torch.Generator:
        """A generator for the stream named by ``keys``, on ``device`` (default the chapter's).

        The same keys give the same stream in every run with the same ``SEED``; different
        keys give unrelated streams, so experiments do not depend on each other's draws.
        """
        return make_generator(self.seed, *keys, device=self.device if device is None else device)

    def glue(self, **values: object) -> None:
        """Glue each value under its name for the text (not displayed here).

        * a string or an int: ``{glue:text}`name```; a string's numbers get a real minus sign
          and a number formatted by Python is typeset (``f"{x:.1e}"`` shows as ``8.9 × 10⁻¹⁶``;
          :func:`~ebmlib.book.as_shown`), so f-strings read like ``book.number``;
        * a :class:`~ebmlib.book.Typeset` number (``book.number(x, ".1e")``, ``book.power(2, 784)``):
          ``{glue}`name``` typesets it as maths, ``{glue:text}`name``` gives its text;
        * a :class:`~ebmlib.book.Table` (``book.table(...)``): a ``{glue-table}`` block;
        * a matplotlib figure: a ``{glue:figure}`` block, which carries the caption; the figure
          is rendered in the book style (:func:`ebmlib.plotting.render_png`) and closed.

        NaN, inf and None are refused. Format a float before gluing it (``book.number(x, ".3f")``:
        a raw float shows all its digits) and make a DataFrame a table (``book.table(frame)``:
        formats, units, no NaN); both are still accepted as they are, for the chapters that do
        not use the helpers yet. Outside Jupyter the values are only recorded in ``glued``.
        """
        for name, value in values.items():
            if not name.isidentifier():
                raise ValueError(f"glue name {name!r} must be a Python identifier")
            if value is None:
                raise ValueError(f"{name} is None: glue only values the text can show")
            plain = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
            if isinstance(plain, numbers.Real) and not isinstance(plain, bool) and not math.isfinite(plain):
                raise ValueError(f"{name} is {plain}: NaN and inf are never shown")
            if isinstance(value, str) and value.strip().lower() in {"nan", "inf", "-inf", "none"}:
                raise ValueError(f"{name} is the string {value!r}: NaN, inf and None are never shown")
            self.glued[name] = value
            shown = BookFigure(value) if _is_figure(value) else value
            if isinstance(value, str):
                shown = as_shown(value)  # a real minus sign, as number() and the checks give
            try:
                from myst_nb import glue
            except ImportError:  # pragma: no cover - ebmlib[book] brings myst-nb
                continue
            glue(name, shown, display=False)
            if _is_figure(value):
                import matplotlib.pyplot as plt

                plt.close(value)  # type: ignore[arg-type]

    def check(self, claim: str, passed: object, **values: object) -> None:
        """State a claim, show it checked, and publish its values to the text.

        Args:
            claim: the claim as a sentence, naming each value as a format field:
                ``"AIS lands within {tol} nats of the exact log Z: it is off by {err:.3f}"``.
            passed: whether the claim holds (a bool or a one-element bool tensor), computed
                with a tolerance that would catch it being false.
            **values: the values the claim names (numbers, one-element tensors, strings or
                :class:`~ebmlib.book.Typeset`); each is glued under its name, formatted as in
                the claim, so that ``{glue:text}`err``` in the prose shows what the check shows.

        Shows a line "✓ <claim>" under the cell (the claims page of the book collects them).
        If ``passed`` is false it shows "✗ <claim>" and raises :class:`ClaimFailed` (an
        ``AssertionError``), which stops the book's build.

        Returns nothing (so a check at the end of a cell prints nothing more).
        """
        anchor = f"ebm-check-{len(self.claims) + 1}"
        stated = state_claim(claim, passed, values, anchor)
        for name, value in stated.values.items():
            earlier = self._glued_by.get(name)
            if earlier is not None and earlier[0] != value:
                raise ValueError(
                    f"{name} = {value.text} here, but the claim {earlier[1]!r} glued "
                    f"{name} = {earlier[0].text}; give each claim's values their own names "
                    "(in a loop: check the worst case once, after the loop)"
                )
        _display(stated)
        self.claims.append(stated)
        if not stated.passed:
            raise ClaimFailed(failure_message(stated))
        for name, value in stated.values.items():
            if name in self._glued_by:  # an earlier claim glued the same value (checked above)
                continue
            self._glued_by[name] = (value, claim)
            self.glue(**{name: value})


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


__all__ += ["ClaimFailed", "Table", "Typeset"]
