"""Following ``log Z`` while a model trains, from the samples training already has.

Between two consecutive parameter vectors ``theta_t`` and ``theta_{t+1}``,

    log Z_{t+1} - log Z_t = log E_{x ~ p_t}[exp(E_t(x) - E_{t+1}(x))],

an importance-sampling estimate whose samples are the persistent chains of PCD, which
(approximately) follow ``p_t`` already. Summing the increments from a known starting value
(for example the exact ``log Z`` of the initial model) follows ``log Z`` at the cost of two
energy evaluations of the chains per update. This is a simpler relative of the scheme of
Desjardins et al. (2011): its errors accumulate, and it is only as good as the chains.
"""

from __future__ import annotations

import copy
import math

import torch

from ..models import EnergyModel

__all__ = ["LogZTracker"]


class LogZTracker:
    """Accumulate ``log Z`` increments between successive versions of a model.

    Args:
        model: the model at the start; a frozen copy is kept to evaluate old energies.
        log_z: ``log Z`` of that starting model (exact, or estimated).

    Call :meth:`update` after every parameter update with the current model and samples
    of the *previous* model (PCD chains qualify); read :attr:`log_z`.
    """

    def __init__(self, model: EnergyModel, log_z: float) -> None:
        self._old = copy.deepcopy(model).requires_grad_(False)
        self.log_z = float(log_z)
        self.history: list[float] = [self.log_z]

    def update(self, model: EnergyModel, samples: torch.Tensor) -> float:
        """Add the increment from the previous model to ``model``, estimated on ``samples``."""
        model.check_input(samples, "samples")
        with torch.no_grad():
            gap = (self._old.energy(samples) - model.energy(samples)).double()
            self.log_z += (torch.logsumexp(gap, 0) - math.log(len(gap))).item()
            for old, new in zip(self._old.parameters(), model.parameters()):
                old.copy_(new)
        self.history.append(self.log_z)
        return self.log_z
