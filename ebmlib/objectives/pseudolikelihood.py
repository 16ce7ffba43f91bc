r"""Criteria built from conditionals of single units or small sets: no :math:`Z` anywhere.

For binary ``x``, flipping unit ``i`` gives :math:`x^{(i)}`, and every ratio of the two
probabilities is an energy difference. With the *gap* :math:`g_i(x) = E(x) - E(x^{(i)})`:

* the conditional of unit ``i`` is :math:`p(x_i | x_{-i}) = \sigma(-g_i)`, so the
  **pseudolikelihood** (Besag 1975) is

  .. math::

      \sum_i \log p(x_i | x_{-i}) = -\sum_i \operatorname{softplus}(g_i);

* **ratio matching** (Hyvarinen 2007) fits :math:`\sum_i \sigma(g_i)^2`.

Both need the ``n`` gaps of each example, which every model supplies through
:meth:`~ebmlib.models.EnergyModel.flip_gaps`: a Boltzmann machine in closed form from its
local fields, an RBM in closed form from its hidden pre-activations, and any other binary
model from one batched energy evaluation of all ``n`` flipped copies.

**Generalized pseudolikelihood** replaces single units by small sets ``S`` of units and
enumerates the :math:`2^{|S|}` values of each set exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.functional import softplus

from .._validation import check_generator
from ..exact import binary_states
from ..models import EnergyModel

__all__ = [
    "pseudolikelihood",
    "random_conditional_pl",
    "generalized_pseudolikelihood",
    "ratio_matching",
]


def _check_binary_model(model: EnergyModel, x: torch.Tensor) -> None:
    if not getattr(model, "is_binary", False):
        raise TypeError(f"this criterion is for binary models, got {type(model).__name__}")
    model.check_input(x)


def pseudolikelihood(model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
    r"""Negative log-pseudolikelihood, averaged over rows:

    .. math::

        -\operatorname{mean}_x \sum_i \log p(x_i | x_{-i}).

    Args:
        model: a binary model.
        x: ``[batch, n]`` binary data.
    """
    _check_binary_model(model, x)
    return softplus(model.flip_gaps(x)).sum(1).mean()


def random_conditional_pl(
    model: EnergyModel, x: torch.Tensor, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""An unbiased, cheap estimate of :func:`pseudolikelihood`: one random unit per row.

    Each row contributes :math:`n \cdot (-\log p(x_i | x_{-i}))` for one unit ``i`` drawn uniformly,
    which costs two energy evaluations per row instead of ``n + 1``.
    """
    _check_binary_model(model, x)
    check_generator(generator, x.device)
    batch, n = x.shape
    unit = torch.randint(n, (batch,), device=x.device, generator=generator)
    rows = torch.arange(batch, device=x.device)
    flipped = x.clone()
    flipped[rows, unit] = 1 - flipped[rows, unit]
    return n * softplus(model.energy(x) - model.energy(flipped)).mean()


def generalized_pseudolikelihood(model: EnergyModel, x: torch.Tensor, blocks: Sequence[Sequence[int]]) -> torch.Tensor:
    r"""Negative generalized log-pseudolikelihood:

    .. math::

        -\operatorname{mean}_x \sum_S \log p(x_S | x_{-S}).

    Each conditional is exact: the :math:`2^{|S|}` values of the set are enumerated. Blocks of
    equal size are evaluated together in one batched energy call.

    Args:
        model: a binary model.
        x: ``[batch, n]`` binary data.
        blocks: sets of unit indices (each non-empty, at most 16 units). One block holding
            every unit gives the exact negative log-likelihood; singletons give
            :func:`pseudolikelihood`.
    """
    _check_binary_model(model, x)
    n = x.shape[1]
    if len(blocks) == 0:
        raise ValueError("blocks must hold at least one set of units")
    groups: dict[int, list[list[int]]] = {}
    for block in blocks:
        block = [int(i) for i in block]
        if not block or len(set(block)) != len(block) or not all(0 <= i < n for i in block):
            raise ValueError(f"each block must be a non-empty set of distinct unit indices in [0, {n}), got {block}")
        if len(block) > 16:
            raise ValueError(f"a block may hold at most 16 units (2^16 values), got {len(block)}")
        groups.setdefault(len(block), []).append(block)
    batch = x.shape[0]
    energy_x = model.energy(x)
    total = torch.zeros((), dtype=energy_x.dtype, device=x.device)
    for size, group in groups.items():
        index = torch.tensor(group, device=x.device)  # [m, size]
        values = binary_states(size, dtype=x.dtype, device=x.device)  # [2^size, size]
        m, k = len(group), len(values)
        filled = x[:, None, None, :].repeat(1, m, k, 1)  # [batch, m, 2^size, n]
        rows = index[None, :, None, :].expand(batch, m, k, size)
        filled.scatter_(3, rows, values[None, None].expand(batch, m, k, size))
        energies = model.energy(filled.reshape(-1, n)).reshape(batch, m, k)
        log_norm = torch.logsumexp(-energies, dim=2)  # [batch, m]
        total = total + (energy_x[:, None] + log_norm).sum(1).mean()
    return total


def ratio_matching(model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
    r"""Ratio matching loss (Hyvarinen 2007):

    .. math::

        \operatorname{mean}_x \sum_i \sigma(E(x) - E(x^{(i)}))^2.

    Zero exactly when the model makes every observed state far more probable than each of
    its one-flip neighbours; it never needs :math:`Z`.
    """
    _check_binary_model(model, x)
    return torch.sigmoid(model.flip_gaps(x)).pow(2).sum(1).mean()
