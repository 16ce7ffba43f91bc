"""Training objectives: functions ``objective(model, x, ...) -> scalar loss to minimise``.

Each drops into an ordinary PyTorch loop (``loss.backward(); optimizer.step()``).

* Maximum likelihood: :func:`exact_nll` (small models only: it enumerates),
  :func:`contrastive_loss` (given negative samples) and :func:`naive_mcmc`.
* Cheaper negative phases: :func:`cd` (and its exact expectation :func:`expected_cd`),
  :func:`pcd`, :class:`PersistentCD`, :class:`FastPCD`; :class:`Centering` for centered
  gradients.
* Deep energy models, continuous data: :class:`LangevinML` (Langevin negatives from noise,
  persistent chains or a replay buffer, with the usual stabilisers; it raises
  :class:`DivergenceError` when the energies run away).
* No ``Z`` at all, binary data: :func:`pseudolikelihood`, :func:`random_conditional_pl`,
  :func:`generalized_pseudolikelihood`, :func:`ratio_matching`.
* No ``Z`` at all, continuous data: :func:`score_matching`, :func:`sliced_score_matching`,
  :func:`denoising_score_matching`.
* ``Z`` as a learned parameter, data against noise: :func:`nce`, :func:`negative_sampling`,
  :func:`importance_sampled_nll`, :func:`self_contrastive`, :class:`FlowContrastive`,
  :class:`AdversarialBound` (and :func:`nce_accuracy`, the classifier's accuracy).
* Large softmax output layers: :func:`softmax_nll` (with the self-normalization penalty),
  :func:`sampled_nce`, :func:`sampled_negative_sampling`, :func:`sampled_softmax`,
  :func:`normalization_penalty`; :func:`next_word_loss` makes any of them a loss for
  :func:`ebmlib.training.fit` on a language model.
"""

from .contrastive import Centering, FastPCD, PersistentCD, cd, expected_cd, pcd
from .langevin_ml import DivergenceError, LangevinML
from .likelihood import contrastive_loss, exact_nll, naive_mcmc
from .noise_contrastive import (
    AdversarialBound,
    FlowContrastive,
    importance_sampled_nll,
    nce,
    nce_accuracy,
    negative_sampling,
    self_contrastive,
)
from .output_layer import (
    next_word_loss,
    normalization_penalty,
    sampled_negative_sampling,
    sampled_nce,
    sampled_softmax,
    softmax_nll,
)
from .pseudolikelihood import (
    generalized_pseudolikelihood,
    pseudolikelihood,
    random_conditional_pl,
    ratio_matching,
)
from .score_matching import denoising_score_matching, score_matching, sliced_score_matching

__all__ = [
    "exact_nll",
    "contrastive_loss",
    "naive_mcmc",
    "cd",
    "expected_cd",
    "pcd",
    "PersistentCD",
    "FastPCD",
    "Centering",
    "pseudolikelihood",
    "random_conditional_pl",
    "generalized_pseudolikelihood",
    "ratio_matching",
    "score_matching",
    "sliced_score_matching",
    "denoising_score_matching",
    "nce",
    "nce_accuracy",
    "negative_sampling",
    "importance_sampled_nll",
    "self_contrastive",
    "FlowContrastive",
    "AdversarialBound",
    "softmax_nll",
    "sampled_nce",
    "sampled_negative_sampling",
    "sampled_softmax",
    "normalization_penalty",
    "next_word_loss",
    "LangevinML",
    "DivergenceError",
]
