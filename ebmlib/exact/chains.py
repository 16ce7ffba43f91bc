"""Chains, exactly: the transition matrix of a Gibbs step and the law of Gibbs chains after any
number of steps, over every visible state of a small binary model."""

from __future__ import annotations

import torch
from torch.nn.functional import softplus

from .._validation import check_positive_int
from ..models import EnergyModel
from ..utils import _device_of
from .enumeration import _enumeration, binary_states

__all__ = ["gibbs_transition", "chain_law"]


def gibbs_transition(model: EnergyModel, *, max_bits: int = 12) -> torch.Tensor:
    r"""The exact transition matrix of one step of :class:`ebmlib.samplers.Gibbs` on ``model``.

    Entry ``[i, j]`` is the probability that one step moves visible state ``i`` to state
    ``j`` (states numbered as in :func:`binary_states`). For a model with a two-layer structure
    (an RBM) the step is a block step :math:`v \to h \to v`, :math:`\sum_h p(h \mid v)\, p(v' \mid h)`; for any
    other binary model it is a systematic-scan sweep (units ``0, ..., n-1`` in turn), the
    product of one matrix per unit, each read off the model's flip gaps.

    Returns:
        A ``[2^n, 2^n]`` float64 matrix whose rows sum to 1, with ``p`` as a left
        eigenvector: :math:`p T = p`.
    """
    enum = _enumeration(model)
    n = model.n_features
    check_positive_int(max_bits, "max_bits")
    bip = enum.bipartite
    if n > max_bits or (bip is not None and bip.n_hidden > 2 * max_bits):
        raise ValueError(f"a transition matrix over 2^{n} states is too large (max_bits={max_bits})")
    device = _device_of(model)
    states = binary_states(n, device=device)
    with torch.no_grad():
        if bip is not None:
            hidden = binary_states(bip.n_hidden, device=device)
            logits = bip.visible_logits(hidden).double()  # [2^H, n]
            log_joint = bip.log_prior(hidden).double()[None, :] + states @ logits.T  # log p~(v, h): [2^n, 2^H]
            h_given_v = torch.softmax(log_joint, dim=1)
            log_v_given_h = -softplus(-logits) @ states.T - softplus(logits) @ (1 - states).T  # [2^H, 2^n]
            return h_given_v @ torch.exp(log_v_given_h)
        codes = torch.arange(2**n, device=device)
        on = torch.sigmoid(-model.flip_gaps(states).double())  # p(x_i = x_i(state) | rest) ...
        on = torch.where(states.bool(), on, 1 - on)  # ... turned into p(x_i = 1 | rest)
        sweep = torch.eye(2**n, dtype=torch.float64, device=device)
        for i in range(n):
            unit = torch.zeros(2**n, 2**n, dtype=torch.float64, device=device)
            unit[codes, codes | (1 << i)] = on[:, i]
            unit[codes, codes & ~(1 << i)] = 1 - on[:, i]
            sweep = sweep @ unit
        return sweep


def chain_law(model: EnergyModel, law: torch.Tensor, n_steps: int = 1, *, max_bits: int = 16) -> torch.Tensor:
    """The exact law of Gibbs chains after ``n_steps`` steps of :class:`ebmlib.samplers.Gibbs`.

    ``law @ gibbs_transition(model)^n_steps``, without forming the matrix: a systematic sweep
    moves probability between the two states of each pair that differ only in unit ``i``
    (:math:`O(n 2^n)` per sweep), and a block step of a two-layer model is two products with
    the conditional tables (:math:`O(2^n 2^H)`). This is what makes the exact expected CD update
    (:func:`ebmlib.objectives.expected_cd`) cheap enough to optimise.

    Args:
        model: a binary model.
        law: ``[2^n]`` (or ``[batch, 2^n]``) probabilities over the visible states, numbered
            as in :func:`binary_states`.
        n_steps: Gibbs steps.

    Returns:
        The law after ``n_steps`` steps, same shape, float64.
    """
    enum = _enumeration(model)
    n = model.n_features
    check_positive_int(n_steps, "n_steps", allow_zero=True)
    check_positive_int(max_bits, "max_bits")
    if n > max_bits:
        raise ValueError(f"a law over 2^{n} states is too large (max_bits={max_bits})")
    device = _device_of(model)
    law = torch.as_tensor(law, dtype=torch.float64, device=device)
    if law.shape[-1] != 2**n:
        raise ValueError(f"law must have 2^{n} = {2**n} entries in its last dimension, got {tuple(law.shape)}")
    states = binary_states(n, device=device)
    with torch.no_grad():
        if enum.bipartite is not None:
            bip = enum.bipartite
            hidden = binary_states(bip.n_hidden, device=device)
            logits = bip.visible_logits(hidden).double()
            h_given_v = torch.softmax(bip.log_prior(hidden).double()[None, :] + states @ logits.T, dim=1)
            v_given_h = torch.exp(-softplus(-logits) @ states.T - softplus(logits) @ (1 - states).T)
            for _ in range(n_steps):
                law = (law @ h_given_v) @ v_given_h
            return law
        on = torch.sigmoid(-model.flip_gaps(states).double())
        on = torch.where(states.bool(), on, 1 - on)  # p(x_i = 1 | rest) for every state, unit
        codes = torch.arange(2**n, device=device)
        for _ in range(n_steps):
            for i in range(n):
                off = codes[(codes >> i) & 1 == 0]  # states with unit i off; their pairs: off | 2^i
                pair = law[..., off] + law[..., off | (1 << i)]
                p_on = on[off, i]
                law = law.clone()
                law[..., off | (1 << i)] = pair * p_on
                law[..., off] = pair * (1 - p_on)
        return law
