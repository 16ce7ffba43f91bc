"""Small helpers the library and the chapters share: randomness, devices, log-space, timing.

Randomness follows one protocol across ebmlib: every function or constructor that draws
random numbers takes ``generator=`` (a ``torch.Generator`` on the device of the draws).
With a generator it never touches PyTorch's global random state; with ``generator=None``
it draws from the global state, as PyTorch's own functions do. :func:`make_generator`
gives each experiment its own reproducible stream, and :func:`draw` samples any object
(``torch.distributions`` included) with a generator.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import torch

from . import _random
from ._validation import check_generator, check_positive_int

__all__ = [
    "seed_everything",
    "make_generator",
    "get_device",
    "draw",
    "log_mean_exp",
    "bernoulli_",
    "bernoulli_from_logits",
    "logistic_noise",
    "base_rate_logits",
    "flat_grad",
    "progress_range",
    "time_call",
]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global random states (CPU and CUDA).

    ebmlib itself draws from explicit generators (:func:`make_generator`); this is for
    code outside it that uses the global states.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_generator(seed: int, *keys: object, device: str | torch.device | None = None) -> torch.Generator:
    """A ``torch.Generator`` seeded from ``seed`` and any number of ``keys``.

    Equal arguments give equal streams; different keys give unrelated streams. Giving each
    experiment of a run its own key keeps it reproducible however much randomness the
    experiments before it consumed (a run with a time budget draws a machine-dependent amount).

    Args:
        seed: a non-negative int.
        keys: anything with a stable ``repr`` (strings, numbers), naming the stream.
        device: where the generator draws (default CPU).

    Example:
        ``gen = make_generator(0, "pcd", 3)`` gives the same stream in every run.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    digest = hashlib.sha256(repr((seed, *keys)).encode()).digest()
    generator = torch.Generator(device=get_device(device) if device is not None else "cpu")
    return generator.manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def _on_cpu(generator: torch.Generator | None) -> torch.Generator | None:
    """A CPU generator for CPU-only draws: ``generator`` itself, or one seeded from it."""
    if generator is None or generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    return torch.Generator().manual_seed(seed)


def _factory_device(device, generator: torch.Generator | None):
    """Where a constructor creates its parameters: ``device``, else the generator's device."""
    if device is not None:
        return device
    return generator.device if generator is not None else None


