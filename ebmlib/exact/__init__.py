r"""Exact ground truth for small models: :math:`\log Z`, :math:`\log p(x)`, marginals, gradients, samples,
chain laws, filling in, asymptotic covariances.

Binary models are enumerated state by state, in chunks, in float64 and log space, over
whatever the model's :meth:`~ebmlib.models.EnergyModel.enumeration` says: its rows for a
Boltzmann machine, its *smaller* layer for an RBM (the other layer summed out in closed
form), so an RBM with 784 visible and 20 hidden units costs :math:`2^{20}` free energies, not
:math:`2^{784}`. Wrapped models (a :class:`~ebmlib.models.LearnedNormalizer`) enumerate as the
model they wrap. Models with a closed-form :math:`\log Z` (the Gaussian) use it; other continuous
models in one to three dimensions can use :func:`log_partition_grid`.

Every function refuses, at once and with the sizes in the message, a model whose
enumeration would exceed ``max_bits`` (default 24) binary units.

Files: ``enumeration.py`` (:math:`\log Z`, likelihoods, marginals, gradients, samples),
``chains.py`` (transition matrices and chain laws), ``filling_in.py`` (conditionals given
observed units), ``asymptotics.py`` (the sandwich covariance of an estimator), ``grid.py``
(continuous models on a grid).
"""

from .asymptotics import asymptotic_covariance
from .chains import chain_law, gibbs_transition
from .enumeration import (
    binary_states,
    distribution,
    enumerated_layer,
    expected_gradient,
    log_likelihood,
    log_partition,
    marginals,
    sample,
)
from .filling_in import conditional_log_likelihood, conditional_marginals
from .grid import log_partition_grid

__all__ = [
    "binary_states",
    "enumerated_layer",
    "log_partition",
    "log_likelihood",
    "distribution",
    "marginals",
    "expected_gradient",
    "sample",
    "gibbs_transition",
    "chain_law",
    "conditional_marginals",
    "conditional_log_likelihood",
    "asymptotic_covariance",
    "log_partition_grid",
]
