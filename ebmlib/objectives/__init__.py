"""Training objectives: losses to minimise, all in one shape.

**The convention.** Every objective is a function ``objective(model, x, ...) -> loss``: the
model, a batch ``x`` (``[batch, n]`` rows; for a language model, rows of word ids
``[context..., target]``), settings as keywords, ``generator=`` (keyword-only) where it draws,
and a scalar loss whose gradient is the method's update. Any of them drops into an ordinary
PyTorch loop (``loss.backward(); optimizer.step()``) or :func:`ebmlib.training.fit` (through
``lambda m, x: objective(m, x, ...)``).

* A method with **state** between updates (persistent chains, fast weights, a replay buffer,
  centering offsets) has a functional core that takes the state and returns the new one,
  ``loss, state = method(model, x, state, *, generator=...)``, the state a ``NamedTuple`` of
  tensors (:class:`PCDState`, :class:`LangevinMLState`), and a thin wrapper class for training
  loops (:class:`PersistentCD`, :class:`FastPCD`, :class:`LangevinML`) that stores the state and
  the generator and nothing else: ``loss = wrapper(model, x)``, with ``state_dict`` and
  ``load_state_dict`` (plain containers of tensors) so a checkpoint resumes bit for bit.
* A method with **two players**, a flow trained against the model, is two pure losses, one per
  player (:func:`flow_contrastive` and :func:`flow_contrastive_flow_loss`;
  :func:`adversarial_bound` and :func:`adversarial_sampler_loss`); the flow and its optimizer
  are its state, held by a thin wrapper (:class:`FlowContrastive`, :class:`AdversarialBound`)
  that takes the flow's steps and returns the model's loss.

Two functions here are not objectives but pieces of them: :func:`nce_accuracy` (a metric, the
classifier's accuracy) and :func:`normalization_penalty` (a penalty term on given log
normalizers).

Names: a chain's length is ``n_steps`` and a number of chains ``n_chains``, as everywhere in
ebmlib; ``k`` keeps its name from the literature in two places only, the kernel steps of CD-k
and PCD-k and the noise samples per data point of NCE and its relatives.

The objectives:

* Maximum likelihood: :func:`exact_nll` (small models only: it enumerates),
  :func:`contrastive_loss` (given negative samples) and :func:`naive_mcmc`.
* Cheaper negative phases: :func:`cd` (and its exact expectation :func:`expected_cd`),
  :func:`pcd`, :func:`fast_pcd` with :class:`PersistentCD`, :class:`FastPCD`;
  :class:`Centering` for centered gradients.
* Deep energy models, continuous data: :func:`langevin_ml` and :class:`LangevinML` (Langevin
  negatives from noise, persistent chains or a replay buffer, with the usual stabilisers; they
  raise :class:`DivergenceError` when the energies run away).
* No :math:`Z` at all, binary data: :func:`pseudolikelihood`, :func:`random_conditional_pl`,
  :func:`generalized_pseudolikelihood`, :func:`ratio_matching`.
* No :math:`Z` at all, continuous data: :func:`score_matching`, :func:`sliced_score_matching`,
  :func:`denoising_score_matching`.
* :math:`Z` as a learned parameter, data against noise: :func:`nce`, :func:`negative_sampling`,
  :func:`importance_sampled_nll`, :func:`self_contrastive` (and :func:`nce_accuracy`, the
  classifier's accuracy); against a trained flow: :func:`flow_contrastive`,
  :func:`adversarial_bound` and their wrappers.
* Large softmax output layers of a language model: :func:`softmax_nll` (with the
  self-normalization penalty), :func:`sampled_nce`, :func:`sampled_negative_sampling`,
  :func:`sampled_softmax`, and :func:`normalization_penalty`.
"""

from .adversarial import (
    AdversarialBound,
    FlowContrastive,
    adversarial_bound,
    adversarial_sampler_loss,
    flow_contrastive,
    flow_contrastive_flow_loss,
)
from .centering import Centering, Offsets
from .contrastive import FastPCD, PCDState, PersistentCD, cd, expected_cd, fast_pcd, pcd
from .langevin_ml import DivergenceError, LangevinML, LangevinMLState, langevin_ml
from .likelihood import contrastive_loss, exact_nll, naive_mcmc
from .noise_contrastive import importance_sampled_nll, nce, nce_accuracy, negative_sampling, self_contrastive
from .output_layer import (
    normalization_penalty,
    sampled_nce,
    sampled_negative_sampling,
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
    "fast_pcd",
    "PCDState",
    "PersistentCD",
    "FastPCD",
    "Centering",
    "Offsets",
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
    "flow_contrastive",
    "flow_contrastive_flow_loss",
    "adversarial_bound",
    "adversarial_sampler_loss",
    "FlowContrastive",
    "AdversarialBound",
    "softmax_nll",
    "sampled_nce",
    "sampled_negative_sampling",
    "sampled_softmax",
    "normalization_penalty",
    "langevin_ml",
    "LangevinMLState",
    "LangevinML",
    "DivergenceError",
]
