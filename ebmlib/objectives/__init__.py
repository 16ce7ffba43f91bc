"""Training objectives: functions ``objective(model, x, ...) -> scalar loss to minimise``.

Each drops into an ordinary PyTorch loop (``loss.backward(); optimizer.step()``).

* Maximum likelihood: :func:`exact_nll` (small models only: it enumerates),
  :func:`contrastive_loss` (given negative samples) and :func:`naive_mcmc`.
* Cheaper negative phases: :func:`cd` (and its exact expectation :func:`expected_cd`),
  :func:`pcd`, :class:`PersistentCD`, :class:`FastPCD`.
* No ``Z`` at all, binary data: :func:`pseudolikelihood`, :func:`random_conditional_pl`,
  :func:`generalized_pseudolikelihood`, :func:`ratio_matching`.
* No ``Z`` at all, continuous data: :func:`score_matching`, :func:`sliced_score_matching`,
  :func:`denoising_score_matching`.
"""

from .contrastive import FastPCD, PersistentCD, cd, expected_cd, pcd
from .likelihood import contrastive_loss, exact_nll, naive_mcmc
from .pseudolikelihood import (
    flip_gaps,
    generalized_pseudolikelihood,
    pseudolikelihood,
    random_conditional_pl,
    ratio_matching,
)
from .score_matching import denoising_score_matching, score_matching, sliced_score_matching

__all__ = [
    "exact_nll", "contrastive_loss", "naive_mcmc",
    "cd", "expected_cd", "pcd", "PersistentCD", "FastPCD",
    "flip_gaps", "pseudolikelihood", "random_conditional_pl", "generalized_pseudolikelihood", "ratio_matching",
    "score_matching", "sliced_score_matching", "denoising_score_matching",
]
