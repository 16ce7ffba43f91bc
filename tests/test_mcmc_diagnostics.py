"""The Markov chain diagnostics (diagnostics.ess and diagnostics.rhat) against closed forms and ArviZ.

* ESS of AR(1) chains, whose integrated autocorrelation time is (1 + rho) / (1 - rho), so that
  ESS = n_chains n_steps (1 - rho) / (1 + rho), within 5 standard deviations of the estimator
  (Sokal's approximation: Var(tau_hat) / tau^2 = 2 (2M + 1) / N for a window of M lags);
* R-hat near 1 for chains of one distribution, clearly above 1.01 for chains in different modes,
  and the tail (folded) R-hat catching chains that differ only in scale;
* agreement with ArviZ (a test oracle only, never a dependency of ebmlib) to 1e-9 on the same draws.
"""

import math
import warnings

import numpy as np
import pytest
import torch

from moments import TwoWells

from ebmlib import diagnostics, samplers


def ar1(n_steps, n_chains, rho, generator, d=None):
    """Stationary AR(1) chains x_t = rho x_{t-1} + sqrt(1 - rho^2) z_t, float64, [n_steps, n_chains(, d)]."""
    shape = (n_steps, n_chains) if d is None else (n_steps, n_chains, d)
    z = torch.randn(shape, dtype=torch.float64, generator=generator)
    x = torch.empty_like(z)
    x[0] = z[0]
    s = math.sqrt(1 - rho**2)
    for t in range(1, n_steps):
        x[t] = rho * x[t - 1] + s * z[t]
    return x


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, -0.3])
@pytest.mark.parametrize("method,split", [("basic", False), ("basic", True), ("bulk", True)])
def test_ess_of_ar1_chains_matches_the_closed_form(rho, method, split):
    n_steps, n_chains = 2000, 64
    draws = ar1(n_steps, n_chains, rho, torch.Generator().manual_seed(int(100 * rho) + 7))
    n = n_steps * n_chains
    exact = n * (1 - rho) / (1 + rho)
    # The initial sequence stops near the lag M where |rho|^M reaches the noise level 1/sqrt(N).
    window = max(10, math.ceil(math.log(1 / math.sqrt(n)) / math.log(abs(rho)))) if rho else 10
    rel_sd = math.sqrt(2 * (2 * window + 1) / n)
    got = diagnostics.ess(draws, method=method, split=split)
    assert got.dtype == torch.float64 and got.shape == ()
    assert abs(got.item() / exact - 1) < 5 * rel_sd, (got.item(), exact, 5 * rel_sd)


def test_ess_per_coordinate_of_a_trace():
    """[n_steps, n_chains, d]: each coordinate on its own (coordinate j has rho_j)."""
    gen = torch.Generator().manual_seed(1)
    draws = torch.stack([ar1(1000, 32, rho, gen) for rho in (0.0, 0.8)], -1)
    got = diagnostics.ess(draws, method="basic")
    assert got.shape == (2,)
    exact = torch.tensor([32_000.0, 32_000 * 0.2 / 1.8], dtype=torch.float64)
    assert bool(((got / exact - 1).abs() < 0.2).all()), got


def test_rhat_is_near_one_for_chains_of_one_distribution():
    gen = torch.Generator().manual_seed(2)
    draws = ar1(2000, 8, 0.5, gen, d=3)
    r = diagnostics.rhat(draws)
    assert r.shape == (3,) and bool((r < 1.01).all()) and bool((r > 0.99).all()), r
    assert diagnostics.rhat(draws[:, :, 0], method="basic").item() < 1.01


def test_rhat_flags_chains_stuck_in_different_modes(gen):
    """MALA on 0.5 N(-3, 0.5^2) + 0.5 N(3, 0.5^2) (a barrier of 18 nats), half the chains started in
    each mode: no chain crosses and each samples its own mode well (its mean within 0.1 of the
    mode's), yet together they are wrong, and R-hat is far above 1.01."""
    model = TwoWells(0.5, 3.0, 0.5)
    start = torch.tensor([[-3.0]] * 4 + [[3.0]] * 4, dtype=torch.float64)
    stuck = samplers.langevin(model, start, 1000, step_size=0.1, adjusted=True, generator=gen, trace=("x",))
    means = stuck.trace["x"][:, :, 0].mean(0)
    assert bool(((means - start[:, 0]).abs() < 0.1).all()), means
    r = diagnostics.rhat(stuck.trace["x"])
    assert r.shape == (1,) and r.item() > 1.5, r


def test_the_tail_rhat_sees_chains_that_differ_only_in_scale():
    """Four chains centred at 0 with standard deviations 1 and 3: their means agree, so the bulk
    (and the classic) R-hat stay near 1, but the rank R-hat (the larger of bulk and folded) flags them."""
    gen = torch.Generator().manual_seed(3)
    draws = torch.randn(2000, 4, dtype=torch.float64, generator=gen) * torch.tensor([1.0, 1.0, 3.0, 3.0],
                                                                                    dtype=torch.float64)
    assert diagnostics.rhat(draws, method="basic").item() < 1.01
    assert diagnostics.rhat(draws).item() > 1.05


def test_split_rhat_sees_a_drift_that_whole_chains_hide():
    """Chains that all drift the same way agree with one another, so unsplit R-hat is ~1; their
    first and second halves disagree, which the split R-hat reports."""
    gen = torch.Generator().manual_seed(4)
    drift = torch.linspace(-2, 2, 1000, dtype=torch.float64)[:, None]
    draws = drift + torch.randn(1000, 4, dtype=torch.float64, generator=gen)
    assert diagnostics.rhat(draws, method="basic", split=False).item() < 1.01
    assert diagnostics.rhat(draws, method="basic").item() > 1.3


