r"""Score matching: fit the score, which has no :math:`Z`:

.. math::

    s(x) = \nabla_x \log \tilde p(x) = -\nabla_x E(x).

The Fisher divergence

.. math::

    \tfrac{1}{2} \mathbb{E}_\text{data} \|s_\theta(x) - s_\text{data}(x)\|^2

needs the data's score, which is unknown. Integrating by parts (Hyvarinen 2005) removes it, up to
a constant:

.. math::

    J(\theta) = \mathbb{E}_\text{data}\left[\tfrac{1}{2} \|s_\theta(x)\|^2
    + \operatorname{tr}(\nabla_x s_\theta(x))\right].

* :func:`~ebmlib.objectives.score_matching` computes the trace exactly: one vectorised backward pass over the
  :math:`d` unit vectors gives every diagonal entry of the Jacobian of the score, so its cost
  still grows with the dimension :math:`d`.
* :func:`~ebmlib.objectives.sliced_score_matching` (Song et al. 2019) replaces the trace by random projections
  :math:`v^\top (\nabla_x s) v`, one extra backward pass whatever :math:`d`.
* :func:`~ebmlib.objectives.denoising_score_matching` (Vincent 2011) fits the score of the data blurred by
  Gaussian noise of width :math:`\sigma`, which is known in closed form: no second derivatives.
"""

from __future__ import annotations

import functools

import torch

from .._validation import check_generator, check_positive_float, check_positive_int
from ..models import EnergyModel

__all__ = ["score_matching", "sliced_score_matching", "denoising_score_matching"]


def _score_with_graph(model: EnergyModel, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, s(x))`` with ``x`` requiring grad and ``s`` differentiable (for second derivatives)."""
    if model.is_binary:
        raise TypeError(f"score matching is for continuous models, {type(model).__name__} is binary")
    model.check_input(x)
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.energy(x).sum(), x, create_graph=True)
    return x, -grad


def _differentiates_data(loss):
    """These losses differentiate with respect to the data, so they run with autograd on even
    inside ``torch.no_grad()`` (an evaluation of the loss, say)."""

    @functools.wraps(loss)
    def wrapped(*args, **kwargs):
        with torch.enable_grad():
            return loss(*args, **kwargs)

    return wrapped


@_differentiates_data
def score_matching(model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
    r"""Exact score matching loss

    .. math::

        \operatorname{mean}_x [\tfrac{1}{2} \|s(x)\|^2 + \operatorname{tr}(\nabla_x s(x))].

    The trace needs ``d`` Jacobian-vector products, :math:`e_i^\top \nabla_x s`; they run as one
    batched backward pass (``torch.autograd.grad(..., is_grads_batched=True)``), which is
    faster than ``d`` separate passes and than a per-example ``vmap(jacrev)``
    (``benchmarks/score_matching.py``).

    Args:
        model: a continuous model.
        x: ``[batch, d]`` data.
    """
    x, score = _score_with_graph(model, x)
    d = x.shape[1]
    basis = torch.eye(d, dtype=x.dtype, device=x.device)[:, None, :].expand(d, x.shape[0], d)
    (rows,) = torch.autograd.grad(score, x, grad_outputs=basis, create_graph=True, is_grads_batched=True)
    trace = torch.diagonal(rows, dim1=0, dim2=2).sum(-1)  # rows[i, b, i] = d s_i / d x_i at example b
    return (0.5 * (score * score).sum(1) + trace).mean()


@_differentiates_data
def sliced_score_matching(
    model: EnergyModel,
    x: torch.Tensor,
    n_projections: int = 1,
    *,
    variance_reduced: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Sliced score matching, over :math:`v \sim \mathcal{N}(0, I)`:

    .. math::

        \operatorname{mean} [v^\top (\nabla_x s) v + \tfrac{1}{2} (v^\top s)^2].

    Args:
        model: a continuous model.
        x: ``[batch, d]`` data.
        n_projections: random directions per example.
        variance_reduced: replace :math:`\tfrac{1}{2} (v^\top s)^2` by its expectation :math:`\tfrac{1}{2} \|s\|^2`
            (the SSM-VR form), which lowers the variance.
        generator: random generator on ``x``'s device.
    """
    check_positive_int(n_projections, "n_projections")
    check_generator(generator, x.device)
    x = x.repeat(n_projections, 1)
    x, score = _score_with_graph(model, x)
    v = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    (hvp,) = torch.autograd.grad((score * v).sum(), x, create_graph=True)
    quadratic = (hvp * v).sum(1)
    norm = 0.5 * (score * score).sum(1) if variance_reduced else 0.5 * (score * v).sum(1) ** 2
    return (quadratic + norm).mean()


@_differentiates_data
def denoising_score_matching(
    model: EnergyModel,
    x: torch.Tensor,
    sigma: float,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Denoising score matching, with :math:`e \sim \mathcal{N}(0, I)`:

    .. math::

        \operatorname{mean} \tfrac{1}{2} \|s(x + \sigma e) + e / \sigma\|^2.

    Its minimiser is the score of the data convolved with :math:`\mathcal{N}(0, \sigma^2 I)`: small
    :math:`\sigma` means little bias and a noisy loss, large :math:`\sigma` the reverse.

    Args:
        model: a continuous model.
        x: ``[batch, d]`` data.
        sigma: the noise level.
        generator: random generator on ``x``'s device.
    """
    check_positive_float(sigma, "sigma")
    check_generator(generator, x.device)
    model.check_input(x)
    noise = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    noisy = (x + sigma * noise).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.energy(noisy).sum(), noisy, create_graph=True)
    return 0.5 * ((-grad + noise / sigma) ** 2).sum(1).mean()
