r"""Estimators of the partition function, all returning an :class:`Estimate`.

* :func:`importance_sampling`: simple importance sampling from a proposal.
* :func:`ais`: annealed importance sampling (a stochastic lower bound on :math:`\log Z`);
  :func:`ais_schedule_check` runs it at several schedule lengths and checks it settled.
* :func:`tune_ais_steps`: a pilot run that picks MALA's or HMC's step size along AIS's path
  (a :class:`StepSchedule`, held fixed in :func:`ais` and :func:`reverse_ais` with ``step_sizes=``).
* :func:`reverse_ais`: AIS run backwards from samples (a stochastic upper bound from exact
  samples of the model); with :func:`ais` it brackets :math:`\log Z`.
* :func:`bridge_sampling`: Bennett's acceptance ratio, from samples of both ends.
* :func:`linked_importance_sampling`: Neal's linked importance sampling along AIS's paths.
* :class:`LogZTracker`: follows :math:`\log Z` through training, one update at a time.

The path estimators start from a base (:func:`resolve_base`), walk an annealing path
(:class:`AnnealingPath`: :class:`GeometricPath` for any model, :class:`BoltzmannPath` and
:class:`RBMPath` for the binary models, :class:`ShiftedPath` for a model with a learned
normalizer), chosen for the model by :func:`annealing_path` (which your own model types can
register with), along a schedule (:func:`linear_schedule`, :func:`piecewise_schedule`), and
take any kernel from :mod:`ebmlib.samplers`.

Files: ``bases.py`` (the base and its resolution), ``paths.py`` (the paths and the
dispatcher), ``schedules.py``, ``annealing.py`` (AIS forward and reverse), ``importance.py``,
``tuning.py``, ``bridge.py``, ``linked.py``, ``tracking.py``, ``result.py`` (:class:`Estimate`).
"""

from .annealing import ScheduleCheck, ais, ais_schedule_check, reverse_ais
from .bases import resolve_base
from .bridge import bridge_sampling
from .importance import importance_sampling
from .linked import linked_importance_sampling
from .paths import AnnealingPath, BoltzmannPath, GeometricPath, RBMPath, ShiftedPath, annealing_path
from .result import Estimate, effective_sample_size, relative_variance
from .schedules import check_schedule, linear_schedule, piecewise_schedule
from .tracking import LogZTracker
from .tuning import StepSchedule, default_tuning_grid, tune_ais_steps

__all__ = [
    "Estimate",
    "importance_sampling",
    "ais",
    "ais_schedule_check",
    "tune_ais_steps",
    "StepSchedule",
    "default_tuning_grid",
    "ScheduleCheck",
    "reverse_ais",
    "bridge_sampling",
    "linked_importance_sampling",
    "LogZTracker",
    "AnnealingPath",
    "GeometricPath",
    "BoltzmannPath",
    "RBMPath",
    "ShiftedPath",
    "annealing_path",
    "resolve_base",
    "linear_schedule",
    "piecewise_schedule",
    "check_schedule",
    "effective_sample_size",
    "relative_variance",
]
