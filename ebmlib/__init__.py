"""ebmlib: energy-based models whose partition function Z is intractable, in PyTorch.

Submodules:

* :mod:`ebmlib.models`: Boltzmann machines, RBMs, Gaussian and MLP energies.
* :mod:`ebmlib.exact`: ground truth by enumeration or closed form (log Z, log p, marginals).
* :mod:`ebmlib.samplers`: Gibbs, Metropolis-Hastings and Langevin kernels over many chains.
* :mod:`ebmlib.data`: offline data sets.
* :mod:`ebmlib.utils`, :mod:`ebmlib.plotting`: seeding, devices, log-space helpers, figures.
"""

from . import data, exact, models, plotting, samplers, utils

__version__ = "0.1.0"
__all__ = ["data", "exact", "models", "plotting", "samplers", "utils", "__version__"]
