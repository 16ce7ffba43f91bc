"""Markov chain samplers, each a kernel (state in, state out) run over many chains at once.

* :func:`gibbs`: systematic-scan Gibbs (Boltzmann machines), block Gibbs (RBMs).
* :func:`metropolis_hastings`: random-walk Metropolis-Hastings (binary or continuous).
* :func:`langevin`: unadjusted or Metropolis-adjusted Langevin dynamics (continuous).
* :func:`parallel_tempering`: replicas at a ladder of temperatures with swap moves.

The single-step kernels (:func:`gibbs_step`, :func:`mh_step`, :func:`langevin_step`)
are public so that persistence, tempering and annealing can be composed around them.
"""

from .gibbs import gibbs, gibbs_step
from .langevin import langevin, langevin_step
from .metropolis import metropolis_hastings, mh_step
from .tempering import TemperingResult, check_temperatures, parallel_tempering

__all__ = [
    "gibbs", "gibbs_step", "metropolis_hastings", "mh_step", "langevin", "langevin_step",
    "parallel_tempering", "TemperingResult", "check_temperatures",
]
