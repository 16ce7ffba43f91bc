r"""Following ``log Z`` while a model trains, cheaply, from chains that track the model.

Between two consecutive parameter vectors ``theta_t`` and ``theta_{t+1}``,

    log Z_{t+1} - log Z_t = log E_{x ~ p_t}[exp(E_t(x) - E_{t+1}(x))],

an importance-sampling estimate over samples of ``p_t``. Summing the increments from a
known starting value (for example the exact ``log Z`` of the initial model) follows
``log Z`` at the cost of two energy evaluations and a few kernel steps per update.

The samples must be *independent of the update*. The training chains of PCD are not: the
update has just raised the energy exactly where they are, so reusing them biases every
increment downwards, and the bias piles up. The tracker therefore keeps its own chains,
advanced under each new model. This is a simpler relative of the scheme of Desjardins,
Courville and Bengio (2011), which also uses tempered chains and bridge estimates.
"""

from __future__ import annotations

import copy

import torch

from .._validation import check_generator, check_positive_int
from ..models import EnergyModel
from ..samplers import Kernel, default_kernel, run_chain
from ..samplers.base import _check_kernel
from ..utils import log_mean_exp

__all__ = ["LogZTracker"]


class LogZTracker:
    """Accumulate ``log Z`` increments between successive versions of a model.

    Args:
        model: the model at the start; a frozen copy is kept to evaluate old energies.
        log_z: ``log Z`` of that starting model (exact, or estimated).
        chains: ``[chains, n]`` initial states of the tracker's own chains (ideally samples
            of the starting model).
        n_steps: kernel steps per update.
        kernel: the move (default Gibbs for binary models, MALA for continuous ones).
        generator: random generator on the chains' device.

    Call :meth:`update` after every parameter update; read ``log_z`` (and ``history``).
    """

    def __init__(
        self,
        model: EnergyModel,
        log_z: float,
        chains: torch.Tensor,
        n_steps: int = 1,
        *,
        kernel: Kernel | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        model.check_input(chains, "chains")
        self.n_steps = check_positive_int(n_steps, "n_steps")
        self.kernel = default_kernel(model) if kernel is None else kernel
        _check_kernel(self.kernel)
        check_generator(generator, chains.device)
        self.generator = generator
        self._old = copy.deepcopy(model).requires_grad_(False)
        self.chains = chains.detach().clone()
        self.log_z = float(log_z)
        self.history: list[float] = [self.log_z]

    def update(self, model: EnergyModel) -> float:
        """Add the increment from the previous model to ``model``; then move the chains under ``model``."""
        with torch.no_grad():
            gap = (self._old.energy(self.chains) - model.energy(self.chains)).double()
            self.log_z += log_mean_exp(gap, 0).item()
            for old, new in zip(self._old.parameters(), model.parameters()):
                old.copy_(new)
        self.chains = run_chain(self.kernel, model, self.chains, self.n_steps, generator=self.generator)
        self.history.append(self.log_z)
        return self.log_z