def _arviz_draws():
    gen = torch.Generator().manual_seed(5)
    heavy = torch.tensor(np.random.default_rng(0).standard_t(2.0, size=(501, 5)))  # odd length, heavy tails
    return {
        "ar1": ar1(1000, 4, 0.7, gen),
        "negative": ar1(400, 3, -0.6, gen),
        "heavy_odd": heavy,
        "ties": torch.randint(0, 3, (300, 4), generator=gen).double(),
        "stuck": torch.cat([ar1(500, 2, 0.3, gen) - 2, ar1(500, 2, 0.3, gen) + 2], 1),
        "one_chain": ar1(800, 1, 0.4, gen),
    }


def arviz():
    with warnings.catch_warnings():  # ArviZ announces its coming refactor on import
        warnings.simplefilter("ignore", FutureWarning)
        return pytest.importorskip("arviz")


@pytest.mark.parametrize("name", ["ar1", "negative", "heavy_odd", "ties", "stuck", "one_chain"])
def test_agreement_with_arviz(name):
    az = arviz()
    draws = _arviz_draws()[name]
    ref = draws.T.numpy()  # ArviZ takes (chain, draw)
    cases = [(diagnostics.ess(draws), az.ess(ref, method="bulk")),
             (diagnostics.ess(draws, method="basic"), az.ess(ref, method="mean")),
             (diagnostics.ess(draws, method="basic", split=False), az.ess(ref, method="identity"))]
    if draws.shape[1] >= 2:  # ArviZ's R-hat needs two chains before splitting
        cases += [(diagnostics.rhat(draws), az.rhat(ref, method="rank")),
                  (diagnostics.rhat(draws, method="basic"), az.rhat(ref, method="split")),
                  (diagnostics.rhat(draws, method="basic", split=False), az.rhat(ref, method="identity"))]
    for ours, theirs in cases:
        assert math.isclose(ours.item(), float(theirs), rel_tol=1e-9), (name, ours.item(), float(theirs))


def test_agreement_with_arviz_per_coordinate():
    az = arviz()
    gen = torch.Generator().manual_seed(6)
    draws = torch.stack([ar1(600, 4, 0.2, gen), ar1(600, 4, 0.9, gen), ar1(600, 4, -0.4, gen)], -1)
    ours_ess, ours_rhat = diagnostics.ess(draws), diagnostics.rhat(draws)
    for j in range(3):
        ref = draws[:, :, j].T.numpy()
        assert math.isclose(ours_ess[j].item(), float(az.ess(ref, method="bulk")), rel_tol=1e-9)
        assert math.isclose(ours_rhat[j].item(), float(az.rhat(ref, method="rank")), rel_tol=1e-9)


def test_diagnostics_refuse_bad_input():
    good = torch.randn(100, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    with pytest.raises(ValueError, match="at least 8"):
        diagnostics.ess(good[:7])
    with pytest.raises(ValueError, match="at least 4"):
        diagnostics.rhat(good[:3], split=False)
    with pytest.raises(ValueError, match="at least 2 are needed"):
        diagnostics.rhat(good[:, :1], split=False)
    with pytest.raises(ValueError, match="shape"):
        diagnostics.ess(good[:, 0])
    with pytest.raises(TypeError, match="torch.Tensor"):
        diagnostics.rhat(good.numpy())
    bad = good.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        diagnostics.ess(bad)
    with pytest.raises(ValueError, match="constant"):
        diagnostics.rhat(torch.ones(50, 3))
    with pytest.raises(ValueError, match=r"quantities \[1\]"):
        diagnostics.ess(torch.stack([good, torch.zeros_like(good)], -1))
    with pytest.raises(ValueError, match="method"):
        diagnostics.ess(good, method="tail")
    with pytest.raises(ValueError, match="method"):
        diagnostics.rhat(good, method="split")


def test_chains_each_constant_but_different_have_infinite_rhat():
    draws = torch.tensor([[0.0, 1.0]]).repeat(20, 1)
    assert math.isinf(diagnostics.rhat(draws, method="basic", split=False).item())


def test_summary_standard_errors_are_honest_on_ar1_chains():
    """200 independent AR(1) quantities of mean 0.3 (rho = 0.9, integrated autocorrelation time
    19): the errors of their means, divided by summarize's standard errors, scatter like a
    standard normal. Dividing by sd / sqrt(draws) instead (ignoring the autocorrelation) gives a
    spread of about sqrt(19) = 4.4."""
    rho, n_steps, n_chains = 0.9, 2000, 8
    draws = 0.3 + ar1(n_steps, n_chains, rho, torch.Generator().manual_seed(11), d=200)
    summary = diagnostics.summarize(draws, truth=0.3)
    assert summary.mean.shape == summary.mcse.shape == summary.z.shape == (200,)
    assert 0.85 < float(summary.z.std()) < 1.15
    # the standard error matches the closed form sd * sqrt(tau / (chains * steps)): within 5% on
    # average over the 200 quantities, within 30% for each (each estimate scatters by about 5%)
    tau = (1 + rho) / (1 - rho)
    expected = (tau / (n_steps * n_chains)) ** 0.5  # the chains are stationary with variance 1
    ratio = summary.mcse / expected
    assert abs(float(ratio.mean()) - 1) < 0.05 and float((ratio - 1).abs().max()) < 0.3
    assert float(summary.rhat.max()) < 1.05 and summary.ess_bulk.shape == (200,)  # 200 R-hats: the worst
    assert diagnostics.summarize(draws).z is None
    with pytest.raises(ValueError, match="truth"):
        diagnostics.summarize(draws, truth=torch.zeros(3))
