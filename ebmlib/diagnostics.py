"""Measuring how well chains mix: which mode a state is in, how often chains change mode, and the
Markov chain diagnostics :func:`ess` (effective sample size) and :func:`rhat` over a batch of chains."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["nearest_pattern", "nearest_distance", "hop_rate", "ess", "rhat", "ChainSummary", "summarize"]


def nearest_pattern(x: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Index of the nearest row of ``patterns`` (Hamming distance for 0/1 data, else L1).

    Args:
        x: ``[batch, n]`` states.
        patterns: ``[k, n]`` reference states (for example the modes of the data).

    Returns:
        ``[batch]`` int64 indices into ``patterns`` (ties go to the lower index).
    """
    return _distances(x, patterns).argmin(1)


def nearest_distance(x: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Distance from each row of ``x`` to the nearest row of ``patterns`` (Hamming for 0/1 data).

    Args:
        x: ``[batch, n]`` states (model samples, say).
        patterns: ``[k, n]`` reference states (the training images, say).

    Returns:
        ``[batch]`` float distances: for 0/1 rows, how many units differ from the closest pattern.
    """
    return _distances(x, patterns).min(1).values


def _distances(x: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    if x.dim() != 2 or patterns.dim() != 2 or x.shape[1] != patterns.shape[1]:
        raise ValueError(
            f"x [batch, n] and patterns [k, n] must share n, got {tuple(x.shape)} and {tuple(patterns.shape)}"
        )
    return torch.cdist(x.float(), patterns.float().to(x.device), p=1)


def hop_rate(labels: torch.Tensor) -> float:
    """Fraction of steps at which a chain's label changes (a mode-hopping rate).

    Args:
        labels: ``[steps, chains]`` the mode label of every chain at every step, e.g.
            from :func:`nearest_pattern`.
    """
    if labels.dim() != 2 or labels.shape[0] < 2:
        raise ValueError(f"labels must have shape [steps >= 2, chains], got {tuple(labels.shape)}")
    return (labels[1:] != labels[:-1]).double().mean().item()


# --- Markov chain diagnostics over a batch of chains: effective sample size and R-hat -------------
#
# Both follow Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021), "Rank-normalization,
# folding, and localization: an improved R-hat for assessing convergence of MCMC", as Stan's
# posterior package and ArviZ compute them. Draws are [n_steps, n_chains] (one quantity) or
# [n_steps, n_chains, d] (d quantities, each diagnosed on its own): the shape of run_chain's traces.


def _chains(draws: object, name: str, min_steps: int, min_chains: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """``[n_steps, n_chains(, d)]`` -> float64 ``[d, n_chains, n_steps]`` and the output shape."""
    if not isinstance(draws, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape [n_steps, n_chains] or [n_steps, n_chains, d], "
            f"got {type(draws).__name__}"
        )
    if draws.dim() not in (2, 3):
        raise ValueError(
            f"{name} must have shape [n_steps, n_chains] or [n_steps, n_chains, d], got {tuple(draws.shape)}"
        )
    n_steps, n_chains = draws.shape[:2]
    if n_steps < min_steps:
        raise ValueError(f"{name} has {n_steps} steps; at least {min_steps} are needed")
    if n_chains < min_chains:
        raise ValueError(f"{name} has {n_chains} chains; at least {min_chains} are needed")
    if draws.dim() == 3 and draws.shape[2] == 0:
        raise ValueError(f"{name} has no quantities (d = 0)")
    x = draws.detach().to(torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    out_shape = () if draws.dim() == 2 else (draws.shape[2],)
    x = x[:, :, None] if draws.dim() == 2 else x
    flat = x.reshape(-1, x.shape[2])
    constant = (flat.amax(0) - flat.amin(0)) == 0
    if bool(constant.any()):
        which = "" if draws.dim() == 2 else f" (quantities {constant.nonzero().flatten().tolist()})"
        raise ValueError(f"{name} are constant{which}: their effective sample size and R-hat are undefined")
    return x.permute(2, 1, 0).contiguous(), out_shape


def _halves(x: torch.Tensor) -> torch.Tensor:
    """Each chain's halves as two chains: ``[v, m, n] -> [v, 2m, n // 2]`` (an odd middle draw is dropped)."""
    half = x.shape[2] // 2
    return torch.cat([x[:, :, :half], x[:, :, x.shape[2] - half :]], 1)


def _z_scale(x: torch.Tensor) -> torch.Tensor:
    """Rank-normalize each quantity over all its draws: ``Phi^-1((r - 3/8) / (S + 1/4))``, average ranks for ties."""
    v, m, n = x.shape
    flat = x.reshape(v, m * n)
    ordered = flat.sort(1).values
    below = torch.searchsorted(ordered, flat, right=False)
    upto = torch.searchsorted(ordered, flat, right=True)
    rank = (below + upto + 1).to(torch.float64) / 2  # 1-based ranks, averaged over ties
    return torch.special.ndtri((rank - 0.375) / (m * n + 0.25)).reshape(v, m, n)


def _fold(x: torch.Tensor) -> torch.Tensor:
    """``|x - median|``, each quantity's median taken over all its draws (mean of the middle two if even)."""
    v = x.shape[0]
    ordered = x.reshape(v, -1).sort(1).values
    size = ordered.shape[1]
    median = 0.5 * (ordered[:, (size - 1) // 2] + ordered[:, size // 2])
    return (x - median[:, None, None]).abs()


def _rhat_basic(x: torch.Tensor) -> torch.Tensor:
    """Gelman-Rubin ``sqrt(((n - 1)/n W + B/n) / W)`` of ``[v, m, n]`` chains: ``[v]``."""
    n = x.shape[2]
    within = x.var(2, correction=1).mean(1)
    between = n * x.mean(2).var(1, correction=1)
    ratio = torch.where(within > 0, between / within, torch.full_like(within, math.inf))
    return torch.sqrt((ratio + n - 1) / n)


def _ess_basic(x: torch.Tensor) -> torch.Tensor:
    """Effective sample size of ``[v, m, n]`` chains by Geyer's initial monotone sequence: ``[v]``.

    The autocorrelations combine the chains as in Vehtari et al. (2021, eq. 10):
    ``rho_t = 1 - (W - mean_chains(acov_t)) / var_plus`` with ``var_plus = (n - 1)/n W + B/n``.
    Sums of consecutive pairs ``P_k = rho_2k + rho_2k+1`` are added while positive (Geyer's initial
    positive sequence), made non-increasing (the initial monotone sequence), and
    ``tau = -1 + 2 sum_k P_k (+ the next even lag where positive)``, at least ``1 / log10(m n)``,
    gives ``ESS = m n / tau``.
    """
    v, m, n = x.shape
    centred = x - x.mean(2, keepdim=True)
    size = 1 << (2 * n - 1).bit_length()
    spectrum = torch.fft.rfft(centred, n=size, dim=2)
    acov = torch.fft.irfft(spectrum * spectrum.conj(), n=size, dim=2)[:, :, :n] / n  # [v, m, n]
    mean_acov = acov.mean(1)  # [v, n]
    within = mean_acov[:, 0] * n / (n - 1)
    var_plus = within * (n - 1) / n
    if m > 1:
        var_plus = var_plus + x.mean(2).var(1, correction=1)
    rho = 1 - (within[:, None] - mean_acov) / var_plus[:, None]
    rho[:, 0] = 1.0
    k_last = max((n - 3) // 2, 0)  # the last pair the sequence may reach
    pairs = rho[:, 0 : 2 * k_last + 2].reshape(v, k_last + 1, 2).sum(2)  # P_0 ... P_k_last
    ks = torch.arange(k_last + 1, device=x.device)
    first_nonpositive = torch.where(pairs <= 0, ks, torch.full_like(ks, k_last + 1)).amin(1)
    big_k = first_nonpositive.clamp(max=k_last)  # the last pair examined
    monotone = pairs.cummin(1).values
    total = torch.where(ks[None, :] < big_k[:, None], monotone, torch.zeros_like(monotone)).sum(1)
    rho_next = rho.gather(1, (2 * big_k)[:, None]).squeeze(1)
    pair_next = pairs.gather(1, big_k[:, None]).squeeze(1)
    extra = torch.where((rho_next > 0) | (pair_next >= 0), rho_next, torch.zeros_like(rho_next))
    extra = torch.where(big_k == 0, torch.ones_like(extra), extra)
    tau = (-1 + 2 * total + extra).clamp(min=1 / math.log10(m * n))
    return m * n / tau


def ess(draws: torch.Tensor, *, method: str = "bulk", split: bool = True) -> torch.Tensor:
    """Markov chain effective sample size of each quantity, over a batch of chains.

    This is the MCMC effective sample size: how many independent draws would estimate the
    quantity's mean as precisely as these autocorrelated ones, ``n_chains n_steps / tau`` with
    ``tau`` the integrated autocorrelation time, estimated by Geyer's initial monotone sequence
    as in Stan and ArviZ (Vehtari et al. 2021). It is *not* the importance-sampling effective
    sample size ``(sum w)^2 / sum w^2`` that :class:`~ebmlib.estimators.Estimate` reports as ``.ess``.

    Args:
        draws: ``[n_steps, n_chains]`` (one quantity) or ``[n_steps, n_chains, d]`` (each of ``d``
            quantities on its own), e.g. ``run_chain(..., trace=("x",)).trace["x"]``. Any real
            dtype; computed in float64.
        method: ``"bulk"`` (default: the draws are rank-normalized first, Stan's ``ess_bulk`` and
            ArviZ's ``method="bulk"``; robust to heavy tails) or ``"basic"`` (the raw draws: the
            ESS of the mean, Stan's ``ess_basic``, ArviZ's ``method="mean"``).
        split: split every chain into its two halves first (the default, as Stan and ArviZ do,
            which also catches a chain that drifts); ``split=False`` uses whole chains (ArviZ's
            ``method="identity"`` with ``method="basic"``).

    Returns:
        A 0-d float64 tensor (``[n_steps, n_chains]`` draws) or ``[d]`` float64, on the draws' device.

    Raises:
        ValueError: fewer than 8 steps (4 per half-chain; 4 with ``split=False``), non-finite
            draws, or a quantity that never changes (its ESS is undefined).
    """
    if method not in ("bulk", "basic"):
        raise ValueError(f"method must be 'bulk' or 'basic', got {method!r}")
    x, shape = _chains(draws, "draws", 8 if split else 4, 1)
    x = _halves(x) if split else x
    if method == "bulk":
        x = _z_scale(x)
    return _ess_basic(x).reshape(shape)


def rhat(draws: torch.Tensor, *, method: str = "rank", split: bool = True) -> torch.Tensor:
    """R-hat (potential scale reduction) of each quantity, over a batch of chains.

    Compares the variance between chains with the variance within them: near 1 when every
    chain samples the same distribution, above 1 when they disagree (Vehtari et al. 2021
    recommend using draws only when R-hat < 1.01).

    Args:
        draws: ``[n_steps, n_chains]`` or ``[n_steps, n_chains, d]`` (each quantity on its own);
            computed in float64.
        method: ``"rank"`` (default): the split, rank-normalized R-hat of Vehtari et al. (2021), the
            larger of the *bulk* R-hat of the rank-normalized draws and the *tail* R-hat of the
            rank-normalized ``|draw - median|`` (which sees chains that agree in location but
            not in scale); Stan's ``rhat``, ArviZ's ``method="rank"``. ``"basic"``: the classic
            R-hat of the raw draws (Stan's ``rhat_basic``, ArviZ's ``method="split"``).
        split: split every chain into its two halves first (the default, which also flags a chain
            that drifts); ``split=False`` needs at least 2 chains.

    Returns:
        A 0-d float64 tensor or ``[d]`` float64. Chains that are each constant but differ give
        ``inf``.

    Raises:
        ValueError: fewer than 8 steps (4 with ``split=False``), fewer than 2 chains without
            splitting, non-finite draws, or a quantity that never changes.
    """
    if method not in ("rank", "basic"):
        raise ValueError(f"method must be 'rank' or 'basic', got {method!r}")
    x, shape = _chains(draws, "draws", 8 if split else 4, 1 if split else 2)
    x = _halves(x) if split else x
    if method == "basic":
        return _rhat_basic(x).reshape(shape)
    bulk = _rhat_basic(_z_scale(x))
    tail = _rhat_basic(_z_scale(_fold(x)))
    return torch.maximum(bulk, tail).reshape(shape)


class ChainSummary(NamedTuple):
    """What :func:`summarize` returns, each ``[d]`` float64 (0-d for ``[n_steps, n_chains]`` draws):
    ``mean``, the mean over every draw of every chain; ``mcse``, its Monte Carlo standard error,
    ``std / sqrt(ESS)`` with the ESS of the mean (``ess(draws, method="basic")``); ``ess_bulk``,
    the bulk effective sample size (:func:`ess`); ``rhat``, the rank-normalized split R-hat
    (:func:`rhat`); and ``z``, ``(mean - truth) / mcse`` when a ``truth`` was given, else
    ``None``: how many of its own standard errors the estimate is off (an ESS that overstates the
    draws shows up as large ``|z|``)."""

    mean: torch.Tensor
    mcse: torch.Tensor
    ess_bulk: torch.Tensor
    rhat: torch.Tensor
    z: torch.Tensor | None


def summarize(draws: torch.Tensor, truth: torch.Tensor | float | None = None) -> ChainSummary:
    """The mean of each quantity over a batch of chains, with its Monte Carlo standard error, ESS
    and R-hat (and, given the exact mean ``truth``, the error in standard errors).

    Args:
        draws: ``[n_steps, n_chains]`` or ``[n_steps, n_chains, d]``, as for :func:`ess`.
        truth: the exact mean, a number or ``[d]``, if known.

    Returns:
        A :class:`ChainSummary`.
    """
    x, shape = _chains(draws, "draws", 8, 1)
    mean = x.mean((1, 2))
    basic = ess(draws, method="basic").reshape(-1)  # the ESS of the mean
    mcse = x.reshape(x.shape[0], -1).std(1, correction=1) / basic.sqrt()
    z = None
    if truth is not None:
        exact = torch.as_tensor(truth, dtype=torch.float64, device=x.device).reshape(-1)
        if exact.numel() not in (1, x.shape[0]):
            raise ValueError(f"truth must be a number or hold one value per quantity ({x.shape[0]})")
        z = ((mean - exact) / mcse).reshape(shape)
    return ChainSummary(mean.reshape(shape), mcse.reshape(shape), ess(draws), rhat(draws), z)
