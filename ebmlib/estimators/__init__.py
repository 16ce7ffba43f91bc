"""Estimators of the partition function, all returning an :class:`Estimate`.

* :func:`importance_sampling`: simple importance sampling from a proposal.
* :func:`ais`: annealed importance sampling (stochastic lower bound on ``log Z``).
* :func:`reverse_ais`: AIS run backwards from samples (stochastic upper bound), which with
  :func:`ais` brackets ``log Z`` (the bidirectional sandwich).
"""

from .annealing import ais, base_rate_bias, check_schedule, piecewise_schedule, reverse_ais
from .bridge import bridge_sampling
from .importance import importance_sampling
from .linked import linked_importance_sampling
from .result import Estimate, from_log_weights
from .tracking import LogZTracker

__all__ = ["Estimate", "from_log_weights", "importance_sampling", "ais", "reverse_ais", "bridge_sampling", "linked_importance_sampling", "check_schedule", "base_rate_bias", "piecewise_schedule",
           "LogZTracker"]
