"""Markov chain samplers: kernels with states, run over many chains at once.

Every sampler is a *kernel* (see :class:`Kernel`): ``init(model, x) -> State`` and
``step(model, state, *, generator, **params) -> (State, Info)``, with ``NamedTuple`` states that
carry what the next step reuses; kernels hold no mutable state of their own.

* :class:`Gibbs`: each model's own Gibbs sweep (block Gibbs for RBMs, a compiled systematic
  scan for Boltzmann machines);
* :class:`MetropolisHastings`: random-walk Metropolis-Hastings (binary or continuous);
* :class:`Langevin`: unadjusted or Metropolis-adjusted Langevin dynamics (continuous);
* :class:`HMC`: Hamiltonian Monte Carlo, leapfrog steps with a Metropolis correction (continuous);
* :class:`ParallelTempering`: any kernel on a ladder of temperatures, with swap moves.

:func:`adapt_step_size` warms up a kernel with a ``step_size`` (MALA, HMC) while dual averaging
tunes the step to a target acceptance rate (Hoffman and Gelman 2014).

:func:`run_chain` runs any kernel and records traces, and returns a :class:`Chain` (final
states ``.x``, final kernel state, traces); :func:`gibbs`, :func:`metropolis_hastings`,
:func:`langevin` and :func:`hmc` are its shortcuts and return the same. :func:`parallel_tempering`
runs the tempering kernel and returns a :class:`TemperingResult`.
"""

from .adaptation import Adapted, DualAveraging, DualAveragingState, adapt_step_size
from .base import Chain, Kernel, run_chain
from .default import default_kernel
from .gibbs import Gibbs, GibbsInfo, GibbsState, gibbs
from .hmc import HMC, HMCInfo, HMCState, hmc, leapfrog
from .langevin import Langevin, LangevinInfo, LangevinState, langevin
from .metropolis import MetropolisHastings, MHInfo, MHState, metropolis_hastings
from .tempering import ParallelTempering, TemperingInfo, TemperingResult, TemperingState, parallel_tempering

__all__ = [
    "Kernel",
    "Chain",
    "run_chain",
    "default_kernel",
    "Gibbs",
    "GibbsState",
    "GibbsInfo",
    "gibbs",
    "MetropolisHastings",
    "MHState",
    "MHInfo",
    "metropolis_hastings",
    "Langevin",
    "LangevinState",
    "LangevinInfo",
    "langevin",
    "ParallelTempering",
    "TemperingState",
    "TemperingInfo",
    "TemperingResult",
    "parallel_tempering",
    "HMC",
    "HMCState",
    "HMCInfo",
    "hmc",
    "leapfrog",
    "DualAveraging",
    "DualAveragingState",
    "Adapted",
    "adapt_step_size",
]
