r"""Enumeration: :math:`\log Z`, :math:`\log p(x)`, the whole distribution, marginals, the expected
gradient and exact samples of a small binary model (and :math:`\log Z` in closed form where a model
has one)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from .._random import bernoulli_
from .._validation import check_generator, check_positive_int
from ..models import Bipartite, EnergyModel, Enumeration
from ..utils import _device_of, _dtype_of, _shape
from ._softplus_sum import softplus_sums

__all__ = [
    "binary_states",
    "enumerated_layer",
    "log_partition",
    "log_likelihood",
    "distribution",
    "marginals",
    "expected_gradient",
    "sample",
]

_MAX_BITS = 24  # 2^24, about 17 million states
_CHUNK = 2**15
_COMPILED_WORK = 2**22  # softplus terms from which log Z takes the compiled Gray-code kernel


def binary_states(
    n_bits: int,
    start: int = 0,
    stop: int | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The binary vectors whose integer codes are ``start, ..., stop - 1``.

    Row ``k`` holds the bits of ``start + k``, least significant bit in column 0.
    Shape ``[stop - start, n_bits]``. ``binary_states(n)`` lists all :math:`2^n` states.
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


def _bipartite(enum: Enumeration) -> Bipartite:
    """The two-layer structure of an enumeration over a hidden layer (which always has one)."""
    if enum.bipartite is None:
        raise TypeError(f"an enumeration over the {enum.layer} layer without a two-layer structure")
    return enum.bipartite


def _chunks(n_bits: int, device: torch.device, chunk_size: int = _CHUNK) -> Iterator[torch.Tensor]:
    total = 2**n_bits
    for start in range(0, total, chunk_size):
        yield binary_states(n_bits, start, min(start + chunk_size, total), device=device)


def log_partition(model: EnergyModel, *, max_bits: int = _MAX_BITS) -> torch.Tensor:
    r"""Exact :math:`\log Z` as a 0-d float64 tensor.

    Differentiable with respect to the model's parameters (so ``torch.autograd`` gives the
    exact gradient of :math:`\log Z`) when gradients are enabled. The enumeration is checkpointed
    chunk by chunk, so a differentiable call costs the memory of one chunk, not of all
    :math:`2^n` states; ``backward`` recomputes the chunks.

    Without gradients, an RBM enumerated over its hidden layer (``n_hidden < n_visible``) on the
    CPU with at least :math:`2^{22}` softplus terms takes a compiled kernel that visits the hidden
    states in Gray-code order (``ebmlib/exact/_softplus_sum.py``): a 784 x 20 RBM in well under
    a second, in float64, in the memory of one float64 per state.

    Args:
        model: a model with a closed-form :math:`\log Z`, or a binary model (enumerated).
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
    free = None if tracked else _hidden_log_weights(enum, _device_of(model))
    if free is not None:
        bip = _bipartite(enum)
        parts = [
            torch.logsumexp(bip.log_prior(states).double() + free[i * _CHUNK : i * _CHUNK + len(states)], 0)
            for i, states in enumerate(_chunks(enum.n_bits, free.device))
        ]
    elif tracked:  # keep only each chunk's log-sum-exp; backward recomputes the chunk
        from torch.utils.checkpoint import checkpoint

        parts = [checkpoint(part, states, use_reentrant=False) for states in _chunks(enum.n_bits, _device_of(model))]
    else:
        parts = [part(states) for states in _chunks(enum.n_bits, _device_of(model))]
    return torch.logsumexp(torch.stack(parts), 0)


def _hidden_log_weights(enum: Enumeration, device: torch.device) -> torch.Tensor | None:
    r""":math:`\sum_i \operatorname{softplus}(b + W h)_i` for every hidden state (float64, ``[2^m]``,
    natural order) by the compiled kernel of ``ebmlib/exact/_softplus_sum.py``; ``None`` where it
    does not apply (no numba, not the CPU, not a hidden-layer enumeration with an explicit weight,
    or too little work to repay it), and the caller evaluates ``log_weight`` with torch."""
    bip = enum.bipartite
    if softplus_sums is None or device.type != "cpu" or enum.layer != "hidden":
        return None
    if bip is None or bip.weight is None or bip.bias is None:
        return None
    if 2**enum.n_bits * bip.weight.shape[0] < _COMPILED_WORK:
        return None
    weight = bip.weight.detach().to(torch.float64).numpy()
    bias = bip.bias.detach().to(torch.float64).numpy()
    return torch.from_numpy(softplus_sums(weight, bias))


