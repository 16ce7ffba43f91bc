"""Exact ground truth for small models: ``log Z``, ``log p(x)``, marginals, gradients, samples.

Binary models are enumerated state by state, in chunks, in float64 and log space, over
whatever the model's :meth:`~ebmlib.models.EnergyModel.enumeration` says: its rows for a
Boltzmann machine, its *smaller* layer for an RBM (the other layer summed out in closed
form), so an RBM with 784 visible and 20 hidden units costs 2^20 free energies, not 2^784.
Wrapped models (a :class:`~ebmlib.models.LearnedNormalizer`) enumerate as the model they
wrap. Models with a closed-form ``log Z`` (the Gaussian) use it; other continuous models in
one to three dimensions can use :func:`log_partition_grid`.

Every function refuses, at once and with the sizes in the message, a model whose
enumeration would exceed ``max_bits`` (default 24) binary units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
from torch.nn.functional import softplus

from ._random import bernoulli_
from ._validation import check_generator, check_positive_int
from .models import EnergyModel, Enumeration

__all__ = [
    "binary_states",
    "enumerated_layer",
    "log_partition",
    "log_likelihood",
    "distribution",
    "marginals",
    "expected_gradient",
    "sample",
    "gibbs_transition",
    "chain_law",
    "conditional_marginals",
    "conditional_log_likelihood",
    "asymptotic_covariance",
    "log_partition_grid",
]

_MAX_BITS = 24  # 2^24, about 17 million states
_CHUNK = 2**15


def binary_states(
    n_bits: int,
    start: int = 0,
    stop: int | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The binary vectors whose integer codes are ``start, ..., stop - 1``.

    Row ``k`` holds the bits of ``start + k``, least significant bit in column 0.
    Shape ``[stop - start, n_bits]``. ``binary_states(n)`` lists all ``2^n`` states.
    """
    check_positive_int(n_bits, "n_bits")
    if n_bits > 62:
        raise ValueError(f"n_bits must be <= 62 to index states with int64, got {n_bits}")
    stop = 2**n_bits if stop is None else stop
    codes = torch.arange(start, stop, device=device, dtype=torch.int64)
    shifts = torch.arange(n_bits, device=device, dtype=torch.int64)
    return ((codes[:, None] >> shifts) & 1).to(dtype)


def _enumeration(model: EnergyModel) -> Enumeration:
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an ebmlib EnergyModel, got {type(model).__name__}")
    enum = model.enumeration()
    if enum is None:
        raise TypeError(
            f"model must be a binary model (BoltzmannMachine, RBM, ...) to enumerate, got {type(model).__name__}"
        )
    return enum


def enumerated_layer(model: EnergyModel) -> tuple[str, int]:
    """Which layer exact enumeration runs over, and its width: ``("visible", n)`` or ``("hidden", n)``."""
    enum = _enumeration(model)
    return enum.layer, enum.n_bits


def _checked(model: EnergyModel, max_bits: int) -> Enumeration:
    enum = _enumeration(model)
    check_positive_int(max_bits, "max_bits")
    if enum.n_bits > max_bits:
        raise ValueError(
            f"model is too large to enumerate: its {enum.layer} layer has {enum.n_bits} units "
            f"(2^{enum.n_bits} = {2.0**enum.n_bits:.3g} states) and the limit is max_bits={max_bits} "
            f"(2^{max_bits} = {2**max_bits:,} states). Use an estimator such as "
            f"ebmlib.estimators.ais, or raise max_bits if you have the time and memory."
        )
    return enum


def _device(model: EnergyModel) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _chunks(n_bits: int, device: torch.device, chunk_size: int = _CHUNK) -> Iterator[torch.Tensor]:
    total = 2**n_bits
    for start in range(0, total, chunk_size):
        yield binary_states(n_bits, start, min(start + chunk_size, total), device=device)


