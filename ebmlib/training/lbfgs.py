"""Full-batch L-BFGS, for deterministic losses whose optimization error must be negligible."""

from __future__ import annotations

import torch

from .._validation import check_positive_int
from .loop import LossFn

__all__ = ["minimize"]


def minimize(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: torch.Tensor,
    *,
    max_iter: int = 500,
    tolerance: float = 1e-9,
) -> float:
    """Minimise ``loss_fn(model, data)`` on the whole data set with L-BFGS (deterministic loss).

    For estimators whose statistical error is the point (for example NCE's error against
    the number of data points), the optimization error must be far below it; full-batch
    L-BFGS with a strong-Wolfe line search gets there in a few hundred iterations where
    stochastic gradients would need a decaying step size. The loss must be deterministic:
    hold any noise samples fixed (``noise_samples=`` in :func:`ebmlib.objectives.nce`).

    Args:
        model: the model; its parameters are updated in place.
        loss_fn: maps ``(model, data)`` to a scalar loss.
        data: the whole training set.
        max_iter: L-BFGS iterations at most.
        tolerance: stop when the gradient's largest entry or a step's change falls below this.

    Returns:
        The final loss.
    """
    check_positive_int(max_iter, "max_iter")
    optimizer = torch.optim.LBFGS(
        model.parameters(),
        max_iter=max_iter,
        tolerance_grad=tolerance,
        tolerance_change=tolerance * 1e-3,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, data)
        if not torch.isfinite(loss):
            raise ValueError("the loss became NaN or infinite during minimize")
        loss.backward()
        for p in model.parameters():  # L-BFGS flattens gradients with view()
            if p.grad is not None and not p.grad.is_contiguous():
                p.grad = p.grad.contiguous()
        return loss

    optimizer.step(closure)
    # no torch.no_grad() here: losses such as score matching differentiate with respect to the data
    return float(loss_fn(model, data).detach())
