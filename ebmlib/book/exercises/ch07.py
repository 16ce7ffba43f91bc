"""Checks for chapter 7's exercises (self-normalization).

* 7.1 (by hand) the gradient of the self-normalized loss with respect to one context's scores;
* 7.2 (by hand) the output-bias shift that minimizes the penalty, and the penalty it leaves;
* 7.3 (implement) the importance-sampled estimate of log Z(ctx).

Every expected answer is a closed form (autograd of the exact log-sum-exp, a weighted mean and
variance, the sampled estimate recomputed on the same draws).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from ._core import Case, Exercise, mistakes, register, same_values

__all__: list[str] = []

_F = torch.float64


# --------------------------------------------------------------------------- 7.1


def _grad_reference(scores: torch.Tensor, target: int, lam: float) -> torch.Tensor:
    log_z = torch.logsumexp(scores, 0)
    p = torch.softmax(scores, 0)
    return (1 + 2 * lam * log_z) * p - torch.nn.functional.one_hot(torch.tensor(target), len(scores)).to(scores)


def _grad_autograd(scores: torch.Tensor, target: int, lam: float) -> torch.Tensor:
    s = scores.detach().clone().requires_grad_(True)
    log_z = torch.logsumexp(s, 0)
    loss = -s[target] + log_z + lam * log_z**2
    (grad,) = torch.autograd.grad(loss, s)
    return grad


def _grad_cases(gen: torch.Generator) -> Iterator[Case]:
    for v, lam in ((3, 0.1), (4, 1.0), (5, 10.0), (6, 0.5), (4, 3.0)):
        scores = 1.5 * torch.randn(v, dtype=_F, generator=gen) + 1.0
        target = int(torch.randint(v, (), generator=gen))
        yield Case(
            f"scores {[round(x, 3) for x in scores.tolist()]} (V = {v}), target word {target}, lambda = {lam}",
            (scores, target, lam),
            _grad_autograd(scores, target, lam),
            atol=1e-8,
            rtol=1e-6,
        )


def _grad_mistakes(scores: torch.Tensor, target: int, lam: float) -> dict[str, torch.Tensor]:
    log_z = torch.logsumexp(scores, 0)
    p = torch.softmax(scores, 0)
    e = torch.nn.functional.one_hot(torch.tensor(target), len(scores)).to(scores)
    return {
        "nll only": p - e,
        "no factor 2": (1 + lam * log_z) * p - e,
        "penalty without softmax": p - e + 2 * lam * log_z,
    }


def _grad_hint(case: Case, got: Any) -> str:
    mistakes = _grad_mistakes(*case.args)
    if same_values(got, mistakes["nll only"]):
        return "this is the gradient of the negative log-likelihood alone: the penalty lambda (log Z)^2 is missing"
    if same_values(got, mistakes["no factor 2"]):
        return "the derivative of lambda (log Z)^2 is 2 lambda log Z times d log Z / d o: a factor 2 is missing"
    if same_values(got, mistakes["penalty without softmax"]):
        return (
            "d log Z(ctx) / d o(w', ctx) is the softmax p(w' | ctx), not 1: the penalty's gradient is "
            "2 lambda log Z(ctx) p(w' | ctx)"
        )
    return ""


register(
    Exercise(
        id="7.1",
        title="the gradient of the self-normalized loss",
        cases=_grad_cases,
        reference=_grad_reference,
        wrong=mistakes(_grad_mistakes, "nll only", "no factor 2", "penalty without softmax"),
        hint=_grad_hint,
    )
)


# --------------------------------------------------------------------------- 7.2


def _shift_reference(log_z: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    w = weight / weight.sum()
    b = -(w * log_z).sum()
    return b, (w * (log_z + b) ** 2).sum()


def _shift_cases(gen: torch.Generator) -> Iterator[Case]:
    for n in (3, 4, 5, 6, 8):
        log_z = torch.randn(n, dtype=_F, generator=gen) + 2.0
        weight = torch.randint(1, 20, (n,), generator=gen).to(_F)
        yield Case(
            f"log Z(ctx) = {[round(x, 3) for x in log_z.tolist()]}, context counts {[int(x) for x in weight.tolist()]}",
            (log_z, weight),
            _shift_reference(log_z, weight),
            atol=1e-9,
            rtol=1e-7,
        )


def _shift_hint(case: Case, got: Any) -> str:
    log_z, weight = case.args
    b, _ = _shift_reference(log_z, weight)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two numbers: the shift b and the penalty (per unit of lambda) left after it"
    got_b = torch.as_tensor(got[0], dtype=_F).reshape(())
    if same_values(got_b, -b):
        return "the shift has the wrong sign: adding b to every logit adds b to every log Z(ctx), so b = -mean log Z"
    if same_values(got_b, -log_z.mean()):
        return "each context counts as often as it occurs: weight the mean by the context counts"
    if same_values(got_b, b):
        w = weight / weight.sum()
        left = torch.as_tensor(got[1], dtype=_F).reshape(())
        if same_values(left, (w * log_z**2).sum()):
            return "the penalty left is the mean of (log Z(ctx) + b)^2 after the shift, not the mean of log Z(ctx)^2"
        if same_values(left, ((w * (log_z + b) ** 2).sum()).sqrt()):
            return "the penalty is a mean square (a variance), not its square root"
    return ""


register(
    Exercise(
        id="7.2",
        title="the shift the output biases find",
        cases=_shift_cases,
        reference=_shift_reference,
        wrong={
            "sign": lambda z, w: (-_shift_reference(z, w)[0], _shift_reference(z, w)[1]),
            "unweighted": lambda z, w: (-z.mean(), z.var(unbiased=False)),
            "penalty before the shift": lambda z, w: (_shift_reference(z, w)[0], (w / w.sum() * z**2).sum()),
        },
        hint=_shift_hint,
    )
)


# --------------------------------------------------------------------------- 7.3


def _sampled_reference(scores: torch.Tensor, log_q: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(scores[:, samples] - log_q[samples], 1) - math.log(len(samples))


def _sampled_cases(gen: torch.Generator) -> Iterator[Case]:
    for v, k in ((5, 3), (8, 4), (10, 10), (20, 6), (7, 12)):
        scores = 2 * torch.randn(3, v, dtype=_F, generator=gen)
        q = torch.softmax(torch.randn(v, dtype=_F, generator=gen), 0)
        samples = torch.multinomial(q, k, replacement=True, generator=gen)
        yield Case(
            f"scores of 3 contexts over V = {v} words, proposal q = {[round(x, 3) for x in q.tolist()][:8]}, "
            f"{k} sampled words {samples.tolist()}",
            (scores, q.log(), samples),
            _sampled_reference(scores, q.log(), samples),
            atol=1e-9,
            rtol=1e-7,
        )


def _sampled_mistakes(scores: torch.Tensor, log_q: torch.Tensor, samples: torch.Tensor) -> dict[str, torch.Tensor]:
    k = len(samples)
    w = scores[:, samples] - log_q[samples]
    return {
        "mean of log weights": w.mean(1),
        "no importance weight": torch.logsumexp(scores[:, samples], 1) - math.log(k),
        "sum, not mean": torch.logsumexp(w, 1),
    }


def _sampled_hint(case: Case, got: Any) -> str:
    mistakes = _sampled_mistakes(*case.args)
    if same_values(got, mistakes["mean of log weights"]):
        return "Z is the mean of the weights, so log Z is a log-mean-exp of the log weights, not their mean"
    if same_values(got, mistakes["no importance weight"]):
        return "a word drawn from q stands for 1 / q(w) words: its importance weight is exp(o(w, ctx)) / q(w)"
    if same_values(got, mistakes["sum, not mean"]):
        return "the estimate averages the k weights: subtract log k"
    return ""


register(
    Exercise(
        id="7.3",
        title="the importance-sampled log Z(ctx)",
        cases=_sampled_cases,
        reference=_sampled_reference,
        wrong=mistakes(_sampled_mistakes, "mean of log weights", "no importance weight", "sum, not mean"),
        hint=_sampled_hint,
    )
)
