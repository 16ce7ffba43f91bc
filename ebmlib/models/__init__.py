"""Energy models sharing one interface: ``energy``, ``unnormalized_log_prob``, ``score``.

``LearnedNormalizer`` adds a learned ``c = -log Z`` (for NCE); ``CouplingFlow`` is a normalizing
flow (a noise or sampler distribution with exact ``log_prob``); ``NeuralLM`` is a language model
whose softmax over a large vocabulary is the normalizer.

See :class:`ebmlib.models.base.EnergyModel` for the contract.
"""

from .base import EnergyModel
from .boltzmann import BoltzmannMachine
from .continuous import DistributionEnergy, GaussianEnergy, MLPEnergy
from .flow import CouplingFlow
from .language import NeuralLM
from .normalized import LearnedNormalizer
from .rbm import RBM

__all__ = ["EnergyModel", "BoltzmannMachine", "RBM", "GaussianEnergy", "MLPEnergy", "DistributionEnergy",
           "LearnedNormalizer", "CouplingFlow", "NeuralLM"]
