"""training.compare: equal budgets, learning rates chosen on a validation score, reproducible runs."""

import math

import pytest
import torch

from ebmlib import data, exact, objectives, training
from ebmlib.models import BoltzmannMachine


@pytest.fixture(scope="module")
def problem():
    truth, x = data.boltzmann_dataset(6, 600, weight_std=0.8, generator=torch.Generator().manual_seed(0))
    train, valid = x[:400], x[400:]

    def make_model(g):
        return BoltzmannMachine.random(6, weight_std=0.01, generator=g)

    def valid_ll(m):
        return exact.log_likelihood(m, valid).mean().item()

    return train, make_model, valid_ll


METHODS = {
    "ML": lambda g: objectives.exact_nll,
    "CD-1": lambda g: lambda m, x: objectives.cd(m, x, 1, generator=g),
}


def test_compare_picks_the_best_rate_on_the_validation_score_and_is_reproducible(problem):
    train, make_model, valid_ll = problem
    kwargs = dict(n_steps=60, lr={"ML": [1e-4, 0.3], "CD-1": [0.1]}, select=valid_ll,
                  metrics={"valid LL": valid_ll}, seeds=(0, 1), batch_size=50, eval_every=20)
    result = training.compare(METHODS, make_model, train, **kwargs)
    # a rate of 1e-4 barely moves the model from its start: the validation score must prefer 0.3
    assert result.lrs["ML"] == 0.3
    assert result.tuning["ML"][0.3] > result.tuning["ML"][1e-4] + 0.05
    assert [(r.method, r.seed) for r in result.runs] == [("ML", 0), ("ML", 1), ("CD-1", 0), ("CD-1", 1)]
    # the reused tuning run is the final run of the first seed, and seeds differ
    ml = result.of("ML")
    assert ml[0].score == result.tuning["ML"][0.3]
    assert not torch.equal(ml[0].model.weight, ml[1].model.weight)
    # equal arguments, equal runs
    again = training.compare(METHODS, make_model, train, **kwargs)
    for a, b in zip(result.runs, again.runs):
        assert a.history.loss == b.history.loss
    # exact ML at its tuned rate ends at least as well as CD-1 on held-out data (both seeds)
    assert (result.final("ML", "valid LL") >= result.final("CD-1", "valid LL") - 1e-3).all()
    rows = result.table("valid LL", threshold=-100.0)
    assert [r["method"] for r in rows] == ["ML", "CD-1"]
    assert all(r["updates"] == 60 and r["seconds to threshold"] == 0.0 for r in rows)
    assert rows[0]["mean"] == pytest.approx(result.final("ML", "valid LL").mean().item())
    assert result.time_to_reach("ML", "valid LL", 1e9) == math.inf


def test_a_failing_method_is_recorded_not_chosen(problem):
    train, make_model, valid_ll = problem

    def blows_up(g):
        def loss(m, x):
            return objectives.exact_nll(m, x) * float("nan")
        return loss

    def raises(g):
        def loss(m, x):
            raise objectives.DivergenceError("energies ran away")
        return loss

    result = training.compare({"NaN": blows_up, "raises": raises, "ML": METHODS["ML"]}, make_model, train,
                              n_steps=5, lr=0.1, select=valid_ll)
    nan_run, raised = result.of("NaN")[0], result.of("raises")[0]
    assert nan_run.score == -math.inf and "finite" in nan_run.error
    assert raised.score == -math.inf and "DivergenceError" in raised.error
    assert math.isfinite(result.of("ML")[0].score)


def test_compare_catches_divergence_only(problem):
    """An error that is not divergence (out of memory, a device error, a bug) is not a bad learning
    rate: it propagates. An error raised once the parameters are NaN is a symptom of divergence."""
    train, make_model, valid_ll = problem

    def out_of_memory(g):
        def loss(m, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return loss

    def bug(g):
        def loss(m, x):
            raise KeyError("a bug in the objective")
        return loss

    def diverges_then_raises(g):
        def loss(m, x):
            if not bool(torch.isfinite(m.weight).all()):
                raise ValueError("chains contains NaN or infinite values")  # what a sampler says
            return objectives.exact_nll(m, x) + 1e30 * m.weight.sum() ** 2  # a step that overflows
        return loss

    for factory, error in [(out_of_memory, torch.OutOfMemoryError), (bug, KeyError)]:
        with pytest.raises(error):
            training.compare({"broken": factory}, make_model, train, n_steps=3, lr=0.1)
    result = training.compare({"NaN, then an error": diverges_then_raises}, make_model, train, n_steps=5, lr=0.1,
                              select=valid_ll)
    run = result.of("NaN, then an error")[0]
    assert run.score == -math.inf and "not finite" in run.error and "ValueError" in run.error


def test_time_budget_and_bad_arguments(problem):
    train, make_model, valid_ll = problem
    result = training.compare(METHODS, make_model, train, n_steps=10_000, lr=0.1, time_budget=0.05)
    assert all(len(r.history.seconds) < 10_000 for r in result.runs)
    with pytest.raises(ValueError, match="select"):
        training.compare(METHODS, make_model, train, n_steps=5, lr=[0.1, 0.2])
    with pytest.raises(ValueError, match="no learning rate"):
        training.compare(METHODS, make_model, train, n_steps=5, lr={"ML": 0.1})
    with pytest.raises(ValueError, match="positive"):
        training.compare(METHODS, make_model, train, n_steps=5, lr=-1.0)
    with pytest.raises(ValueError, match="no model"):
        training.compare(METHODS, {"ML": make_model}, train, n_steps=5, lr=0.1)
    per_method = training.compare(METHODS, {"ML": make_model, "CD-1": make_model}, train, n_steps=3, lr=0.1)
    assert [r.method for r in per_method.runs] == ["ML", "CD-1"]
    with pytest.raises(KeyError, match="no method"):
        training.compare(METHODS, make_model, train, n_steps=2, lr=0.1).of("PCD")


def test_variants_are_tuned_with_the_learning_rate(problem):
    train, make_model, valid_ll = problem
    scaled = {  # the same objective with its gradient shrunk 1000 times: it barely moves
        "shrunk": lambda g: lambda m, x: 1e-3 * objectives.exact_nll(m, x),
        "plain": lambda g: objectives.exact_nll,
    }
    result = training.compare({"ML": scaled, "CD-1": METHODS["CD-1"]}, make_model, train, n_steps=40,
                              lr=[0.3], select=valid_ll, metrics={"valid LL": valid_ll}, seeds=(0, 1),
                              batch_size=50, eval_every=20)
    assert result.variants == {"ML": "plain"}
    assert set(result.tuning["ML"]) == {("shrunk", 0.3), ("plain", 0.3)}
    assert result.tuning["ML"][("plain", 0.3)] > result.tuning["ML"][("shrunk", 0.3)] + 0.05
    assert [r.variant for r in result.of("ML")] == ["plain", "plain"]  # every seed runs the choice
    assert [r.variant for r in result.of("CD-1")] == [None, None]
    rows = {r["method"]: r for r in result.table("valid LL")}
    assert rows["ML"]["variant"] == "plain" and rows["CD-1"]["variant"] == ""
    with pytest.raises(ValueError, match="select"):
        training.compare({"ML": scaled}, make_model, train, n_steps=2, lr=0.1)
    with pytest.raises(ValueError, match="at least one factory"):
        training.compare({"ML": {}}, make_model, train, n_steps=2, lr=0.1)
