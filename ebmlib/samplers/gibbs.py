"""Gibbs sampling for binary models.

* :class:`~ebmlib.models.BoltzmannMachine`: systematic scan, one unit at a time
  (see :mod:`ebmlib.samplers._scan` for how the sequential sweep is kept fast).
* :class:`~ebmlib.models.RBM`: block Gibbs; all hidden units given the visible ones,
  then all visible units given the hidden ones.
* any other binary :class:`~ebmlib.models.EnergyModel`: systematic scan where each
  conditional is read off two energy evaluations, ``E(x with x_i=0) - E(x with x_i=1)``.

Every kernel maps a ``[chains, n]`` state to the next one and works on all chains at once.
"""

from __future__ import annotations

import torch

from .._validation import check_generator
from ..models import RBM, BoltzmannMachine, EnergyModel
from ._chain import run_chain
from ._scan import systematic_scan

__all__ = ["gibbs", "gibbs_step"]


def _logistic_noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    u = torch.rand(x.shape, dtype=x.dtype, device=x.device, generator=generator)
    return torch.logit(u)


def _bm_params(model: BoltzmannMachine, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return model.coupling.detach().to(x.dtype), model.bias.detach().to(x.dtype)


def _bm_sweep(params, x: torch.Tensor, generator, backend: str) -> torch.Tensor:
    return systematic_scan(x, *params, _logistic_noise(x, generator), backend)


def _rbm_step(model: RBM, v: torch.Tensor, generator) -> torch.Tensor:
    return model.sample_visible(model.sample_hidden(v, generator), generator)


class _RBMChain:
    """Block Gibbs on an RBM for a whole run, with every work buffer allocated once.

    Each step overwrites the same four buffers in place (logits, then probabilities, then
    uniforms compared with them), so a long run allocates nothing per step: on a CPU a
    fresh multi-megabyte buffer per step costs page faults comparable to the draws
    themselves. It consumes random numbers in the same order as :func:`_rbm_step`, so
    ``n`` steps here equal ``n`` calls of :func:`gibbs_step` with the same generator.
    """

    def __init__(self, model: RBM, v: torch.Tensor, generator) -> None:
        dtype = v.dtype
        self.weight = model.weight.detach().to(dtype)
        self.vbias = model.visible_bias.detach().to(dtype)
        self.hbias = model.hidden_bias.detach().to(dtype)
        self.generator = generator
        chains = v.shape[0]
        self.h_prob = v.new_empty(chains, model.n_hidden)
        self.h = v.new_empty(chains, model.n_hidden)
        self.v_prob = v.new_empty(chains, model.n_visible)

    def __call__(self, v: torch.Tensor) -> tuple[torch.Tensor, None]:
        torch.addmm(self.hbias, v, self.weight, out=self.h_prob).sigmoid_()
        torch.rand(self.h.shape, generator=self.generator, out=self.h).lt_(self.h_prob)
        torch.addmm(self.vbias, self.h, self.weight.T, out=self.v_prob).sigmoid_()
        torch.rand(v.shape, generator=self.generator, out=v).lt_(self.v_prob)
        return v, None


def _generic_sweep(model: EnergyModel, x: torch.Tensor, generator) -> torch.Tensor:
    x = x.clone()
    noise = _logistic_noise(x, generator)
    for i in range(x.shape[1]):
        x[:, i] = 0.0
        e_off = model.energy(x)
        x[:, i] = 1.0
        e_on = model.energy(x)
        x[:, i] = (e_off - e_on > noise[:, i]).to(x.dtype)
    return x


def gibbs_step(
    model: EnergyModel,
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    backend: str = "auto",
) -> torch.Tensor:
    """One Gibbs sweep (or one block-Gibbs step for an RBM): ``[chains, n] -> [chains, n]``.

    ``backend`` chooses how a Boltzmann machine's scan runs (``"auto"``, ``"numba"``,
    ``"torch"``); other models ignore it.
    """
    with torch.no_grad():
        if isinstance(model, BoltzmannMachine):
            return _bm_sweep(_bm_params(model, x), x, generator, backend)
        if isinstance(model, RBM):
            return _rbm_step(model, x, generator)
        return _generic_sweep(model, x, generator)


def gibbs(
    model: EnergyModel,
    x: torch.Tensor,
    n_steps: int,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """Run ``n_steps`` Gibbs sweeps on every chain and return the chains' final state.

    Args:
        model: a binary model.
        x: ``[chains, n]`` float 0/1 start states, on the device the chains should run on.
        n_steps: number of sweeps (0 returns a copy of ``x``).
        generator: a ``torch.Generator`` on ``x``'s device, for reproducible draws.
        progress: show a progress bar.
        backend: how a Boltzmann machine's scan runs (see :func:`gibbs_step`).

    Returns:
        A new ``[chains, n]`` tensor, same dtype and device as ``x``.
    """
    if not getattr(model, "is_binary", False):
        raise TypeError(f"gibbs needs a binary model, got {type(model).__name__}")
    model.check_input(x)
    check_generator(generator, x.device)
    if isinstance(model, BoltzmannMachine):
        # The symmetrized couplings are made once for the whole run, not once per sweep.
        params = _bm_params(model, x)

        def kernel(s):
            return _bm_sweep(params, s, generator, backend), None
    elif isinstance(model, RBM):
        kernel = _RBMChain(model, x, generator)  # updates the chains in place, buffer-free
    else:

        def kernel(s):
            return gibbs_step(model, s, generator, backend=backend), None

    x, _ = run_chain(kernel, x.clone(), n_steps, progress=progress, desc="Gibbs")
    return x
