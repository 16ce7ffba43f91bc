"""ebmlib: energy-based models whose partition function Z is intractable, in PyTorch.

Submodules:

* :mod:`ebmlib.models`: Boltzmann machines, RBMs, Gaussian and MLP energies.
* :mod:`ebmlib.exact`: ground truth by enumeration or closed form (log Z, log p, marginals).
* :mod:`ebmlib.estimators`: estimates of log Z (importance sampling, AIS, reverse AIS).
* :mod:`ebmlib.samplers`: Gibbs, Metropolis-Hastings and Langevin kernels over many chains.
* :mod:`ebmlib.objectives`: losses to minimise (exact NLL, sampled maximum likelihood, ...).
* :mod:`ebmlib.training`: a small training loop with a history, a progress bar and checkpoints.
* :mod:`ebmlib.fast_rbm`: CD-k / PCD-k for RBMs with hand-written gradients, for speed.
* :mod:`ebmlib.diagnostics`: mixing measurements (mode labels, hopping rates).
* :mod:`ebmlib.data`: offline data sets.
* :mod:`ebmlib.utils`, :mod:`ebmlib.plotting`: seeding, devices, log-space helpers, figures.
"""

from . import data, diagnostics, estimators, exact, fast_rbm, models, objectives, plotting, samplers, training, utils

__version__ = "0.1.0"
__all__ = [
    "data", "diagnostics", "estimators", "exact", "fast_rbm", "models", "objectives", "plotting", "samplers", "training", "utils", "__version__",
]