def log_partition(model: EnergyModel, *, max_bits: int = _MAX_BITS) -> torch.Tensor:
    """Exact ``log Z`` as a 0-d float64 tensor.

    Differentiable with respect to the model's parameters (so ``torch.autograd`` gives the
    exact gradient of ``log Z``) when gradients are enabled. The enumeration is checkpointed
    chunk by chunk, so a differentiable call costs the memory of one chunk, not of all
    ``2^n`` states; ``backward`` recomputes the chunks.

    Args:
        model: a model with a closed-form ``log Z``, or a binary model (enumerated).
        max_bits: refuse to enumerate more than this many binary units.

    Raises:
        ValueError: the model is too large to enumerate, or is continuous with no closed form.
    """
    closed = model.closed_form_log_partition() if isinstance(model, EnergyModel) else None
    if closed is not None:
        return closed
    if isinstance(model, EnergyModel) and not model.is_binary:
        raise ValueError(
            f"{type(model).__name__} is continuous with no closed-form log Z; "
            "use ebmlib.exact.log_partition_grid for 1-3 dimensions"
        )
    enum = _checked(model, max_bits)

    def part(states: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(enum.log_weight(states), 0)

    tracked = torch.is_grad_enabled() and any(p.requires_grad for p in model.parameters())
    if tracked:  # keep only each chunk's log-sum-exp; backward recomputes the chunk
        from torch.utils.checkpoint import checkpoint

        parts = [checkpoint(part, states, use_reentrant=False) for states in _chunks(enum.n_bits, _device(model))]
    else:
        parts = [part(states) for states in _chunks(enum.n_bits, _device(model))]
    return torch.logsumexp(torch.stack(parts), 0)


def log_likelihood(model: EnergyModel, x: torch.Tensor, *, max_bits: int = _MAX_BITS) -> torch.Tensor:
    """Exact ``log p(x)`` of each row, float64, shape ``[batch]``."""
    model.check_input(x)
    return -model.energy(x.to(torch.float64)) - log_partition(model, max_bits=max_bits)


def distribution(model: EnergyModel, *, max_bits: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Every visible state and its probability.

    Returns:
        ``(states, probs)``: ``[2^n, n]`` float64 states (row ``k`` is the binary code of
        ``k``, least significant bit first) and ``[2^n]`` float64 probabilities summing to 1.
    """
    _enumeration(model)
    n = model.n_features
    check_positive_int(max_bits, "max_bits")
    if n > max_bits:
        raise ValueError(
            f"model has {n} visible units (2^{n} states) and distribution() lists at most "
            f"max_bits={max_bits} units; use marginals() or sample() instead"
        )
    with torch.no_grad():
        states = binary_states(n, device=_device(model))
        return states, torch.softmax(-model.energy(states), 0)


def _weighted_chunks(model: EnergyModel, max_bits: int) -> Iterator[tuple[Enumeration, torch.Tensor, torch.Tensor]]:
    """Yield ``(enumeration, states, p(states))`` chunk by chunk (probabilities detached)."""
    enum = _checked(model, max_bits)
    with torch.no_grad():
        log_z = log_partition(model, max_bits=max_bits)
    for states in _chunks(enum.n_bits, _device(model)):
        with torch.no_grad():
            weights = torch.exp(enum.log_weight(states) - log_z)
        yield enum, states, weights


def marginals(model: EnergyModel, *, max_bits: int = _MAX_BITS) -> torch.Tensor:
    """Exact ``E_p[x]``, the probability that each visible unit is on: ``[n_visible]`` float64."""
    total = None
    with torch.no_grad():
        for enum, states, weights in _weighted_chunks(model, max_bits):
            # Over a hidden layer, E[v | h] = sigmoid(visible logits).
            values = torch.sigmoid(enum.bipartite.visible_logits(states)) if enum.layer == "hidden" else states
            part = weights @ values.double()
            total = part if total is None else total + part
    return total


def expected_gradient(model: EnergyModel, *, max_bits: int = _MAX_BITS) -> tuple[torch.Tensor, ...]:
    """Exact ``E_{x~p}[grad_theta log p~(x)]``, one float64 tensor per ``model.parameters()``.

    By the identity at the heart of chapter 2 this equals ``grad_theta log Z``; here it is
    computed as a probability-weighted average of per-state gradients, not by
    differentiating :func:`log_partition`, so the two can be checked against each other.
    """
    params = list(model.parameters())
    total = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    for enum, states, weights in _weighted_chunks(model, max_bits):
        if enum.layer == "hidden":
            # log p~(v, h) is linear in v, so E_{v|h}[grad log p~(v, h)] = grad log p~(E[v|h], h).
            bip = enum.bipartite
            logits = bip.visible_logits(states)
            log_tilde = bip.log_prior(states) + (torch.sigmoid(logits).detach() * logits).sum(1)
        else:
            log_tilde = enum.log_weight(states)
        grads = torch.autograd.grad(weights @ log_tilde, params, allow_unused=True)
        for acc, g in zip(total, grads):
            if g is not None:
                acc += g
    return tuple(total)


def sample(
    model: EnergyModel,
    n_samples: int,
    *,
    generator: torch.Generator | None = None,
    max_bits: int = _MAX_BITS,
) -> torch.Tensor:
    """Exact, independent samples ``[n_samples, n_visible]`` from a small binary model.

    The enumerated layer is drawn from its exact distribution; for an RBM enumerated over
    its hidden layer, the visible units are then drawn from ``p(v | h)``.
    """
    check_positive_int(n_samples, "n_samples")
    enum = _checked(model, max_bits)
    if enum.n_bits > 20:
        raise ValueError(f"exact sampling lists all 2^{enum.n_bits} states' probabilities; it is limited to 20 units")
    device = _device(model)
    check_generator(generator, device)
    dtype = next(iter(model.parameters())).dtype
    with torch.no_grad():  # the weights chunk by chunk; only the drawn states are built
        log_w = torch.cat([enum.log_weight(states) for states in _chunks(enum.n_bits, device)])
        idx = torch.multinomial(torch.softmax(log_w, 0), n_samples, replacement=True, generator=generator)
        bits = torch.arange(enum.n_bits, device=device)
        drawn = ((idx[:, None] >> bits) & 1).to(dtype)
        if enum.layer == "hidden":
            drawn = bernoulli_(torch.sigmoid(enum.bipartite.visible_logits(drawn)), generator)
    return drawn


def gibbs_transition(model: EnergyModel, *, max_bits: int = 12) -> torch.Tensor:
    """The exact transition matrix of one step of :class:`ebmlib.samplers.Gibbs` on ``model``.

    Entry ``[i, j]`` is the probability that one step moves visible state ``i`` to state
    ``j`` (states numbered as in :func:`binary_states`). For a model with a two-layer structure
    (an RBM) the step is a block step ``v -> h -> v``, ``sum_h p(h | v) p(v' | h)``; for any
    other binary model it is a systematic-scan sweep (units ``0, ..., n-1`` in turn), the
    product of one matrix per unit, each read off the model's flip gaps.

    Returns:
        A ``[2^n, 2^n]`` float64 matrix whose rows sum to 1, with ``p`` as a left
        eigenvector: ``p @ T = p``.
    """
    enum = _enumeration(model)
    n = model.n_features
    check_positive_int(max_bits, "max_bits")
    bip = enum.bipartite
    if n > max_bits or (bip is not None and bip.n_hidden > 2 * max_bits):
        raise ValueError(f"a transition matrix over 2^{n} states is too large (max_bits={max_bits})")
    device = _device(model)
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
    (``O(n 2^n)`` per sweep), and a block step of a two-layer model is two products with
    the conditional tables (``O(2^n 2^H)``). This is what makes the exact expected CD update
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
    device = _device(model)
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
    """Exact ``p(x_i = 1 | observed units)`` for every unit, by enumerating the hidden layer.

    With the observed units clamped, the hidden posterior is
    ``p(h | x_obs) ∝ exp(c^T h + sum_{i obs} x_i (b_i + (W h)_i)) prod_{i missing} (1 + e^{b_i + (W h)_i})``,
    and a missing unit is on with probability ``sum_h p(h | x_obs) sigmoid(b_i + (W h)_i)``.
    These are the per-unit marginals of filling in; for the joint probability of the
    missing units see :func:`conditional_log_likelihood`.

    Args:
        model: a model with a hidden layer of at most ``max_bits`` units (an RBM).
        x: ``[batch, n_visible]`` binary rows (values at unobserved units are ignored).
        observed: ``[batch, n_visible]`` or ``[n_visible]`` boolean mask, True where observed.
        chunk: rows processed at once; within them the hidden states stream in blocks of at
            most ``2^24 / chunk`` (memory is about ``2^24`` float64 numbers).

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
    """Exact ``log p(x_missing | x_observed)`` of each row: the joint log-probability of filling in.

    ``p(x_B | x_A) = p~(x_A, x_B) / sum_{x'_B} p~(x_A, x'_B)``. For a model with a hidden layer
    (an RBM) both sums run over the hidden states, with the visible units summed out in closed
    form; for a model enumerated over its rows, over the states that agree with ``x_A``.
    This is not the sum of the per-unit conditional marginals: the missing units are
    dependent given the observed ones.

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
                    (torch.logsumexp(log_all, 1), torch.logsumexp(log_obs, 1)) for _, log_obs, log_all in clamped.blocks
                ]
                log_all, log_obs = (torch.logsumexp(torch.stack(p), 0) for p in zip(*parts))
                out.append(clamped.offsets[1] + log_all - clamped.offsets[0] - log_obs)
        else:
            states = binary_states(model.n_features, device=_device(model))
            log_p = -model.energy(states).double()  # unnormalized; the normalizer cancels
            step = max(1, min(chunk, 2**24 // len(states)))  # memory: step x 2^n
            for rows, mask in zip(x.double().split(step), observed.split(step)):
                agree = ((states[None] == rows[:, None]) | ~mask[:, None]).all(-1)  # [rows, 2^n]
                log_marg = torch.logsumexp(torch.where(agree, log_p[None], -math.inf), 1)
                out.append(-model.energy(rows).double() - log_marg)
    return torch.cat(out)


def asymptotic_covariance(model: EnergyModel, criterion, *, max_bits: int = 12) -> torch.Tensor:
    """The exact asymptotic covariance of the estimator that minimises ``criterion``, per example.

    For data drawn from ``model`` itself and an estimator ``theta_hat`` that minimises the
    average of a per-example criterion ``l(x; theta)`` (the negative log-likelihood, the negative
    log-pseudolikelihood, ...), ``sqrt(N) (theta_hat - theta)`` tends to a Gaussian with the
    *sandwich* covariance ``H^+ J H^+``: ``H = E_p[grad^2 l]`` and ``J = Cov_p[grad l]``, both
    computed here by enumerating every state. For the likelihood ``H = J`` is the Fisher
    information and the covariance is its inverse, the smallest any consistent estimator can
    reach. Parameters are those of ``model.parameters()`` (flattened); redundant directions
    (a Boltzmann machine's diagonal, say) have no curvature and the pseudo-inverse ignores them.

    Args:
        model: a small binary model (its ``2^n`` states are enumerated one by one).
        criterion: ``criterion(model, x) -> mean over the rows of x``, e.g.
            :func:`ebmlib.objectives.pseudolikelihood`.

    Returns:
        ``[P, P]`` float64, ``P`` the number of scalar parameters; divide by ``N`` for ``N`` examples.
    """
    n = model.n_features
    check_positive_int(max_bits, "max_bits")
    if n > max_bits:
        raise ValueError(f"asymptotic_covariance enumerates 2^{n} states one by one (max_bits={max_bits})")
    params = list(model.parameters())
    states = binary_states(n, device=_device(model))
    with torch.no_grad():
        p = torch.softmax(-model.energy(states).double(), 0)
    losses = torch.stack([criterion(model, state[None]).double() for state in states])  # [S]
    grads = torch.stack(
        [
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=True)]).double()
            for loss in losses
        ]
    )  # per-state gradients, [S, P]
    centred = grads - p @ grads
    j = centred.T @ (centred * p[:, None])
    mean_grad = torch.autograd.grad(p @ losses, params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in mean_grad])
    h = torch.stack(
        [
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(flat[k], params, retain_graph=True)]).double()
            for k in range(len(flat))
        ]
    )
    h_plus = torch.linalg.pinv(0.5 * (h + h.T), hermitian=True)
    return h_plus @ j @ h_plus


def log_partition_grid(
    model: EnergyModel,
    low: float | Sequence[float],
    high: float | Sequence[float],
    n_points: int = 512,
) -> torch.Tensor:
    """``log Z`` of a continuous model in 1-3 dimensions by a midpoint rule on a box.

    The box ``[low, high]^d`` must hold essentially all of the mass; the error of the rule
    falls like ``(cell width)^2`` for smooth energies. Check both: refine the grid, and
    compare with a larger box (the difference bounds the mass outside). Returns a 0-d
    float64 tensor.
    """
    d = model.n_features
    if model.is_binary:
        raise TypeError("log_partition_grid is for continuous models; use log_partition")
    if d > 3:
        raise ValueError(f"log_partition_grid handles 1-3 dimensions, the model has {d}")
    check_positive_int(n_points, "n_points")
    lows = [float(low)] * d if isinstance(low, (int, float)) else [float(v) for v in low]
    highs = [float(high)] * d if isinstance(high, (int, float)) else [float(v) for v in high]
    if len(lows) != d or len(highs) != d or any(h <= l for l, h in zip(lows, highs)):
        raise ValueError(f"low and high must give {d} intervals with low < high")
    device = _device(model)
    axes = [
        l + (h - l) * (torch.arange(n_points, dtype=torch.float64, device=device) + 0.5) / n_points
        for l, h in zip(lows, highs)
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)
    log_cell = sum(math.log((h - l) / n_points) for l, h in zip(lows, highs))
    with torch.no_grad():
        log_w = torch.cat([-model.energy(chunk).to(torch.float64) for chunk in grid.split(_CHUNK)])
    return torch.logsumexp(log_w, 0) + log_cell
