r"""The systematic-scan sweep of a fully visible Boltzmann machine.

Unit ``i`` is redrawn from ``p(x_i | x_-i)``, whose log-odds is its local field
:math:`f_i = b_i + \sum_j W_{ij} x_j`; units are visited in order ``0, 1, ..., n-1`` and each
draw sees the units already redrawn in this sweep. The scan is sequential by nature,
so the work is organised to keep each step tiny:

* all the randomness of a sweep is drawn up front, as logistic noise ``g``
  (:math:`x_i = 1` exactly when ``f_i > g_i``, which happens with probability :math:`\sigma(f_i)`);
* the fields of all units are computed once per sweep with one matrix product and then
  kept current: when unit ``i`` flips by ``d`` (+1 or -1), every field moves by ``d * W[i]``.

On CPU the loop runs as compiled code through numba (the state, fields and noise are
shared with the tensors, not copied); elsewhere, or without numba, the same loop runs
as tensor operations. Both consume the same noise, so they give the same chains.

:func:`sweep` is the one entry point: it draws the noise and scans in either order. The
Boltzmann machine's Gibbs sweep and the Boltzmann-machine annealing path of
:mod:`ebmlib.estimators` both call it.
"""

from __future__ import annotations

import torch

from ..utils import logistic_noise

try:  # numba is a dependency; the tensor loop below is the fallback and the CUDA path.
    import numba

    @numba.njit(cache=True, nogil=True)
    def _scan_numba(x, fields, noise, weight):  # pragma: no cover - compiled
        n_chains, n_units = x.shape
        for c in range(n_chains):
            for i in range(n_units):
                new = 1.0 if fields[c, i] > noise[c, i] else 0.0
                delta = new - x[c, i]
                if delta != 0.0:
                    x[c, i] = new
                    for j in range(n_units):
                        fields[c, j] += delta * weight[i, j]

except ImportError:  # pragma: no cover - exercised only where numba is missing
    _scan_numba = None  # type: ignore[assignment]


def _scan_torch(x: torch.Tensor, fields: torch.Tensor, noise: torch.Tensor, weight: torch.Tensor) -> None:
    for i in range(x.shape[1]):
        new = (fields[:, i] > noise[:, i]).to(x.dtype)
        delta = new - x[:, i]
        x[:, i] = new
        fields.addr_(delta, weight[i])


def systematic_scan(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    noise: torch.Tensor,
    backend: str = "auto",
) -> torch.Tensor:
    """One sweep over all units, in place on a copy of ``x``.

    Args:
        x: ``[chains, n]`` 0/1 state.
        weight: ``[n, n]`` symmetric couplings with zero diagonal (same dtype as ``x``).
        bias: ``[n]``.
        noise: ``[chains, n]`` logistic noise for this sweep (float32 for half-precision ``x``).
        backend: ``"auto"`` (numba on CPU when available), ``"numba"`` or ``"torch"``.

    Returns:
        The new state, a new tensor of the shape of ``x``.
    """
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', got {backend!r}")
    use_numba = (
        x.device.type == "cpu"
        and _scan_numba is not None
        and backend != "torch"
        and x.dtype in (torch.float32, torch.float64)  # numba has no half precision
        and noise.dtype == x.dtype  # the noise is float32 for a half-precision x
    )
    if backend == "numba" and not use_numba:
        raise ValueError("backend='numba' needs numba installed and float32 or float64 tensors on the CPU")
    x = x.detach().clone().contiguous()
    fields = torch.addmm(bias, x, weight).contiguous()
    if use_numba:
        _scan_numba(
            x.numpy(), fields.numpy(), noise.detach().contiguous().numpy(), weight.detach().contiguous().numpy()
        )
    else:
        _scan_torch(x, fields, noise, weight)
    return x


def sweep(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    order: str = "forward",
    backend: str = "auto",
) -> torch.Tensor:
    """One Gibbs sweep of the Boltzmann machine ``(weight, bias)`` from ``x``: a new tensor.

    Args:
        x: ``[chains, n]`` 0/1 states.
        weight: ``[n, n]`` symmetric couplings with zero diagonal, in ``x``'s dtype.
        bias: ``[n]``, in ``x``'s dtype.
        generator: random generator on ``x``'s device (the sweep's logistic noise).
        order: ``"forward"`` (units ``0, ..., n-1``) or ``"reverse"`` (``n-1, ..., 0``, the time
            reversal of the forward scan).
        backend: ``"auto"`` (numba on CPU when available), ``"numba"`` or ``"torch"``.
    """
    if order not in ("forward", "reverse"):
        raise ValueError(f"order must be 'forward' or 'reverse', got {order!r}")
    noise = logistic_noise(x, generator=generator)
    if order == "reverse":
        return systematic_scan(x.flip(1), weight.flip(0, 1), bias.flip(0), noise, backend).flip(1)
    return systematic_scan(x, weight, bias, noise, backend)
