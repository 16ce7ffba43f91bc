r"""Linked importance sampling (Neal 2005).

Like AIS, LIS moves through distributions :math:`p_0, \dots, p_n` from a tractable base to the
model (the same paths, :mod:`ebmlib.estimators.paths`), but at each distribution :math:`p_j` it
runs a short Markov chain of :math:`K` states :math:`x_{j,0}, \dots, x_{j,K-1}` and passes on a
single *link state*. The link from level :math:`j` to :math:`j + 1` is chosen among the
:math:`K` states with probability proportional to

.. math::

    \sqrt{f_{j+1}(x) / f_j(x)},

i.e. in proportion to how well it fits the geometric bridge
:math:`p_{j,j+1} \propto \sqrt{f_j f_{j+1}}` relative to :math:`p_j`. The link becomes state
number :math:`\mu` (uniform in :math:`0, \dots, K-1`) of the chain at level :math:`j + 1`, which
is completed by :math:`K - 1 - \mu` transitions forwards in time and :math:`\mu` transitions of
the reversed kernel backwards: :math:`K - 1` transitions per level (``K`` is ``n_steps``). Each
run gives an unbiased estimate

.. math::

    \frac{Z_n}{Z_0} = \prod_j \frac{\operatorname{mean}_k \sqrt{f_{j+1} / f_j}\,(x_{j,k})}
                                   {\operatorname{mean}_k \sqrt{f_j / f_{j+1}}\,(x_{j+1,k})}.

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
from .result import Estimate
from .schedules import linear_schedule

__all__ = ["linked_importance_sampling"]


def linked_importance_sampling(
    model: EnergyModel,
    n_chains: int,
    n_betas: int = 50,
    n_steps: int = 10,
    *,
    base=None,
    kernel: Kernel | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> Estimate:
    r"""Estimate :math:`\log Z` by linked importance sampling along the same paths as :func:`ais`.

    One run costs ``K - 1`` kernel transitions and ``K`` evaluations of :math:`\log f` at two
    neighbouring distributions per level, where AIS costs one transition and one evaluation.

    Args:
        model: any model with an annealing path.
        n_chains: independent LIS runs (>= 2).
        n_betas: distributions on a linear schedule from base to model (>= 2).
        n_steps: Markov chain states ``K`` at each distribution (>= 1; :math:`K = 1` makes no moves:
            the product telescopes to simple importance sampling from the base).
        base, kernel, generator, progress: as in :func:`ais`.

    Returns:
        An :class:`Estimate` whose ``log_weights`` are the per-run log estimates of :math:`Z / Z_0`.
    """
    k_len = check_positive_int(n_steps, "n_steps")
    path, kernel = _prepare(model, n_chains, "n_chains", base, kernel, generator)
    backward = kernel.reversed()
    betas = linear_schedule(n_betas).tolist()
    device = path.log_z0.device
    runs = torch.arange(n_chains, device=device)

    def chain_around(link: torch.Tensor, beta: float, position: torch.Tensor) -> torch.Tensor:
        """States ``[K, runs, n]`` with the link at ``position``; ``K - 1`` transitions per run."""
        grid = torch.empty(k_len, *link.shape, dtype=link.dtype, device=link.device)
        grid[position, runs] = link
        n_forward = k_len - 1 - position  # forward transitions; the rest go backward from the link
        frontier = link
        for s in range(1, k_len):
            ahead = n_forward >= s
            current = torch.where((n_forward + 1 == s)[:, None], link, frontier)  # turn back at the link
            if backward is kernel:
                new = path.move(current, beta, kernel, generator=generator)
            else:
                new = torch.empty_like(current)
                if bool(ahead.any()):
                    new[ahead] = path.move(current[ahead], beta, kernel, generator=generator)
                if bool((~ahead).any()):
                    new[~ahead] = path.move(current[~ahead], beta, backward, generator=generator)
            grid[torch.where(ahead, position + s, position - (s - n_forward)), runs] = new
            frontier = new
        return grid

    def half_increment(states: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        flat = states.reshape(-1, states.shape[-1])
        return 0.5 * path.increment(flat, lo, hi).reshape(states.shape[:2])

    with torch.no_grad():
        start = path.sample_base(n_chains, generator=generator)
        chain = chain_around(start, betas[0], torch.zeros(n_chains, dtype=torch.long, device=device))
        log_ratio = torch.zeros(n_chains, dtype=torch.float64, device=device)
        for j in progress_range(len(betas) - 1, progress, "LIS"):
            lo, hi = betas[j], betas[j + 1]
            up = half_increment(chain, lo, hi)  # log sqrt(f_{j+1} / f_j) at level j: [K, runs]
            log_ratio += log_mean_exp(up, 0)
            link_index = torch.multinomial(torch.softmax(up, 0).T, 1, generator=generator).squeeze(1)
            position = torch.randint(k_len, (n_chains,), device=device, generator=generator)
            chain = chain_around(chain[link_index, runs], hi, position)
            log_ratio -= log_mean_exp(-half_increment(chain, lo, hi), 0)  # log mean sqrt(f_j / f_{j+1}) at j+1
    return Estimate.from_log_weights(log_ratio, path.log_z0)
