"""Filling in, exactly: the marginals and the joint probability of missing units given observed
ones, with the hidden layer of an RBM enumerated (streamed in blocks)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple, cast

import torch
from torch.nn.functional import softplus

from .._validation import check_positive_int
from ..models import EnergyModel
from ..utils import _device_of
from .enumeration import _CHUNK, _MAX_BITS, _checked, _chunks, _enumeration, binary_states

__all__ = ["conditional_marginals", "conditional_log_likelihood"]


class _Clamped(NamedTuple):
    """The hidden states streamed in blocks for filling in (see :func:`_clamped`)."""

    offsets: tuple[torch.Tensor, torch.Tensor]  # per-row constants left out of the blocks
    blocks: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


def _clamped(bip, x: torch.Tensor, observed: torch.Tensor, with_all: bool = False) -> _Clamped:
    """Per block of hidden states: its visible logits ``[C, n]``, ``log p~(h, x_obs)``
    ``[rows, C]`` (observed units through their logits, missing ones summed out, a softplus
    each) and, ``with_all``, ``log p~(h, x)`` ``[rows, C]``; each up to a per-row constant
    (``offsets``: for the observed units, and for all units).

    The softplus of the logits is computed once per block for each distinct mask, not per row,
    and when the logits are affine in ``h`` (``bip.weight``) the rows are first projected onto
    the hidden units, so the per-row work has an inner dimension of ``n_hidden``."""
    masks, which = torch.unique(observed, dim=0, return_inverse=True)  # rows share few masks
    missing = (~masks).double()
    x_obs = x * observed.double()
    zero = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    affine = bip.weight is not None and bip.bias is not None
    if affine:
        w, b = bip.weight.detach().double(), bip.bias.detach().double()
        projected = [rows @ w for rows in (x_obs, x)]
        offsets = (x_obs @ b, x @ b)
    else:
        offsets = (zero, zero)

    def blocks():
        for hidden in _chunks(bip.n_hidden, x.device, max(1, min(_CHUNK, 2**24 // len(x)))):
            logits = bip.visible_logits(hidden).double()
            prior = bip.log_prior(hidden).double()[None, :]
            base = prior + missing @ softplus(logits).T  # [masks, C]
            base = base if len(masks) == 1 else base[which]
            if affine:
                log_obs = torch.addmm(base, projected[0], hidden.T)
                log_all = torch.addmm(prior, projected[1], hidden.T) if with_all else None
            else:
                log_obs = torch.addmm(base, x_obs, logits.T)
                log_all = torch.addmm(prior, x, logits.T) if with_all else None
            yield logits, log_obs, log_all

    return _Clamped(offsets, blocks())


def _bipartite_for_filling_in(model: EnergyModel, max_bits: int):
    enum = _enumeration(model)
    bip = enum.bipartite
    if bip is None:
        raise TypeError(f"this needs a model with a hidden layer to enumerate (an RBM), got {type(model).__name__}")
    if bip.n_hidden > max_bits:
        raise ValueError(
            f"model is too large to enumerate: its hidden layer has {bip.n_hidden} units and "
            f"the limit is max_bits={max_bits}"
        )
    return bip


def conditional_marginals(
    model: EnergyModel, x: torch.Tensor, observed: torch.Tensor, *, max_bits: int = _MAX_BITS, chunk: int = 4096
) -> torch.Tensor:
    r"""Exact :math:`p(x_i = 1 \mid x_\text{obs})` for every unit, by enumerating the hidden layer.

    With the observed units clamped, the hidden posterior is

    .. math::

        p(h \mid x_\text{obs}) \propto \exp\Big(c^\top h + \sum_{i \in \text{obs}} x_i (b_i + (W h)_i)\Big)
        \prod_{i \in \text{missing}} (1 + e^{b_i + (W h)_i}),

    and a missing unit is on with probability

    .. math::

        \sum_h p(h \mid x_\text{obs})\, \sigma(b_i + (W h)_i).

    These are the per-unit marginals of filling in; for the joint probability of the
    missing units see :func:`conditional_log_likelihood`.

    Args:
        model: a model with a hidden layer of at most ``max_bits`` units (an RBM).
        x: ``[batch, n_visible]`` binary rows (values at unobserved units are ignored).
        observed: ``[batch, n_visible]`` or ``[n_visible]`` boolean mask, True where observed.
        chunk: rows processed at once; within them the hidden states stream in blocks of at
            most ``2^24 / chunk`` (memory is about :math:`2^{24}` float64 numbers).

    Returns:
        ``[batch, n_visible]`` float64 probabilities; observed units are returned as they are.
    """
    bip = _bipartite_for_filling_in(model, max_bits)
    model.check_input(x)
    check_positive_int(chunk, "chunk")
    observed = torch.as_tensor(observed, dtype=torch.bool, device=x.device).expand_as(x)
    out = []
    with torch.no_grad():
        for rows, mask in zip(x.double().split(chunk), observed.split(chunk)):
            top = torch.full((len(rows),), -math.inf, dtype=torch.float64, device=x.device)
            total = torch.zeros(len(rows), dtype=torch.float64, device=x.device)
            acc = torch.zeros_like(rows)
            for logits, log_w, _ in _clamped(bip, rows, mask).blocks:  # a streamed softmax
                new_top = torch.maximum(top, log_w.max(1).values)
                scale, w = torch.exp(top - new_top), torch.exp(log_w - new_top[:, None])
                total = total * scale + w.sum(1)
                acc = acc * scale[:, None] + w @ torch.sigmoid(logits)
                top = new_top
            out.append(torch.where(mask, rows, acc / total[:, None]))
    return torch.cat(out)


def conditional_log_likelihood(
    model: EnergyModel, x: torch.Tensor, observed: torch.Tensor, *, max_bits: int = _MAX_BITS, chunk: int = 4096
) -> torch.Tensor:
    r"""Exact :math:`\log p(x_\text{missing} | x_\text{observed})` of each row: the joint log-probability of filling in.

    .. math::

        p(x_B \mid x_A) = \tilde p(x_A, x_B) / \sum_{x'_B} \tilde p(x_A, x'_B).

    For a model with a hidden layer (an RBM) both sums run over the hidden states, with the
    visible units summed out in closed form; for a model enumerated over its rows, over the
    states that agree with ``x_A``. This is not the sum of the per-unit conditional marginals:
    the missing units are dependent given the observed ones.

    Args:
        model: an RBM (hidden layer at most ``max_bits`` units) or a small binary model.
        x: ``[batch, n]`` binary rows.
        observed: ``[batch, n]`` or ``[n]`` boolean mask, True where observed.
        chunk: rows processed at once (see :func:`conditional_marginals`).

    Returns:
        ``[batch]`` float64 log-probabilities.
    """
    enum = _checked(model, max_bits)
    model.check_input(x)
    check_positive_int(chunk, "chunk")
    observed = torch.as_tensor(observed, dtype=torch.bool, device=x.device).expand_as(x)
    out = []
    with torch.no_grad():
        if enum.bipartite is not None and enum.bipartite.n_hidden <= max_bits:
            for rows, mask in zip(x.double().split(chunk), observed.split(chunk)):
                clamped = _clamped(enum.bipartite, rows, mask, with_all=True)
                parts = [
                    (torch.logsumexp(cast(torch.Tensor, log_all), 1), torch.logsumexp(log_obs, 1))
                    for _, log_obs, log_all in clamped.blocks
                ]
                log_all, log_obs = (torch.logsumexp(torch.stack(p), 0) for p in zip(*parts))
                out.append(clamped.offsets[1] + log_all - clamped.offsets[0] - log_obs)
        else:
            states = binary_states(model.n_features, device=_device_of(model))
            log_p = -model.energy(states).double()  # unnormalized; the normalizer cancels
            step = max(1, min(chunk, 2**24 // len(states)))  # memory: step x 2^n
            for rows, mask in zip(x.double().split(step), observed.split(step)):
                agree = ((states[None] == rows[:, None]) | ~mask[:, None]).all(-1)  # [rows, 2^n]
                log_marg = torch.logsumexp(torch.where(agree, log_p[None], -math.inf), 1)
                out.append(-model.energy(rows).double() - log_marg)
    return torch.cat(out)
