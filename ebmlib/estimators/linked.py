"""Linked importance sampling (Neal 2005).

Like AIS, LIS moves through distributions ``p_0, ..., p_n`` from a tractable base to the
model, but at each distribution it runs a short Markov chain of ``K`` states and passes
on only one *link state*, chosen in proportion to how well it fits the geometric bridge
``p_{j*j+1} ∝ sqrt(f_j f_{j+1})`` to the next distribution. The next chain is laid out
forwards and backwards in time around the link state, at a uniformly random position.
Each run gives an unbiased estimate

    Z_n / Z_0 = prod_j  mean_k[ sqrt(f_{j+1} / f_j)(x_{j,k}) ] / mean_k[ sqrt(f_j / f_{j+1})(x_{j+1,k}) ].

The backward half of each chain uses the time reversal of the transition (block Gibbs on
an RBM and MALA are reversible; a systematic scan is reversed by scanning units in the
opposite order). All runs advance together, vectorized.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_positive_int
from ..models import EnergyModel
from ..utils import progress_range
from .annealing import _schedule, _start
from .result import Estimate, from_log_weights

__all__ = ["linked_importance_sampling"]


def _log_mean(x: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def linked_importance_sampling(
    model: EnergyModel,
    n_runs: int,
    n_distributions: int = 50,
    chain_length: int = 10,
    *,
    data: torch.Tensor | None = None,
    base=None,
    step_size: float = 0.1,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Estimate:
    """Estimate ``log Z`` by linked importance sampling along the same paths as :func:`ais`.

    Args:
        model: an RBM, a Boltzmann machine or a continuous model.
        n_runs: independent LIS runs (>= 2).
        n_distributions: distributions on a linear schedule from base to model (>= 2).
        chain_length: Markov chain states ``K`` at each distribution (>= 1).
        data, base, step_size, generator, progress: as in :func:`ais`.

    Returns:
        An :class:`Estimate` whose ``log_weights`` are the per-run log estimates of ``Z / Z_0``.
    """
    check_positive_int(chain_length, "chain_length")
    path, device = _start(model, n_runs, "n_runs", base, data, step_size, generator)
    betas = _schedule(n_distributions, None, device).tolist()
    k_len = chain_length
    runs = torch.arange(n_runs, device=device)

    def chain_around(link: torch.Tensor, beta: float, position: torch.Tensor) -> torch.Tensor:
        """States [K, runs, n] with the link state at ``position`` (per run), chains both ways."""
        forward, backward = link, link
        grid = torch.empty(k_len, *link.shape, dtype=link.dtype, device=link.device)
        grid[position, runs] = link
        for step in range(1, k_len):
            forward = path.move(forward, beta, path.pre(forward))
            backward = path.move(backward, beta, path.pre(backward), reverse=True)
            ahead, behind = position + step, position - step
            ok = ahead < k_len
            grid[ahead[ok], runs[ok]] = forward[ok]
            ok = behind >= 0
            grid[behind[ok], runs[ok]] = backward[ok]
        return grid

    def log_f(states: torch.Tensor, beta: float) -> torch.Tensor:
        flat = states.reshape(-1, states.shape[-1])
        return path.log_f(flat, beta, path.pre(flat)).reshape(states.shape[:2])

    with torch.no_grad():
        x = path.sample_base(n_runs)
        chain = chain_around(x, betas[0], torch.zeros(n_runs, dtype=torch.long, device=device))
        log_ratio = torch.zeros(n_runs, dtype=torch.float64, device=device)
        for j in progress_range(len(betas) - 1, progress, "LIS"):
            lo, hi = betas[j], betas[j + 1]
            half_up = 0.5 * (log_f(chain, hi) - log_f(chain, lo))  # log bridge/f_j at level j: [K, runs]
            log_ratio += _log_mean(half_up, 0)
            link_index = torch.multinomial(torch.softmax(half_up, 0).T, 1, generator=generator).squeeze(1)
            link = chain[link_index, runs]
            position = torch.randint(k_len, (n_runs,), device=device, generator=generator)
            chain = chain_around(link, hi, position)
            half_down = 0.5 * (log_f(chain, lo) - log_f(chain, hi))  # log bridge/f_{j+1} at level j+1
            log_ratio -= _log_mean(half_down, 0)
    return from_log_weights(log_ratio, path.log_z0)
