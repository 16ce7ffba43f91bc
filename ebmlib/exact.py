"""Exact ground truth for small models: ``log Z``, ``log p(x)``, marginals, gradients, samples.

Binary models are enumerated state by state, in chunks, in float64 and log space. An
RBM is enumerated over its *smaller* layer, with the other layer summed out in closed
form, so an RBM with 784 visible and 20 hidden units costs 2^20 free energies, not 2^784.
Models with a closed-form ``log_partition`` (the Gaussian) use it; other continuous
models in one or two dimensions can use :func:`log_partition_grid`.

Every function refuses, at once and with the sizes in the message, a model whose
enumeration would exceed ``max_bits`` (default :data:`MAX_BITS`) binary units.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from ._validation import check_generator, check_positive_int
from .models import RBM, BoltzmannMachine, EnergyModel

__all__ = [
    "MAX_BITS",
    "binary_states",
    "enumerated_layer",
    "log_partition",
    "log_likelihood",
    "distribution",
    "marginals",
    "expected_gradient",
    "sample",
    "gibbs_transition",
    "conditional_marginals",
    "log_partition_grid",
]

#: The largest number of binary units enumerated by default (2^24, about 17 million states).
MAX_BITS = 24
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


def enumerated_layer(model: EnergyModel) -> tuple[str, int]:
    """Which layer exact enumeration runs over, and its width: ``("visible", n)`` or ``("hidden", n)``."""
    if not getattr(model, "is_binary", False):
        raise TypeError(
            f"model must be a binary model (BoltzmannMachine, RBM, ...) to enumerate, got {type(model).__name__}"
        )
    if isinstance(model, RBM) and model.n_hidden < model.n_visible:
        return "hidden", model.n_hidden
    return "visible", model.n_features


def _check_size(model: EnergyModel, max_bits: int) -> tuple[str, int]:
    layer, n_bits = enumerated_layer(model)
    check_positive_int(max_bits, "max_bits")
    if n_bits > max_bits:
        raise ValueError(
            f"model is too large to enumerate: its {layer} layer has {n_bits} units "
            f"(2^{n_bits} = {2.0**n_bits:.3g} states) and the limit is max_bits={max_bits} "
            f"(2^{max_bits} = {2**max_bits:,} states). Use an estimator such as "
            f"ebmlib.estimators.ais, or raise max_bits if you have the time and memory."
        )
    return layer, n_bits


def _device(model: EnergyModel) -> torch.device:
    return next(model.parameters()).device


def _chunks(n_bits: int, device: torch.device, chunk_size: int = _CHUNK) -> Iterator[torch.Tensor]:
    total = 2**n_bits
    for start in range(0, total, chunk_size):
        yield binary_states(n_bits, start, min(start + chunk_size, total), device=device)


def _log_weights(model: EnergyModel, layer: str, states: torch.Tensor) -> torch.Tensor:
    """Unnormalized log-probabilities of enumerated states of ``layer`` (float64, ``[chunk]``)."""
    if layer == "hidden":
        return -model.hidden_free_energy(states)
    return -model.energy(states)


def log_partition(model: EnergyModel, *, max_bits: int = MAX_BITS) -> torch.Tensor:
    """Exact ``log Z`` as a 0-d float64 tensor.

    Differentiable with respect to the model's parameters (so ``torch.autograd`` gives the
    exact gradient of ``log Z``) when gradients are enabled; wrap the call in
    ``torch.no_grad()`` to save memory on large enumerations.

    Args:
        model: a binary model (enumerated), or a model with a closed-form ``log_partition``.
        max_bits: refuse to enumerate more than this many binary units.

    Raises:
        ValueError: the model is too large to enumerate, or is continuous with no closed form.
    """
    closed_form = getattr(model, "log_partition", None)
    if callable(closed_form):
        return closed_form()
    if not getattr(model, "is_binary", False):
        raise ValueError(
            f"{type(model).__name__} is continuous with no closed-form log Z; "
            "use ebmlib.exact.log_partition_grid for 1-3 dimensions"
        )
    layer, n_bits = _check_size(model, max_bits)
    parts = [
        torch.logsumexp(_log_weights(model, layer, states), 0)
        for states in _chunks(n_bits, _device(model))
    ]
    return torch.logsumexp(torch.stack(parts), 0)


def log_likelihood(model: EnergyModel, x: torch.Tensor, *, max_bits: int = MAX_BITS) -> torch.Tensor:
    """Exact ``log p(x)`` of each row, float64, shape ``[batch]``."""
    model.check_input(x)
    return -model.energy(x.to(torch.float64)) - log_partition(model, max_bits=max_bits)


def distribution(model: EnergyModel, *, max_bits: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    """Every visible state and its probability.

    Returns:
        ``(states, probs)``: ``[2^n, n]`` float64 states (row ``k`` is the binary code of
        ``k``, least significant bit first) and ``[2^n]`` float64 probabilities summing to 1.
    """
    if not getattr(model, "is_binary", False):
        raise TypeError(f"model must be a binary model, got {type(model).__name__}")
    n = model.n_features
    check_positive_int(max_bits, "max_bits")
    if n > max_bits:
        raise ValueError(
            f"model has {n} visible units (2^{n} states) and distribution() lists at most "
            f"max_bits={max_bits} units; use marginals() or sample() instead"
        )
    with torch.no_grad():
        states = binary_states(n, device=_device(model))
        logw = -model.energy(states)
        return states, torch.softmax(logw, 0)


def _weighted_chunks(model: EnergyModel, max_bits: int) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
    """Yield ``(layer, states, p(states))`` chunk by chunk (probabilities detached)."""
    layer, n_bits = _check_size(model, max_bits)
    with torch.no_grad():
        log_z = log_partition(model, max_bits=max_bits)
    for states in _chunks(n_bits, _device(model)):
        with torch.no_grad():
            weights = torch.exp(_log_weights(model, layer, states) - log_z)
        yield layer, states, weights


def marginals(model: EnergyModel, *, max_bits: int = MAX_BITS) -> torch.Tensor:
    """Exact ``E_p[x]``, the probability that each visible unit is on: ``[n_visible]`` float64."""
    total = None
    with torch.no_grad():
        for layer, states, weights in _weighted_chunks(model, max_bits):
            # Over the hidden layer of an RBM, E[v | h] = sigmoid(visible logits).
            values = torch.sigmoid(model.visible_logits(states)) if layer == "hidden" else states
            part = weights @ values
            total = part if total is None else total + part
    return total


def expected_gradient(model: EnergyModel, *, max_bits: int = MAX_BITS) -> tuple[torch.Tensor, ...]:
    """Exact ``E_{x~p}[grad_theta log p~(x)]``, one float64 tensor per ``model.parameters()``.

    By the identity at the heart of chapter 2 this equals ``grad_theta log Z``; here it is
    computed as a probability-weighted average of per-state gradients, not by
    differentiating :func:`log_partition`, so the two can be checked against each other.
    """
    params = [p for p in model.parameters()]
    total = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    for layer, states, weights in _weighted_chunks(model, max_bits):
        if layer == "hidden":
            # -E(v, h) is linear in v, so E_{v|h}[grad -E(v, h)] = grad -E(E[v|h], h).
            with torch.no_grad():
                mean_v = torch.sigmoid(model.visible_logits(states))
            log_tilde = -model.joint_energy(mean_v, states)
        else:
            log_tilde = -model.energy(states)
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
    max_bits: int = MAX_BITS,
) -> torch.Tensor:
    """Exact, independent samples ``[n_samples, n_visible]`` from a small binary model.

    The enumerated layer is drawn from its exact distribution; for an RBM enumerated over
    its hidden layer, the visible units are then drawn from ``p(v | h)``.
    """
    check_positive_int(n_samples, "n_samples")
    layer, n_bits = _check_size(model, max_bits)
    if n_bits > 20:
        raise ValueError(
            f"exact sampling lists all 2^{n_bits} states' probabilities; it is limited to 20 units"
        )
    device = _device(model)
    check_generator(generator, device)
    with torch.no_grad():
        states = binary_states(n_bits, device=device)
        probs = torch.softmax(_log_weights(model, layer, states), 0)
        idx = torch.multinomial(probs, n_samples, replacement=True, generator=generator)
        drawn = states[idx].to(next(model.parameters()).dtype)
        if layer == "hidden":
            drawn = model.sample_visible(drawn, generator)
    return drawn


def gibbs_transition(model: EnergyModel, *, max_bits: int = 12) -> torch.Tensor:
    """The exact transition matrix of one Gibbs step of :func:`ebmlib.samplers.gibbs`.

    Entry ``[i, j]`` is the probability that one step moves visible state ``i`` to state
    ``j`` (states numbered as in :func:`binary_states`). For a Boltzmann machine the step is
    a systematic-scan sweep (units ``0, ..., n-1`` in turn), the product of one matrix per
    unit; for an RBM it is a block step ``v -> h -> v``, ``sum_h p(h | v) p(v' | h)``.

    Returns:
        A ``[2^n, 2^n]`` float64 matrix whose rows sum to 1, with ``p`` as a left
        eigenvector: ``p @ T = p``.
    """
    if not isinstance(model, (BoltzmannMachine, RBM)):
        raise TypeError(f"gibbs_transition needs a BoltzmannMachine or an RBM, got {type(model).__name__}")
    n = model.n_features
    check_positive_int(max_bits, "max_bits")
    bits = n + (model.n_hidden if isinstance(model, RBM) else 0)
    if n > max_bits or bits > 2 * max_bits:
        raise ValueError(f"a transition matrix over 2^{n} states is too large (max_bits={max_bits})")
    device = _device(model)
    states = binary_states(n, device=device)
    with torch.no_grad():
        if isinstance(model, RBM):
            hidden = binary_states(model.n_hidden, device=device)

            def layer_probs(logits: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
                # p(values | ...) for every row of logits: [rows, 2^m], in log space.
                log_on, log_off = -torch.nn.functional.softplus(-logits), -torch.nn.functional.softplus(logits)
                return torch.exp(log_on @ values.T + log_off @ (1 - values).T)

            return layer_probs(model.hidden_logits(states), hidden) @ layer_probs(model.visible_logits(hidden), states)
        codes = torch.arange(2**n, device=device)
        weight = model.coupling.detach().double()
        bias = model.bias.detach().double()
        sweep = torch.eye(2**n, dtype=torch.float64, device=device)
        for i in range(n):
            on = torch.sigmoid(states @ weight[:, i] + bias[i])  # p(x_i = 1 | x_-i), any x_i
            unit = torch.zeros(2**n, 2**n, dtype=torch.float64, device=device)
            unit[codes, codes | (1 << i)] = on
            unit[codes, codes & ~(1 << i)] = 1 - on
            sweep = sweep @ unit
        return sweep


def conditional_marginals(
    model: RBM, x: torch.Tensor, observed: torch.Tensor, *, max_bits: int = MAX_BITS, chunk: int = 64
) -> torch.Tensor:
    """Exact ``p(x_i = 1 | observed pixels)`` for every unit of an RBM, by enumerating its hidden layer.

    With the observed units clamped, the hidden posterior is
    ``p(h | x_obs) ∝ exp(c^T h + sum_{i obs} x_i (b_i + (W h)_i)) prod_{i missing} (1 + e^{b_i + (W h)_i})``,
    and a missing unit is on with probability ``sum_h p(h | x_obs) sigmoid(b_i + (W h)_i)``.
    This is the Bayes-optimal way to fill in missing values under the model.

    Args:
        model: an RBM whose hidden layer has at most ``max_bits`` units.
        x: ``[batch, n_visible]`` binary rows (values at unobserved units are ignored).
        observed: ``[batch, n_visible]`` or ``[n_visible]`` boolean mask, True where observed.
        chunk: rows processed at once (memory is ``chunk * 2^n_hidden``).

    Returns:
        ``[batch, n_visible]`` float64 probabilities; observed units are returned as they are.
    """
    if not isinstance(model, RBM):
        raise TypeError(f"conditional_marginals needs an RBM, got {type(model).__name__}")
    model.check_input(x)
    observed = torch.as_tensor(observed, dtype=torch.bool, device=x.device).expand_as(x)
    if model.n_hidden > max_bits:
        raise ValueError(
            f"model is too large to enumerate: its hidden layer has {model.n_hidden} units and "
            f"the limit is max_bits={max_bits}"
        )
    device = _device(model)
    out = []
    with torch.no_grad():
        hidden = binary_states(model.n_hidden, device=device)
        logits = model.visible_logits(hidden)  # [2^H, n]
        base = hidden @ model.hidden_bias.double()  # [2^H]
        soft = torch.nn.functional.softplus(logits)
        on = torch.sigmoid(logits)
        for rows, mask in zip(x.double().split(chunk), observed.split(chunk)):
            m = mask.double()
            log_w = base + (rows * m) @ logits.T + (1 - m) @ soft.T  # [chunk, 2^H]
            post = torch.softmax(log_w, dim=1)
            out.append(torch.where(mask, rows, post @ on))
    return torch.cat(out)


def log_partition_grid(
    model: EnergyModel,
    low: float | Sequence[float],
    high: float | Sequence[float],
    n_points: int = 512,
) -> torch.Tensor:
    """``log Z`` of a continuous model in 1-3 dimensions by a midpoint rule on a box.

    The box ``[low, high]^d`` must hold essentially all of the mass; the error of the rule
    falls like ``(cell width)^2`` for smooth energies. Returns a 0-d float64 tensor.
    """
    d = model.n_features
    if getattr(model, "is_binary", False):
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
