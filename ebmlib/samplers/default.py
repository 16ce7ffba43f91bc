"""The kernel ebmlib runs when none is given."""

from __future__ import annotations

from .base import Kernel
from .gibbs import Gibbs
from .langevin import Langevin

__all__ = ["default_kernel"]


def default_kernel(model) -> Kernel:
    r"""The kernel ebmlib uses when none is given: Gibbs for binary models, MALA otherwise.

    MALA (Metropolis-adjusted Langevin, step size 0.1) keeps the model exactly invariant,
    which estimators of :math:`\log Z` need; pass your own kernel to tune the step.
    """
    return Gibbs() if getattr(model, "is_binary", False) else Langevin(0.1, adjusted=True)
