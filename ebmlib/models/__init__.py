"""Energy models sharing one interface: ``energy``, ``unnormalized_log_prob``, ``score``.

See :class:`ebmlib.models.base.EnergyModel` for the contract.
"""

from .base import EnergyModel
from .boltzmann import BoltzmannMachine
from .continuous import DistributionEnergy, GaussianEnergy, MLPEnergy
from .rbm import RBM

__all__ = ["EnergyModel", "BoltzmannMachine", "RBM", "GaussianEnergy", "MLPEnergy", "DistributionEnergy"]
