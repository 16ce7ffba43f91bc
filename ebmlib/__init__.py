"""ebmlib: energy-based models whose partition function Z is intractable, in PyTorch.

Submodules:

* :mod:`ebmlib.models`: Boltzmann machines, RBMs, Gaussian, MLP and convolutional energies,
  flows, a neural language model; one interface and its capabilities.
* :mod:`ebmlib.exact`: ground truth by enumeration or closed form (log Z, log p, marginals,
  gradients, samples, transition matrices, filling in).
* :mod:`ebmlib.samplers`: Markov kernels (Gibbs, Metropolis-Hastings, Langevin, parallel
  tempering) with states, run over many chains at once.
* :mod:`ebmlib.objectives`: losses to minimise (exact and sampled maximum likelihood, CD,
  PCD, pseudolikelihood, score and ratio matching, NCE and its relatives, Langevin maximum
  likelihood, output-layer objectives).
* :mod:`ebmlib.estimators`: estimates of log Z (importance sampling, AIS forward and
  reverse, bridge sampling, linked importance sampling, a tracker for training).
* :mod:`ebmlib.training`: a training loop with a history, checkpoints and time budgets;
  full-batch L-BFGS; several methods compared under equal budgets.
* :mod:`ebmlib.rbm_sgd`: CD-k / PCD-k for RBMs with hand-written gradients.
* :mod:`ebmlib.diagnostics`: mixing measurements (mode labels, hopping rates).
* :mod:`ebmlib.data`: offline data sets.
* :mod:`ebmlib.utils`, :mod:`ebmlib.plotting`, :mod:`ebmlib.book`: randomness, devices,
  log-space helpers, timing, figures, and the chapters' set-up.

Conventions: ``p~(x) = exp(-E(x))``; ``model.energy(x)`` maps ``[batch, n]`` to ``[batch]``;
binary data are float 0/1 tensors; exact quantities are float64; every function that draws
random numbers takes ``generator=`` (a ``torch.Generator``) and follows the device and dtype
of its inputs.
"""

__version__ = "0.2.0"

from . import (  # noqa: E402
    book,
    data,
    diagnostics,
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

__all__ = [
    "book",
    "data",
    "diagnostics",
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
