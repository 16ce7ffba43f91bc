"""AIS with step sizes chosen on a pilot run (``estimators.tune_ais_steps``) and held fixed:
the pilot reaches its target acceptance along the whole path, the schedule interpolates its
steps in log space, and AIS with it lands on a closed-form log Z where one fixed step misses by
tens of nats."""

import math

import pytest
import torch

from ebmlib import estimators, exact, samplers
from ebmlib.models import GaussianEnergy

TARGET = 0.57


def g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def sharp_gaussian() -> GaussianEnergy:
    """A 10-d Gaussian whose standard deviations run from 0.02 to 1 (float64), and a N(0, 1) base:
    a MALA step that suits the base is 50 times too large for the narrowest direction at the end."""
    sds = torch.logspace(math.log10(0.02), 0, 10, dtype=torch.float64)
    return GaussianEnergy(10, torch.full((10,), 0.3, dtype=torch.float64), torch.diag(sds**-2))


BASE = torch.distributions.Independent(
    torch.distributions.Normal(torch.zeros(10, dtype=torch.float64), torch.ones(10, dtype=torch.float64)), 1
)


@pytest.mark.parametrize("kernel,target", [(samplers.HMC(0.5, 5, jitter=0.2), 0.8), (samplers.Langevin(0.5, adjusted=True), 0.57)])
def test_the_pilot_tunes_any_kernel_with_a_step_to_its_target_all_along_the_path(kernel, target):
    steps = estimators.tune_ais_steps(sharp_gaussian(), kernel, 200, target_accept=target, base=BASE, generator=g(0))
    assert bool(((steps.accept_prob - target).abs() < 0.08).all()), steps.accept_prob
    assert float(steps.step_sizes[-1]) < float(steps.step_sizes[0]) / 10


def test_the_pilot_reaches_its_target_acceptance_all_along_the_path():
    model, mala = sharp_gaussian(), samplers.Langevin(0.5, adjusted=True)
    steps = estimators.tune_ais_steps(model, mala, 200, target_accept=TARGET, base=BASE, generator=g(0))
    assert torch.equal(steps.betas, estimators.default_tuning_grid())
    assert bool(((steps.accept_prob - TARGET).abs() < 0.08).all()), steps.accept_prob
    # the step shrinks as p_beta sharpens: at beta = 1 it is at least 10 times below the base's
    assert float(steps.step_sizes[-1]) < float(steps.step_sizes[0]) / 10
    # n_steps=0 measures the kernel's own step: accepted at the base, rejected at the end
    fixed = estimators.tune_ais_steps(model, mala, 200, target_accept=TARGET, n_steps=0, base=BASE, generator=g(1))
    assert bool((fixed.step_sizes == 0.5).all())
    assert float(fixed.accept_prob[0]) > 0.5 and float(fixed.accept_prob[-1]) < 0.05


def test_the_schedule_interpolates_log_steps_between_its_grid_points():
    schedule = estimators.StepSchedule(
        torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64),
        torch.tensor([1.0, 0.01, 0.04], dtype=torch.float64),
        torch.full((3,), 0.6, dtype=torch.float64),
    )
    assert schedule(0.0) == pytest.approx(1.0) and schedule(0.5) == pytest.approx(0.01)
    assert schedule(0.25) == pytest.approx(0.1)  # halfway in log space between 1 and 0.01
    assert schedule(0.75) == pytest.approx(0.02) and schedule(1.0) == pytest.approx(0.04)


