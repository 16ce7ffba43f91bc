r"""Following :math:`\log Z` while a model trains, cheaply, from chains that track the model.

Between two consecutive parameter vectors :math:`\theta_t` and :math:`\theta_{t+1}`,

.. math::

    \frac{Z_{t+1}}{Z_t} = \mathbb{E}_{x \sim p_t}\left[e^{E_t(x) - E_{t+1}(x)}\right],

an importance-sampling ratio over samples of :math:`p_t`. The training run is then an annealing
path, from the initial model to the current one, and the tracker is AIS along it
(sequential Monte Carlo): each chain carries a log weight, which every update raises by
:math:`E_t(x) - E_{t+1}(x)` before the chain is moved by a kernel that leaves :math:`p_{t+1}`
invariant, and

.. math::

    \log Z_t = \log Z_\text{base} + \log \operatorname{mean}_i e^{\log w_i}.

Chains that lag behind the model are not a bias here, only weight variance: an equal-weight
average of the increments over lagging chains would drift (the chains sit where the old
model put mass, and the new one has moved it). When the weights' effective sample size falls
below ``resample_ess`` times the number of chains, the chains are resampled in proportion
to their weights and the weights reset, the estimate carried into :math:`\log Z_\text{base}`.

The chains must be *independent of the update*. The training chains of PCD are not: the
update has just raised the energy exactly where they are, so increments computed on them are
biased downwards, and the bias piles up. The tracker therefore keeps its own chains. This is
a simpler relative of the scheme of Desjardins, Courville and Bengio (2011), which also uses
tempered chains and bridge estimates.
"""

from __future__ import annotations

import copy

import torch

from .._validation import check_generator, check_kernel, check_positive_int
from ..models import EnergyModel
from ..samplers import Kernel, default_kernel, run_chain
from ..utils import log_mean_exp
from .result import effective_sample_size

__all__ = ["LogZTracker"]


class LogZTracker:
    r"""Accumulate :math:`\log Z` along a training run by annealed importance sampling.

    Args:
        model: the model at the start; a frozen copy is kept to evaluate old energies.
        log_z: :math:`\log Z` of that starting model (exact, or estimated).
        chains: ``[chains, n]`` initial states of the tracker's own chains (samples of the
            starting model; exact ones where they can be had).
        n_steps: kernel steps per update.
        kernel: the move (default Gibbs for binary models, MALA for continuous ones).
        generator: random generator on the chains' device.
        resample_ess: resample the chains when the effective sample size of their weights
            falls below this fraction of their number (``0`` never resamples, ``1`` resamples
            after every update).

    Call :meth:`update` after every parameter update; read ``log_z`` (a 0-d float64 tensor) and
    ``history`` (the estimates as floats, one per update and one for the start).
    Assigning new ``chains`` folds the current estimate into the base and gives the new
    chains equal weights.
    """

    def __init__(
        self,
        model: EnergyModel,
        log_z: float | torch.Tensor,
        chains: torch.Tensor,
        n_steps: int = 1,
        *,
        kernel: Kernel | None = None,
        generator: torch.Generator | None = None,
        resample_ess: float = 0.5,
    ) -> None:
        model.check_input(chains, "chains")
        if len(chains) < 2:
            raise ValueError(f"chains must hold at least 2 states, got {len(chains)}")
        self.n_steps = check_positive_int(n_steps, "n_steps")
        if not isinstance(resample_ess, (int, float)) or not 0 <= resample_ess <= 1:
            raise ValueError(f"resample_ess must be a number in [0, 1], got {resample_ess!r}")
        self.resample_ess = float(resample_ess)
        self.kernel = default_kernel(model) if kernel is None else kernel
        check_kernel(self.kernel)
        check_generator(generator, chains.device)
        self.generator = generator
        self._old = copy.deepcopy(model).requires_grad_(False)
        self._base = torch.as_tensor(float(log_z), dtype=torch.float64, device=chains.device)
        self.chains = chains
        self.history: list[float] = [float(self.log_z)]

    @property
    def chains(self) -> torch.Tensor:
        """``[chains, n]`` the tracker's current states."""
        return self._chains

    @chains.setter
    def chains(self, states: torch.Tensor) -> None:
        if hasattr(self, "_log_w"):
            self._base = self.log_z
        self._chains = states.detach().clone()
        self._log_w = torch.zeros(len(states), dtype=torch.float64, device=states.device)

    @property
    def log_z(self) -> torch.Tensor:
        r"""The current estimate of :math:`\log Z`, a 0-d float64 tensor (the type of
        :attr:`~ebmlib.estimators.Estimate.log_z`)."""
        return self._base + log_mean_exp(self._log_w, 0)

    @property
    def ess(self) -> float:
        """Effective sample size of the chains' current weights."""
        return effective_sample_size(self._log_w)

    def update(self, model: EnergyModel) -> torch.Tensor:
        r"""Weight the chains by :math:`\tilde p_\text{new} / \tilde p_\text{old}`, resample if needed, move them
        under ``model``.

        Returns the new estimate of :math:`\log Z` (a 0-d float64 tensor)."""
        with torch.no_grad():
            self._log_w += (self._old.energy(self._chains) - model.energy(self._chains)).double()
            for old, new in zip(self._old.parameters(), model.parameters()):
                old.copy_(new)
            log_z = self.log_z
            n = len(self._chains)
            if self.ess < self.resample_ess * n or (self.resample_ess == 1.0):
                probs = torch.softmax(self._log_w, 0)
                idx = torch.multinomial(probs, n, replacement=True, generator=self.generator)
                self._chains = self._chains[idx]
                self._base, self._log_w = log_z, torch.zeros_like(self._log_w)
        self._chains = run_chain(self.kernel, model, self._chains, self.n_steps, generator=self.generator).x
        self.history.append(float(log_z))
        return log_z
