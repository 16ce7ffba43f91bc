r"""Maximum likelihood, exactly (by enumeration) or with the negative phase sampled.

For :math:`p(x) = e^{-E(x)} / Z` the gradient of the average negative log-likelihood of a
batch splits in two,

.. math::

    \nabla_\theta \text{NLL}
    = \underbrace{\mathbb{E}_\text{data}[\nabla_\theta E(x)]}_\text{positive phase}
    - \underbrace{\mathbb{E}_\text{model}[\nabla_\theta E(x)]}_{\text{negative phase} \,=\, -\nabla_\theta \log Z}.

:func:`~ebmlib.objectives.contrastive_loss` is the scalar whose gradient is this difference with
the model expectation replaced by an average over given samples ("negatives"); its *value* is
not the NLL (that would need :math:`Z`), only its gradient estimates the NLL's.
"""

from __future__ import annotations

import torch

from .._random import bernoulli_
from .._validation import check_generator, check_positive_int
from ..exact import log_likelihood
from ..models import EnergyModel
from ..samplers import Kernel, default_kernel, run_chain

__all__ = ["exact_nll", "contrastive_loss", "naive_mcmc"]


def exact_nll(model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
    """Average exact negative log-likelihood of the rows of ``x`` (0-d float64).

    Differentiable: its gradient is the exact maximum-likelihood gradient. Costs a full
    enumeration per call (see :mod:`ebmlib.exact` for the size limit).
    """
    return -log_likelihood(model, x).mean()


def contrastive_loss(model: EnergyModel, x: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    r"""The contrastive loss, whose gradient is the sampled NLL gradient:

    .. math::

        \operatorname{mean} E(x) - \operatorname{mean} E(x^-)

    (:math:`x^-`: the ``negatives``).

    Args:
        model: the model being trained.
        x: ``[batch, n]`` data (positive phase).
        negatives: ``[chains, n]`` samples believed to come from the model (negative phase);
            they are treated as constants.
    """
    model.check_input(x)
    model.check_input(negatives, "negatives")
    # one energy evaluation for both phases: one matrix product instead of two, one graph
    energy = model.energy(torch.cat([x, negatives.detach().to(x.dtype)]))
    return energy[: len(x)].mean() - energy[len(x) :].mean()


def naive_mcmc(
    model: EnergyModel,
    x: torch.Tensor,
    *,
    n_steps: int,
    n_chains: int | None = None,
    kernel: Kernel | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The naive MCMC estimate: fresh chains from uniform noise, ``n_steps`` kernel steps (the
    burn-in), then :func:`contrastive_loss`. Every call pays the whole burn-in again; that cost
    is what contrastive divergence and persistent chains remove.

    Args:
        model: a binary model.
        x: ``[batch, n]`` data.
        n_steps: kernel steps per call, the burn-in (>= 1).
        n_chains: number of fresh chains (default: the batch size).
        kernel: the sampler (default Gibbs).
        generator: random generator on ``x``'s device.
    """
    check_positive_int(n_steps, "n_steps")
    check_generator(generator, x.device)
    if not model.is_binary:
        raise TypeError(
            f"naive_mcmc starts chains from uniform 0/1 noise: it needs a binary model, got {type(model).__name__}"
        )
    n_chains = x.shape[0] if n_chains is None else check_positive_int(n_chains, "n_chains")
    start = bernoulli_(
        torch.full((n_chains, model.n_features), 0.5, dtype=x.dtype, device=x.device), generator=generator
    )
    negatives = run_chain(kernel or default_kernel(model), model, start, n_steps, generator=generator).x
    return contrastive_loss(model, x, negatives)
