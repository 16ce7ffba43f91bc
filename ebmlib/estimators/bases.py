"""Where the path estimators start: the tractable base distribution and how it is chosen."""

from __future__ import annotations

import torch

from ..distributions import IndependentBernoulli
from ..models import EnergyModel
from ..utils import _device_of, _dtype_of

__all__ = ["resolve_base"]


def resolve_base(model: EnergyModel, base: object = None) -> object:
    """The base distribution an estimator anneals from.

    Args:
        model: the model at the end of the path.
        base: for a binary model ``None`` or ``"model"`` (independent units with the model's
            own visible biases, the default), ``"uniform"``, a ``[n]`` tensor of log-odds (for
            the base-rate model of Salakhutdinov and Murray, the log-odds of the training
            data's pixel means: :func:`ebmlib.utils.base_rate_logits`), or any object with
            ``sample`` and ``log_prob``. For a continuous model ``None`` (a standard normal) or
            such an object.

    Returns:
        For a binary model given log-odds (or a name), an
        :class:`~ebmlib.distributions.IndependentBernoulli` on the model's device; otherwise a
        distribution with ``sample`` and ``log_prob``.

    The default for binary models was chosen by measurement (``benchmarks/ais.py``, 100
    distributions, two RBMs trained on MNIST and one random one, 5 seeds): the model's own
    visible biases did about as well as the base rate and far better than uniform, and need no
    data.
    """
    if model.is_binary:
        if base is None:
            base = "model"
        if isinstance(base, str):
            if base == "uniform":
                logits = torch.zeros(model.n_features, dtype=torch.float64, device=_device_of(model))
            elif base == "model":
                logits = _visible_bias(model)
            else:
                raise ValueError(f"base must be 'model', 'uniform', log-odds or a distribution, got {base!r}")
            return IndependentBernoulli(logits.to(_device_of(model)))
        if isinstance(base, torch.Tensor):
            if base.shape != (model.n_features,):
                raise ValueError(f"base logits must have shape [{model.n_features}], got {tuple(base.shape)}")
            return IndependentBernoulli(base.to(_device_of(model)))
    elif base is None:
        zeros = torch.zeros(model.n_features, device=_device_of(model), dtype=_dtype_of(model))
        return torch.distributions.Independent(torch.distributions.Normal(zeros, torch.ones_like(zeros)), 1)
    if not (callable(getattr(base, "sample", None)) and callable(getattr(base, "log_prob", None))):
        raise TypeError(f"base must have sample() and log_prob(), like a torch.distributions object, got {base!r}")
    return base


def _visible_bias(model: EnergyModel) -> torch.Tensor:
    for name in ("visible_bias", "bias"):
        b = getattr(model, name, None)
        if isinstance(b, torch.Tensor) and b.shape == (model.n_features,):
            return b.detach().double()
    inner = getattr(model, "model", None)
    if isinstance(inner, EnergyModel):
        return _visible_bias(inner)
    raise ValueError(
        f"base='model' needs visible biases, and {type(model).__name__} has none; use base='uniform' or give log-odds"
    )
