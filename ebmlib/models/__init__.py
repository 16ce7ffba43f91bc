r"""Energy models sharing one interface: ``energy``, ``unnormalized_log_prob``, ``score``, and
the capabilities the rest of the library asks for (see :class:`EnergyModel`).

``MLPEnergy`` and ``ConvEnergy`` are neural energies (the deep energy-based models of chapter
9); ``LearnedNormalizer`` adds a learned :math:`c = -\log Z` (for NCE); ``Tempered`` divides a model's
energy by a temperature; ``CouplingFlow`` is a normalizing flow (a noise or sampler
distribution with exact ``log_prob``); ``NeuralLM`` is a language model whose softmax over a
large vocabulary is the normalizer.
"""

from .base import Bipartite, EnergyModel, Enumeration
from .boltzmann import BoltzmannMachine
from .continuous import ConvEnergy, DistributionEnergy, GaussianEnergy, MLPEnergy
from .flow import CouplingFlow
from .language import NeuralLM
from .normalized import LearnedNormalizer
from .rbm import RBM, block_gibbs
from .wrappers import Tempered

__all__ = [
    "EnergyModel",
    "Enumeration",
    "Bipartite",
    "BoltzmannMachine",
    "RBM",
    "block_gibbs",
    "GaussianEnergy",
    "MLPEnergy",
    "ConvEnergy",
    "DistributionEnergy",
    "LearnedNormalizer",
    "Tempered",
    "CouplingFlow",
    "NeuralLM",
]
