r"""ebmlib: energy-based models whose partition function Z is intractable, in PyTorch.

Submodules, in layers: each imports only from the layers below it (``tests/test_layers.py``
keeps it so).

* :mod:`ebmlib.utils`: randomness, devices, log-space helpers, timing (with the private
  ``_validation`` and ``_random``, the foundation).
* :mod:`ebmlib.distributions`: tractable distributions the rest starts from (independent
  Bernoulli units).
* :mod:`ebmlib.models`: Boltzmann machines, RBMs, Gaussian, MLP and convolutional energies,
  flows, a neural language model; one interface and its capabilities.
* :mod:`ebmlib.exact`: ground truth by enumeration or closed form (log Z, log p, marginals,
  gradients, samples, transition matrices, filling in); :mod:`ebmlib.samplers`: Markov
  kernels (Gibbs, Metropolis-Hastings, Langevin, parallel tempering) with states, run over
  many chains at once; :mod:`ebmlib.diagnostics`: mixing measurements.
* :mod:`ebmlib.estimators`: estimates of log Z (importance sampling, AIS forward and
  reverse, bridge sampling, linked importance sampling, a tracker for training) and the
  annealing paths they walk.
* :mod:`ebmlib.objectives`: losses to minimise, in one shape (exact and sampled maximum
  likelihood, CD, PCD, pseudolikelihood, score and ratio matching, NCE and its relatives,
  Langevin maximum likelihood, output-layer objectives).
* :mod:`ebmlib.training`: a training loop with a history, checkpoints and time budgets;
  full-batch L-BFGS; several methods compared under equal budgets. :mod:`ebmlib.data`:
  offline data sets. :mod:`ebmlib.rbm_sgd`: CD-k / PCD-k for RBMs with hand-written gradients.
* :mod:`ebmlib.plotting`, :mod:`ebmlib.book`: figures, and the chapters' set-up.

Conventions: :math:`\tilde p(x) = e^{-E(x)}`; ``model.energy(x)`` maps ``[batch, n]`` to
``[batch]``; binary data are float 0/1 tensors; exact quantities are float64; every function
that draws random numbers takes ``generator=`` (a ``torch.Generator``, keyword-only) and
follows the device and dtype of its inputs; chains run ``n_steps`` steps, ``n_chains`` at a
time, and annealing visits ``n_betas`` distributions.
"""

from . import (
    book,
    data,
    diagnostics,
    distributions,
    estimators,
    exact,
    models,
    objectives,
    plotting,
    rbm_sgd,
    samplers,
    training,
    utils,
)
from ._version import __version__

__all__ = [
    "book",
    "data",
    "diagnostics",
    "distributions",
    "estimators",
    "exact",
    "models",
    "objectives",
    "plotting",
    "rbm_sgd",
    "samplers",
    "training",
    "utils",
    "__version__",
]
