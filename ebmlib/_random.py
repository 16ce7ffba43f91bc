"""Fast Bernoulli draws on the CPU: one place for every 0/1 sample ebmlib makes.

Sampling a binary layer means one uniform draw per unit, compared with its probability.
PyTorch's CPU generator (a Mersenne twister behind a lock) takes about 3 ns per float, which
for a block-Gibbs step of a 784 x 500 RBM on 1,000 chains is as long as the two matrix
products themselves. Here the uniforms come from xoshiro256** (Blackman and Vigna 2018, a
generator that passes BigCrush), compiled by numba, and are compared in place: about 1 ns per
unit. The generator's 256-bit state is drawn from the caller's ``torch.Generator`` at every
call, so results are a deterministic function of that generator, as everywhere in ebmlib.

Float32 probabilities are compared with 24-bit uniforms (the resolution of ``torch.rand`` in
float32), two per 64-bit draw; float64 probabilities with 53-bit uniforms. On other devices, for
tensors of fewer than 2,048 entries, or without numba, the same draw is ``torch.rand(...) < p``.

Every random decision in ebmlib (a uniform against a probability, a Metropolis test, logistic
noise) is made in at least float32 (:func:`decision_dtype`), whatever the model's dtype. A
half-precision uniform is coarse: with torch 2.13 on the CPU, a bfloat16 ``torch.rand`` is 0
about once in 512 draws, and a unit on with probability 1e-4 was drawn on about once in 480
(21 times too often; 3.5 times in float16), while u = 0 accepts any Metropolis move of finite
ratio.
"""

from __future__ import annotations

import torch

try:  # numba is a dependency; the torch expression is the fallback and the CUDA path.
    import numba
    import numpy as np
    from numba import float32, float64, uint64

    @numba.njit(inline="always")
    def _rotl(x, k):  # pragma: no cover - compiled
        return (x << uint64(k)) | (x >> uint64(64 - k))

    @numba.njit(nogil=True, cache=True)
    def _bernoulli_f32(p, state):  # pragma: no cover - compiled
        s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
        n = p.shape[0]
        scale = float32(2.0**-24)
        for j in range(-(-n // 2)):
            r = _rotl(s1 * uint64(5), 7) * uint64(9)  # xoshiro256**: output, then advance
            t = s1 << uint64(17)
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = _rotl(s3, 45)
            i = 2 * j
            p[i] = float32(1.0) if float32(r >> uint64(40)) * scale < p[i] else float32(0.0)
            if i + 1 < n:
                b = float32((r >> uint64(8)) & uint64(0xFFFFFF)) * scale
                p[i + 1] = float32(1.0) if b < p[i + 1] else float32(0.0)

    @numba.njit(nogil=True, cache=True)
    def _bernoulli_f64(p, state):  # pragma: no cover - compiled
        s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
        scale = float64(2.0**-53)
        for i in range(p.shape[0]):
            r = _rotl(s1 * uint64(5), 7) * uint64(9)
            t = s1 << uint64(17)
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = _rotl(s3, 45)
            p[i] = 1.0 if float64(r >> uint64(11)) * scale < p[i] else 0.0

    _KERNELS = {torch.float32: _bernoulli_f32, torch.float64: _bernoulli_f64}
except ImportError:  # pragma: no cover - exercised only where numba is missing
    _KERNELS = {}


_increment_version = getattr(getattr(torch.autograd, "graph", None), "increment_version", None)
_SMALL = 2048  # below this, PyTorch's own draw is cheaper than the call into compiled code


def decision_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype in which random decisions about floating tensors of ``dtype`` are made: float32
    for half precision (float16, bfloat16), else ``dtype`` itself (float32 or float64)."""
    return torch.promote_types(dtype, torch.float32)


def uniform(
    shape: int | tuple[int, ...] | torch.Size,
    dtype: torch.dtype,
    device: torch.device | str,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``torch.rand`` for a decision about tensors of ``dtype``: in :func:`decision_dtype`."""
    return torch.rand(shape, dtype=decision_dtype(dtype), device=device, generator=generator)


def bernoulli_(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each probability in ``probs`` by a 0/1 draw with that probability, in place.

    Args:
        probs: a floating tensor of probabilities in ``[0, 1]`` (overwritten).
        generator: a ``torch.Generator`` on ``probs``' device; ``None`` uses the global one.

    Returns:
        ``probs``, now holding 0.0 and 1.0.
    """
    if not probs.is_floating_point():
        raise TypeError(f"probs must be a floating tensor of probabilities, got dtype {probs.dtype}")
    if probs.is_leaf and probs.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            "probs is a leaf tensor that requires grad, and bernoulli_ overwrites it in-place: "
            "draw into a copy, probs.detach().clone(), instead"
        )
    kernel = _KERNELS.get(probs.dtype)
    if (
        kernel is None
        or probs.device.type != "cpu"
        or not probs.is_contiguous()
        or probs.numel() < _SMALL
        or _increment_version is None
    ):
        u = uniform(probs.shape, probs.dtype, probs.device, generator)
        return probs.copy_(u.lt_(probs))
    seed = torch.randint(-(2**63), 2**63 - 1, (4,), generator=generator)
    state = seed.numpy().view(np.uint64).copy()
    if not state.any():  # the one state xoshiro cannot leave
        state[0] = 1
    kernel(probs.detach().view(-1).numpy(), state)
    # The draw wrote through numpy, which autograd does not see: count it as the in-place
    # change it is, so that a graph that saved ``probs`` refuses to use the overwritten values.
    if not probs.is_inference():  # an inference tensor has no version counter to keep
        _increment_version(probs)
    return probs
