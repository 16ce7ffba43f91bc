"""Following ``log Z`` while a model trains, cheaply, from chains that track the model.

Between two consecutive parameter vectors ``theta_t`` and ``theta_{t+1}``,

    log Z_{t+1} - log Z_t = log E_{x ~ p_t}[exp(E_t(x) - E_{t+1}(x))],

an importance-sampling estimate over samples of ``p_t``. Summing the increments from a
known starting value (for example the exact ``log Z`` of the initial model) follows
``log Z`` at the cost of two energy evaluations and ``k`` sampler steps per update.

The samples must be *independent of the update*. The training chains of PCD are not: the
update has just raised the energy exactly where they are, so reusing them biases every
increment downwards, and the bias piles up. The tracker therefore keeps its own chains,
advanced under each new model. This is a simpler relative of the scheme of Desjardins,
Courville and Bengio (2011), which also uses tempered chains and bridge estimates.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch

from .._validation import check_positive_int
from ..models import EnergyModel
from ..samplers import gibbs

__all__ = ["LogZTracker"]


class LogZTracker:
    """Accumulate ``log Z`` increments between successive versions of a model.

    Args:
        model: the model at the start; a frozen copy is kept to evaluate old energies.
        log_z: ``log Z`` of that starting model (exact, or estimated).
        chains: ``[chains, n]`` initial states of the tracker's own chains (ideally samples
            of the starting model).
        k: sampler steps per update.
        sampler: ``sampler(model, x, n_steps) -> x``, default Gibbs.

    Call :meth:`update` after every parameter update; read ``log_z`` (and ``history``).
    """

    def __init__(
        self,
        model: EnergyModel,
        log_z: float,
        chains: torch.Tensor,
        k: int = 1,
        sampler: Callable[..., torch.Tensor] = gibbs,
    ) -> None:
        model.check_input(chains, "chains")
        self.k = check_positive_int(k, "k")
        self.sampler = sampler
        self._old = copy.deepcopy(model).requires_grad_(False)
        self.chains = chains.detach().clone()
        self.log_z = float(log_z)
        self.history: list[float] = [self.log_z]

    def update(self, model: EnergyModel) -> float:
        """Add the increment from the previous model to ``model``; then move the chains under ``model``."""
        with torch.no_grad():
            gap = (self._old.energy(self.chains) - model.energy(self.chains)).double()
            self.log_z += (torch.logsumexp(gap, 0) - math.log(len(gap))).item()
            for old, new in zip(self._old.parameters(), model.parameters()):
                old.copy_(new)
            self.chains = self.sampler(model, self.chains, self.k)
        self.history.append(self.log_z)
        return self.log_z