def _device_of(module: torch.nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    p = next(iter(module.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _dtype_of(module: torch.nn.Module) -> torch.dtype:
    """The dtype of a module's first parameter (the default dtype for a module without parameters)."""
    p = next(iter(module.parameters()), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def get_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve a device name: ``"auto"`` picks CUDA when it is available, else CPU.

    Args:
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``.
    """
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here")
    return resolved


def _shape(sample_shape: int | Sequence[int] | torch.Size) -> torch.Size:
    if isinstance(sample_shape, bool):
        raise TypeError("sample_shape must be an int or a tuple of ints")
    if isinstance(sample_shape, int):
        sample_shape = (sample_shape,)
    try:
        shape = torch.Size(sample_shape)
    except TypeError as err:
        raise TypeError(f"sample_shape must be an int or a tuple of ints, got {sample_shape!r}") from err
    if any(s < 0 for s in shape):
        raise ValueError(f"sample_shape must hold non-negative sizes, got {tuple(shape)}")
    return shape


def _distribution_device(distribution: torch.distributions.Distribution) -> torch.device:
    for value in vars(distribution).values():
        if isinstance(value, torch.Tensor):
            return value.device
        if isinstance(value, torch.distributions.Distribution):
            return _distribution_device(value)
    return torch.device("cpu")


def draw(
    source: object,
    sample_shape: int | Sequence[int] | torch.Size = (),
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``source.sample(sample_shape)`` with a generator, for any source of samples.

    ebmlib's models and flows take ``generator=`` themselves. ``torch.distributions``
    objects take none; for them the global random state of their device is set from
    ``generator`` for the one call and restored afterwards, so the draw is a deterministic
    function of ``generator`` and the global state is left as it was.

    Args:
        source: an object with ``sample(sample_shape[, generator])``.
        sample_shape: an int ``n`` (the same as ``(n,)``) or a shape.
        generator: a ``torch.Generator``, or ``None`` for the global random state.

    Returns:
        A tensor of shape ``sample_shape + event_shape``.
    """
    if not callable(getattr(source, "sample", None)):
        raise TypeError(f"{type(source).__name__} has no sample method")
    shape = _shape(sample_shape)
    if not isinstance(source, torch.distributions.Distribution):
        return cast(Any, source).sample(shape, generator=generator)
    if generator is None:
        return source.sample(shape)
    device = _distribution_device(source)
    check_generator(generator, device)
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index]):
            torch.cuda.default_generators[index].manual_seed(seed)
            return source.sample(shape)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return source.sample(shape)


def log_mean_exp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r""":math:`\log(\operatorname{mean}(\exp(x)))` along ``dim``, computed stably with logsumexp.

    Args:
        x: any floating tensor.
        dim: the dimension to average over.

    Returns:
        ``x`` with ``dim`` reduced.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError("x must be a floating torch.Tensor")
    n = x.shape[dim]
    if n == 0:
        raise ValueError(f"x must have at least one entry along dim={dim}")
    return torch.logsumexp(x, dim=dim) - math.log(n)


def bernoulli_(probs: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each probability in ``probs`` by a 0/1 draw with that probability, in place.

    Args:
        probs: a floating tensor of probabilities in ``[0, 1]`` (overwritten).
        generator: a ``torch.Generator`` on ``probs``' device; ``None`` uses the global one.

    Returns:
        ``probs``, now holding 0.0 and 1.0.
    """
    return _random.bernoulli_(probs, generator=generator)


def bernoulli_from_logits(logits: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""0/1 draws with :math:`P(1) = \sigma(\text{logits})`: a new tensor, same shape, dtype and device."""
    return _random.bernoulli_(torch.sigmoid(logits.detach()), generator=generator)


def logistic_noise(like: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Standard logistic noise :math:`g = \log u - \log(1 - u)`, :math:`u \sim U(0, 1)`, shaped like ``like``.

    A binary unit with log-odds :math:`f` is on with probability :math:`\sigma(f)` exactly
    when :math:`f > g`: drawing the noise of a whole sweep up front is how the Gibbs sweeps of
    :mod:`ebmlib.models` turn their conditionals into comparisons.

    Args:
        like: the draws take its shape and device, and its dtype for float32 and float64
            (float32 for half precision: see ``ebmlib._random.decision_dtype``).
        generator: a ``torch.Generator`` on ``like``'s device.
    """
    u = _random.uniform(like.shape, like.dtype, like.device, generator)
    return torch.logit(u)


def base_rate_logits(data: torch.Tensor, smoothing: float = 0.05) -> torch.Tensor:
    """Log-odds of each unit's (smoothed) mean in binary ``data``: ``[N, n] -> [n]`` float64.

    These are the visible biases of the *base-rate* model, independent units with the
    data's means: a common start for an RBM's visible biases and a base for AIS.
    """
    if not isinstance(data, torch.Tensor) or data.dim() != 2:
        raise ValueError("data must be a [N, n] tensor")
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    p = (data.double().sum(0) + smoothing) / (len(data) + 2 * smoothing)
    return torch.log(p) - torch.log1p(-p)


def flat_grad(scalar: torch.Tensor, params: Sequence[torch.Tensor]) -> torch.Tensor:
    """The gradient of ``scalar`` with respect to ``params``, as one float64 vector.

    Parameters the scalar does not depend on contribute zeros.
    """
    params = list(params)
    grads = torch.autograd.grad(scalar, params, allow_unused=True)
    return torch.cat(
        [(torch.zeros_like(p) if g is None else g).reshape(-1).to(torch.float64) for p, g in zip(params, grads)]
    )


def progress_range(n: int, enabled: bool, desc: str = ""):
    """``range(n)``, wrapped in a tqdm progress bar when ``enabled``.

    tqdm is imported only when a bar is asked for, so that a plain run prints nothing. In a
    notebook with ipywidgets the bar is a widget; without ipywidgets it is tqdm's text bar
    (``tqdm.auto`` would fall back to it too, but with a warning on every first use).
    """
    if not enabled:
        return range(n)
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm

    return tqdm(range(n), desc=desc, leave=False)


def time_call(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, number: int = 1) -> float:
    """Seconds per call of ``fn()``: the best of ``repeats`` timings of ``number`` calls each.

    The minimum is the timing least disturbed by anything else on the machine. Queued CUDA
    work is waited for before the clock starts and stops, so GPU timings are real.

    Args:
        fn: the function to time (its result is ignored).
        repeats: timings taken.
        warmup: untimed calls first (compilation, caches, allocators).
        number: calls per timing (raise it for calls of a few microseconds).
    """
    check_positive_int(repeats, "repeats")
    check_positive_int(warmup, "warmup", allow_zero=True)
    check_positive_int(number, "number")

    def sync() -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best / number
