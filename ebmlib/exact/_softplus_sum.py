r"""The free energy of every hidden state of an RBM-like model, compiled: the work of exact
:math:`\log Z` when the enumerated layer is the smaller, hidden one.

For every code :math:`g < 2^m` of the hidden layer, with bits :math:`h(g)`,

.. math::

    S(g) = \sum_{i=1}^{n} \operatorname{softplus}\big(x_i(g)\big), \qquad x(g) = b + W h(g),

is :math:`n 2^m` softplus terms (for a 784 x 20 RBM, 8.2 x 10^8), and evaluating them one by
one (an ``exp`` and a ``log1p`` each) is the whole cost of :math:`\log Z`. Here the states are
visited in Gray-code order, where consecutive states differ in one bit :math:`j`, so that

* :math:`x` changes by :math:`\pm W_{:j}` (an addition, not a matrix product), and
* :math:`E_i = e^{x_i}` and :math:`R_i = e^{-x_i}` change by the factors :math:`e^{\pm W_{ij}}`
  (a multiplication, not an ``exp``).

With :math:`\operatorname{softplus}(x) = \max(x, 0) + \log(1 + e^{-|x|})` and
:math:`e^{-|x|} = \min(E, R)`, a state costs per unit an addition, two multiplications, a
minimum and a product, and one ``log`` per 512 units (each factor :math:`1 + e^{-|x|}` lies in
(1, 2], so a product of 512 of them stays below :math:`2^{512}`: no overflow). Every block of
1,024 states starts from :math:`x`, :math:`E` and :math:`R` computed afresh, so the products'
rounding (about one unit in the last place per step) stays below :math:`10^{-13}` relative; a
block where some :math:`|x_i|` could pass 600 (so that :math:`e^{|x_i|}` could overflow) takes
the plain formula instead. Blocks run on ``torch.get_num_threads()`` Python threads (the compiled
loop releases the GIL; numba's own ``parallel=True`` would start an OpenMP runtime beside
torch's, whose idle threads then spin against torch's). Results are float64, in natural order
(``out[g]`` for the state whose bits are those of ``g``, least significant bit first, as
:func:`ebmlib.exact.binary_states` lists them).

Without numba :func:`softplus_sums` is ``None`` and the caller evaluates the terms with torch.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

_UNIT_CHUNK = 512  # factors multiplied before one log: each is at most 2
_BLOCK_BITS = 10  # 1,024 states per block, each started afresh
_SAFE = 600.0  # |x| above which e^|x| could overflow within a block

softplus_sums: Callable[[np.ndarray, np.ndarray], np.ndarray] | None

try:  # numba is a dependency; torch's softplus is the fallback.
    import numba

    @numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract", "nsz"})
    def _softplus_sums(weight_t, bias, up, down, reach, out, first_block, last_block):  # pragma: no cover
        m, n = weight_t.shape  # weight_t[j] is the column W[:, j], contiguous
        k = min(m, _BLOCK_BITS)
        block = 1 << k
        for b in range(first_block, last_block):
            x = bias.copy()
            first = b * block
            code = first ^ (first >> 1)
            for j in range(m):
                if (code >> j) & 1:
                    for i in range(n):
                        x[i] += weight_t[j, i]
            safe = True
            for i in range(n):
                if abs(x[i]) + reach[i] > _SAFE:
                    safe = False
            e = np.exp(x)
            r = np.exp(-x)
            for t in range(block):
                if t > 0:
                    step = first + t
                    j = 0
                    while not (step >> j) & 1:  # the bit that flips: the lowest set bit of step
                        j += 1
                    code ^= 1 << j
                    if (code >> j) & 1:
                        for i in range(n):
                            x[i] += weight_t[j, i]
                            e[i] *= up[j, i]
                            r[i] *= down[j, i]
                    else:
                        for i in range(n):
                            x[i] -= weight_t[j, i]
                            e[i] *= down[j, i]
                            r[i] *= up[j, i]
                total = 0.0
                if safe:
                    for start in range(0, n, _UNIT_CHUNK):
                        product = 1.0
                        for i in range(start, min(start + _UNIT_CHUNK, n)):
                            product *= 1.0 + min(e[i], r[i])
                            total += max(x[i], 0.0)
                        total += np.log(product)
                else:
                    for i in range(n):
                        total += max(x[i], 0.0) + np.log1p(np.exp(-abs(x[i])))
                out[code] = total

    def softplus_sums(weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """``S[g] = sum_i softplus(bias_i + (weight @ h(g))_i)`` for every ``g < 2^m``.

        ``weight`` is ``[n, m]`` and ``bias`` ``[n]``, both converted to float64; the result is
        float64 of shape ``[2^m]``.
        """
        weight_t = np.ascontiguousarray(np.asarray(weight, dtype=np.float64).T)
        bias = np.ascontiguousarray(bias, dtype=np.float64)
        m = weight_t.shape[0]
        k = min(m, _BLOCK_BITS)
        up, down = np.exp(weight_t), np.exp(-weight_t)
        reach = np.abs(weight_t[:k]).sum(0)  # how far x can move within a block
        out = np.empty(1 << m, dtype=np.float64)
        n_blocks = 1 << (m - k)
        workers = max(1, min(torch.get_num_threads(), n_blocks))
        bounds = [n_blocks * w // workers for w in range(workers + 1)]
        jobs = [(weight_t, bias, up, down, reach, out, lo, hi) for lo, hi in zip(bounds, bounds[1:])]
        if workers == 1:
            _softplus_sums(*jobs[0])
        else:  # the compiled loop releases the GIL: plain threads, no second OpenMP runtime beside torch's
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(lambda job: _softplus_sums(*job), jobs))
        return out

except ImportError:  # pragma: no cover - exercised only where numba is missing
    softplus_sums = None
