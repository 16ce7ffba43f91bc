r"""Linked importance sampling (Neal 2005).

Like AIS, LIS moves through distributions ``p_0, ..., p_n`` from a tractable base to the
model (the same paths, :mod:`ebmlib.estimators.paths`), but at each distribution ``p_j`` it
runs a short Markov chain of ``K`` states ``x_{j,0}, ..., x_{j,K-1}`` and passes on a single
*link state*. The link from level ``j`` to ``j + 1`` is chosen among the ``K`` states with
probability proportional to

    sqrt(f_{j+1}(x) / f_j(x)),

i.e. in proportion to how well it fits the geometric bridge ``p_{j*j+1} ∝ sqrt(f_j f_{j+1})``
relative to ``p_j``. The link becomes state number ``mu`` (uniform in ``0 ... K-1``) of the
chain at level ``j + 1``, which is completed by ``K - 1 - mu`` transitions forwards in time
and ``mu`` transitions of the reversed kernel backwards: ``K - 1`` transitions per level.
Each run gives an unbiased estimate

    Z_n / Z_0 = prod_j  mean_k[ sqrt(f_{j+1} / f_j)(x_{j,k}) ] / mean_k[ sqrt(f_j / f_{j+1})(x_{j+1,k}) ].

Block Gibbs on an RBM and Metropolis-Hastings kernels are their own reversal; a systematic
scan is reversed by scanning the units in the opposite order (``kernel.reversed()``). All
runs advance together, vectorized.
"""

from __future__ import annotations

import torch

from .._validation import check_positive_int
from ..models import EnergyModel
from ..samplers import Kernel
from ..utils import log_mean_exp, progress_range
from .annealing import _prepare
from .paths import linear_schedule
from .result import Estimate

__all__ = ["linked_importance_sampling"]


def linked_importance_sampling(
    model: EnergyModel,
    n_runs: int,
    n_distributions: int = 50,
    chain_length: int = 10,
    *,
    base=None,
    kernel: Kernel | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Estimate:
    """Estimate ``log Z`` by linked importance sampling along the same paths as :func:`ais`.

    One run costs ``K - 1`` kernel transitions and ``K`` evaluations of ``log f`` at two
    neighbouring distributions per level, where AIS costs one transition and one evaluation.

    Args:
        model: any model with an annealing path.
        n_runs: independent LIS runs (>= 2).
        n_distributions: distributions on a linear schedule from base to model (>= 2).
        chain_length: Markov chain states ``K`` at each distribution (>= 1; ``K = 1`` is a
            chain of independent links, the "annealed" limit without moves).
        base, kernel, generator, progress: as in :func:`ais`.

    Returns:
        An :class:`Estimate` whose ``log_weights`` are the per-run log estimates of ``Z / Z_0``.
    """
    k_len = check_positive_int(chain_length, "chain_length")
    path, kernel = _prepare(model, n_runs, "n_runs", base, kernel, generator)
    backward = kernel.reversed()
    betas = linear_schedule(n_distributions).tolist()
    device = path.log_z0.device
    runs = torch.arange(n_runs, device=device)

    def chain_around(link: torch.Tensor, beta: float, position: torch.Tensor) -> torch.Tensor:
        """States ``[K, runs, n]`` with the link at ``position``; ``K - 1`` transitions per run."""
        grid = torch.empty(k_len, *link.shape, dtype=link.dtype, device=link.device)
        grid[position, runs] = link
        n_forward = k_len - 1 - position  # forward transitions; the rest go backward from the link
        frontier = link
        for s in range(1, k_len):
            ahead = s <= n_forward
            current = torch.where((s == n_forward + 1)[:, None], link, frontier)  # turn back at the link
            if backward is kernel:
                new = path.move(current, beta, kernel, generator)
            else:
                new = torch.empty_like(current)
                if bool(ahead.any()):
                    new[ahead] = path.move(current[ahead], beta, kernel, generator)
                if bool((~ahead).any()):
                    new[~ahead] = path.move(current[~ahead], beta, backward, generator)
            grid[torch.where(ahead, position + s, position - (s - n_forward)), runs] = new
            frontier = new
        return grid

    def half_increment(states: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        flat = states.reshape(-1, states.shape[-1])
        return 0.5 * path.increment(flat, lo, hi).reshape(states.shape[:2])

    with torch.no_grad():
        start = path.sample_base(n_runs, generator)
        chain = chain_around(start, betas[0], torch.zeros(n_runs, dtype=torch.long, device=device))
        log_ratio = torch.zeros(n_runs, dtype=torch.float64, device=device)
        for j in progress_range(len(betas) - 1, progress, "LIS"):
            lo, hi = betas[j], betas[j + 1]
            up = half_increment(chain, lo, hi)  # log sqrt(f_{j+1} / f_j) at level j: [K, runs]
            log_ratio += log_mean_exp(up, 0)
            link_index = torch.multinomial(torch.softmax(up, 0).T, 1, generator=generator).squeeze(1)
            position = torch.randint(k_len, (n_runs,), device=device, generator=generator)
            chain = chain_around(chain[link_index, runs], hi, position)
            log_ratio -= log_mean_exp(-half_increment(chain, lo, hi), 0)  # log mean sqrt(f_j / f_{j+1}) at j+1
    return Estimate.from_log_weights(log_ratio, path.log_z0)