def test_ais_with_tuned_steps_lands_on_the_closed_form_where_a_fixed_step_misses():
    model, mala = sharp_gaussian(), samplers.Langevin(0.5, adjusted=True)
    log_z = float(exact.log_partition(model).detach())
    steps = estimators.tune_ais_steps(model, mala, 200, target_accept=TARGET, base=BASE, generator=g(2))
    tuned = estimators.ais(model, 200, 400, base=BASE, kernel=mala, step_sizes=steps, generator=g(3))
    fixed = estimators.ais(model, 200, 400, base=BASE, kernel=mala, generator=g(3))
    assert abs(float(tuned.log_z) - log_z) < 3 * tuned.stderr + 0.1
    assert float(fixed.log_z) - log_z < -1.0  # the fixed step's chains stop at the narrow end
    # reverse AIS from exact samples, down the same tuned path, brackets it from above
    samples = model.sample((200,), generator=g(4))
    upper = estimators.reverse_ais(model, samples, 400, base=BASE, kernel=mala, step_sizes=steps, generator=g(5))
    assert float(tuned.log_z) - 3 * tuned.stderr <= log_z <= float(upper.log_z) + 3 * upper.stderr


def test_step_sizes_reach_every_move_of_the_run():
    """The kernel that moves the chains at beta holds step_sizes(beta), every time."""
    seen = []

    class Recording(samplers.Langevin):
        def step(self, model, state, *, generator=None, **params):
            seen.append(self.params["step_size"])
            return super().step(model, state, generator=generator, **params)

    model = sharp_gaussian()
    estimators.ais(
        model, 4, 5, base=BASE, kernel=Recording(0.3, adjusted=True), step_sizes=lambda b: 1 + b, generator=g(6)
    )
    assert seen == pytest.approx([1.25, 1.5, 1.75])  # moves at beta = 0.25, 0.5, 0.75, none after the last
    seen.clear()
    estimators.reverse_ais(
        model,
        model.sample((4,), generator=g(7)),
        5,
        base=BASE,
        kernel=Recording(0.3, adjusted=True),
        step_sizes=lambda b: 1 + b,
        generator=g(8),
    )
    assert seen == pytest.approx([1.75, 1.5, 1.25])


def test_with_settings_copies_a_kernel_and_refuses_unknown_settings():
    mala = samplers.Langevin(0.1, adjusted=True)
    held = mala.with_settings(step_size=0.02)
    assert type(held) is samplers.Langevin and held.params["step_size"] == 0.02
    assert mala.params["step_size"] == 0.1 and held.params["adjusted"] is True
    with pytest.raises(TypeError, match="unknown settings"):
        mala.with_settings(stepsize=0.02)
    for bad in (float("nan"), -0.1, 0.0):  # refused as the constructor refuses them
        with pytest.raises(ValueError, match="step_size"):
            mala.with_settings(step_size=bad)
        with pytest.raises(ValueError, match="step_size"):
            samplers.HMC(0.1, 3).with_settings(step_size=bad)
    assert samplers.HMC(0.1, 3, jitter=0.2).with_settings(step_size=0.05).params["jitter"] == 0.2


def test_tuning_refuses_what_it_cannot_tune():
    model = sharp_gaussian()
    with pytest.raises(TypeError, match="step_size"):
        estimators.tune_ais_steps(model, samplers.Gibbs(), 10, target_accept=TARGET, base=BASE)
    with pytest.raises(ValueError, match="from 0 to 1"):
        estimators.tune_ais_steps(
            model, samplers.Langevin(0.1, adjusted=True), 10, target_accept=TARGET, base=BASE, betas=[0.0, 0.5]
        )
    with pytest.raises(ValueError, match="n_chains must be >= 2"):
        estimators.tune_ais_steps(model, samplers.Langevin(0.1, adjusted=True), 1, target_accept=TARGET, base=BASE)
    with pytest.raises(TypeError, match="shared"):
        estimators.tune_ais_steps(model, samplers.HMC(torch.full((4,), 0.1), 3), 4, target_accept=TARGET, base=BASE)
    with pytest.raises(TypeError, match="step_sizes"):
        estimators.ais(model, 4, 5, base=BASE, kernel=samplers.Langevin(0.1, adjusted=True), step_sizes=0.1)
    with pytest.raises(ValueError, match="step_size"):  # a schedule that gives a NaN step
        estimators.ais(
            model, 4, 5, base=BASE, kernel=samplers.Langevin(0.1, adjusted=True), step_sizes=lambda b: float("nan")
        )
