"""Chapter 4's exercise checks: each reference passes, each wrong answer is refused by name."""

from __future__ import annotations

import torch

from ebmlib import objectives, training
from ebmlib.book.exercises import check, get
from ebmlib.models import BoltzmannMachine
from ebmlib.utils import flat_grad


def test_4_1_pl_estimate(check_works):
    check_works("4.1", {"marginal log-odds for the biases": "conditional", "odds ratio upside down": "sign"})


def test_4_1_closed_form_is_where_the_pl_gradient_vanishes():
    counts = torch.tensor([[7.0, 3.0], [5.0, 11.0]], dtype=torch.float64)
    rows = [torch.tensor([[a, c]], dtype=torch.float64).repeat(int(counts[a, c]), 1) for a in (0, 1) for c in (0, 1)]
    x = torch.cat(rows)
    w, b1, b2 = get("4.1").reference(counts)
    model = BoltzmannMachine(2, init_std=0.0, dtype=torch.float64)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, w], [w, 0.0]]))
        model.bias.copy_(torch.stack([b1, b2]))
    grad = flat_grad(objectives.pseudolikelihood(model, x), model.parameters())
    assert grad.abs().max() < 1e-10
    fitted = BoltzmannMachine(2, init_std=0.0, dtype=torch.float64)
    training.minimize(fitted, objectives.pseudolikelihood, x)
    assert torch.allclose(fitted.parameter_vector(), torch.stack([w, b1, b2]), atol=1e-5)


def test_4_2_pl_loss(check_works):
    check_works(
        "4.2",
        {
            "log-PL, not its negative": "sign",
            "summed over the batch": "factor",
            "log p(x_i = 1 | rest) for every unit": "value x_i has",
            "the exact likelihood": "never needs z",
        },
    )


def test_4_3_pl_gradient(check_works):
    check_works(
        "4.3",
        {"one conditional per coupling": "two conditionals", "diagonal kept": "self-coupling", "sign flipped": "sign"},
    )


def test_4_3_reference_matches_the_library_gradient():
    gen = torch.Generator().manual_seed(3)
    model = BoltzmannMachine.random(5, generator=gen).double()
    x = (torch.rand(9, 5, generator=gen) < 0.5).double()
    g_w, g_b = get("4.3").reference(model.coupling.detach(), model.bias.detach(), x)
    loss = objectives.pseudolikelihood(model, x)
    lib_w, lib_b = torch.autograd.grad(loss, (model.weight, model.bias))
    # weight's gradient through the symmetrization is half the pair derivative on each side
    assert torch.allclose(lib_w + lib_w.T, g_w, atol=1e-10) and torch.allclose(lib_b, g_b, atol=1e-10)


def test_4_4_block_conditional(check_works):
    check_works(
        "4.4",
        {
            "product of one-unit conditionals": "couplings",
            "normalized over every state": "every state",
            "not normalized": "not normalized",
        },
    )


def test_4_4_reference_matches_generalized_pseudolikelihood():
    gen = torch.Generator().manual_seed(4)
    model = BoltzmannMachine.random(6, generator=gen).double()
    x = (torch.rand(7, 6, generator=gen) < 0.5).double()
    blocks = [[0, 2], [1, 3, 4], [5]]
    ref = get("4.4").reference
    w, b = model.coupling.detach(), model.bias.detach()
    total = -sum(ref(w, b, x, s) for s in blocks).mean()
    assert torch.allclose(total, objectives.generalized_pseudolikelihood(model, x, blocks), atol=1e-10)


def test_unanswered():
    assert (
        "not answered" in check("4.2", lambda w, b, x: (_ for _ in ()).throw(NotImplementedError()), quiet=True).message
    )
