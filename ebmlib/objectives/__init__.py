"""Training objectives: functions ``objective(model, x, ...) -> scalar loss to minimise``.

Each drops into an ordinary PyTorch loop (``loss.backward(); optimizer.step()``).

* :func:`exact_nll`: the exact negative log-likelihood (small models only: it enumerates).
* :func:`contrastive_loss`: the surrogate whose gradient is the sampled likelihood gradient,
  given negative samples from any sampler.
* :func:`naive_mcmc`: that surrogate with chains burned in from noise at every step.
* :func:`cd`: contrastive divergence, chains started at the data; :func:`expected_cd` is
  its exact expectation for small models.
* :func:`pcd`, :class:`PersistentCD`, :class:`FastPCD`: persistent chains (SML), optionally
  tempered, and with fast weights.
"""

from .contrastive import FastPCD, PersistentCD, cd, expected_cd, pcd
from .likelihood import contrastive_loss, exact_nll, naive_mcmc

__all__ = [
    "exact_nll", "contrastive_loss", "naive_mcmc", "cd", "expected_cd", "pcd", "PersistentCD", "FastPCD",
]