def log_likelihood(model: EnergyModel, x: torch.Tensor, *, max_bits: int = _MAX_BITS) -> torch.Tensor:
    r"""Exact :math:`\log p(x)` of each row, float64, shape ``[batch]``."""
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
        states = binary_states(n, device=_device_of(model))
        return states, torch.softmax(-model.energy(states), 0)


def _weighted_chunks(model: EnergyModel, max_bits: int) -> Iterator[tuple[Enumeration, torch.Tensor, torch.Tensor]]:
    """Yield ``(enumeration, states, p(states))`` chunk by chunk (probabilities detached)."""
    enum = _checked(model, max_bits)
    with torch.no_grad():
        log_z = log_partition(model, max_bits=max_bits)
    for states in _chunks(enum.n_bits, _device_of(model)):
        with torch.no_grad():
            weights = torch.exp(enum.log_weight(states) - log_z)
        yield enum, states, weights


def marginals(model: EnergyModel, *, max_bits: int = _MAX_BITS) -> torch.Tensor:
    r"""Exact :math:`\mathbb{E}_p[x]`, the probability that each visible unit is on: ``[n_visible]`` float64."""
    total = None
    with torch.no_grad():
        for enum, states, weights in _weighted_chunks(model, max_bits):
            # Over a hidden layer, E[v | h] = sigmoid(visible logits).
            values = torch.sigmoid(_bipartite(enum).visible_logits(states)) if enum.layer == "hidden" else states
            part = weights @ values.double()
            total = part if total is None else total + part
    assert total is not None  # there is at least one chunk
    return total


def expected_gradient(model: EnergyModel, *, max_bits: int = _MAX_BITS) -> tuple[torch.Tensor, ...]:
    r"""The exact expected gradient, one float64 tensor per ``model.parameters()``:

    .. math::

        \mathbb{E}_{x \sim p}[\nabla_\theta \log \tilde p(x)].

    By the identity at the heart of chapter 2 this equals :math:`\nabla_\theta \log Z`; here it is
    computed as a probability-weighted average of per-state gradients, not by
    differentiating :func:`log_partition`, so the two can be checked against each other.
    """
    params = list(model.parameters())
    total = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    for enum, states, weights in _weighted_chunks(model, max_bits):
        if enum.layer == "hidden":
            # log p~(v, h) is linear in v, so E_{v|h}[grad log p~(v, h)] = grad log p~(E[v|h], h).
            bip = _bipartite(enum)
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
    sample_shape: int | Sequence[int] | torch.Size = (),
    *,
    generator: torch.Generator | None = None,
    max_bits: int = _MAX_BITS,
) -> torch.Tensor:
    """Exact, independent samples ``sample_shape + [n_visible]`` from a small binary model.

    The enumerated layer is drawn from its exact distribution; for an RBM enumerated over
    its hidden layer, the visible units are then drawn from ``p(v | h)``. ``sample_shape``
    may be an int ``n`` (the same as ``(n,)``), as in ``torch.distributions``.
    """
    shape = _shape(sample_shape)
    n_samples = shape.numel()
    if n_samples == 0:
        raise ValueError(f"sample_shape must ask for at least one sample, got {tuple(shape)}")
    enum = _checked(model, max_bits)
    if enum.n_bits > 20:
        raise ValueError(f"exact sampling lists all 2^{enum.n_bits} states' probabilities; it is limited to 20 units")
    device = _device_of(model)
    check_generator(generator, device)
    dtype = _dtype_of(model)
    with torch.no_grad():  # the weights chunk by chunk; only the drawn states are built
        log_w = torch.cat([enum.log_weight(states) for states in _chunks(enum.n_bits, device)])
        idx = torch.multinomial(torch.softmax(log_w, 0), n_samples, replacement=True, generator=generator)
        bits = torch.arange(enum.n_bits, device=device)
        drawn = ((idx[:, None] >> bits) & 1).to(dtype)
        if enum.layer == "hidden":
            drawn = bernoulli_(torch.sigmoid(_bipartite(enum).visible_logits(drawn)), generator=generator)
    return drawn.reshape(*shape, drawn.shape[-1])
