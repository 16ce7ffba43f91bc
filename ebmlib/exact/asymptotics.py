"""The exact asymptotic covariance of an estimator, from every state of a small binary model."""

from __future__ import annotations

import torch

from .._validation import check_positive_int
from ..models import EnergyModel
from ..utils import _device_of
from .enumeration import binary_states

__all__ = ["asymptotic_covariance"]


def asymptotic_covariance(model: EnergyModel, criterion, *, max_bits: int = 12) -> torch.Tensor:
    r"""The exact asymptotic covariance of the estimator that minimises ``criterion``, per example.

    For data drawn from ``model`` itself and an estimator :math:`\hat\theta` that minimises the
    average of a per-example criterion :math:`l(x; \theta)` (the negative log-likelihood, the negative
    log-pseudolikelihood, ...), :math:`\sqrt{N} (\hat\theta - \theta)` tends to a Gaussian with the
    *sandwich* covariance :math:`H^+ J H^+`: :math:`H = \mathbb{E}_p[\nabla^2 l]` and
    :math:`J = \operatorname{Cov}_p[\nabla l]`, both computed here by enumerating every state. For
    the likelihood :math:`H = J` is the Fisher information and the covariance is its inverse, the
    smallest any consistent estimator can reach. Parameters are those of ``model.parameters()``
    (flattened); redundant directions (a Boltzmann machine's diagonal, say) have no curvature and
    the pseudo-inverse ignores them.

    Args:
        model: a small binary model (its :math:`2^n` states are enumerated one by one).
        criterion: ``criterion(model, x) -> mean over the rows of x``, e.g.
            :func:`ebmlib.objectives.pseudolikelihood`.

    Returns:
        ``[P, P]`` float64, ``P`` the number of scalar parameters; divide by ``N`` for ``N`` examples.
    """
    n = model.n_features
    check_positive_int(max_bits, "max_bits")
    if n > max_bits:
        raise ValueError(f"asymptotic_covariance enumerates 2^{n} states one by one (max_bits={max_bits})")
    params = list(model.parameters())
    states = binary_states(n, device=_device_of(model))
    with torch.no_grad():
        p = torch.softmax(-model.energy(states).double(), 0)
    losses = torch.stack([criterion(model, state[None]).double() for state in states])  # [S]
    grads = torch.stack(
        [
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=True)]).double()
            for loss in losses
        ]
    )  # per-state gradients, [S, P]
    centred = grads - p @ grads
    j = centred.T @ (centred * p[:, None])
    mean_grad = torch.autograd.grad(p @ losses, params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in mean_grad])
    h = torch.stack(
        [
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(flat[k], params, retain_graph=True)]).double()
            for k in range(len(flat))
        ]
    )
    h_plus = torch.linalg.pinv(0.5 * (h + h.T), hermitian=True)
    return h_plus @ j @ h_plus
