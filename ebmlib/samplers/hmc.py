r"""Hamiltonian Monte Carlo (Duane et al. 1987; Neal 2011) for continuous models.

HMC samples ``p(x) ∝ exp(-E(x))`` by adding a momentum ``r ~ N(0, M)`` and simulating the
dynamics of the Hamiltonian

    H(x, r) = E(x) + r^T M^{-1} r / 2

with the *leapfrog* integrator: half a step of momentum, then ``L`` alternating full steps of
position and momentum, the last momentum step again a half step,

    r <- r + (eps / 2) s(x),   then L times:  x <- x + eps M^{-1} r,  r <- r + eps s(x)
    (the last of these momentum steps is eps / 2),

where ``s(x) = -grad E(x)`` is the score. The leapfrog map is *reversible* (negate the momentum
at the end, run it again, and you are back where you started) and *volume preserving* (its
Jacobian determinant is 1), so the proposal ``(x, r) -> (x', -r')`` is its own inverse and
accepting it with probability ``min(1, exp(-(H(x', r') - H(x, r))))`` leaves ``p(x) N(r; 0, M)``
exactly invariant, whatever ``eps`` and ``L``. The momentum is drawn afresh at every step, which
makes each step reversible with respect to ``p``: :meth:`HMC.reversed` is the kernel itself.

Only energy differences enter, never ``Z``. The energy and score of the current states are kept
in the state, so one step costs ``L`` evaluations of the model (``model.energy_and_score``,
energy and score from one pass), not ``L + 1``.

The mass matrix ``M`` is diagonal here (``inverse_mass`` is ``M^{-1}``, a ``[d]`` tensor, the
identity by default); a good ``M^{-1}`` is the target's variance per coordinate.

With a fixed ``eps`` and ``L``, some trajectory lengths ``eps L`` nearly return to where they
started (on a Gaussian, a multiple of half a period): such steps are accepted almost always and
move almost nowhere, so the acceptance rate is not monotone in ``eps``. ``jitter`` draws each
chain's step size afresh at every step, uniformly within ``eps (1 +- jitter)`` (Neal 2011,
section 5.4.2.2), which smooths those resonances out; a step size drawn independently of the
state keeps every step reversible.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .._random import uniform
from .._validation import check_positive_int
from ..models import EnergyModel
from ._step_size import acceptance_probability, check_step_size
from .base import Chain, Kernel, run_chain

__all__ = ["HMC", "HMCState", "HMCInfo", "hmc", "leapfrog"]


class HMCState(NamedTuple):
    """The chains ``x`` ``[chains, d]``, their energies ``E(x)`` ``[chains]`` and scores ``-grad E(x)``
    ``[chains, d]``."""

    x: torch.Tensor
    energy: torch.Tensor
    score: torch.Tensor


class HMCInfo(NamedTuple):
    """What one HMC step did, per chain: ``accepted`` (``[chains]`` bool), ``accept_prob``
    (``[chains]``, ``min(1, exp(-delta_h))``, 0 where the trajectory overflowed: what step-size
    adaptation steers) and ``delta_h`` (``[chains]``, ``H(x', r') - H(x, r)``, the integrator's
    energy error: zero for exact dynamics, large or non-finite for a diverging trajectory)."""

    accepted: torch.Tensor
    accept_prob: torch.Tensor
    delta_h: torch.Tensor


def _check_inverse_mass(value: object, n_features: int, name: str = "inverse_mass") -> torch.Tensor | None:
    if value is None:
        return None
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise TypeError(f"{name} must be None or a floating tensor of shape [{n_features}], got {type(value).__name__}")
    if tuple(value.shape) != (n_features,):
        raise ValueError(f"{name} must have shape [{n_features}] (a diagonal M^-1), got {tuple(value.shape)}")
    if not bool(((value > 0) & torch.isfinite(value)).all()):
        raise ValueError(f"{name} must hold finite numbers > 0")
    return value.detach()


def _add(y: torch.Tensor, a: float | torch.Tensor, x: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    """``y + a x`` (in place on ``y`` if ``inplace``); ``a`` a float or a ``[chains, 1]`` tensor."""
    if isinstance(a, float):
        return y.add_(x, alpha=a) if inplace else torch.add(y, x, alpha=a)
    return y.addcmul_(a, x) if inplace else torch.addcmul(y, a, x)


def leapfrog(
    model: EnergyModel,
    x: torch.Tensor,
    momentum: torch.Tensor,
    score: torch.Tensor,
    step_size: float | torch.Tensor,
    n_leapfrog: int,
    inverse_mass: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_leapfrog`` leapfrog steps of the dynamics of ``H(x, r) = E(x) + r^T M^-1 r / 2``.

    Costs ``n_leapfrog`` evaluations of ``model.energy_and_score`` (the score at the start is
    given). No argument is modified.

    Args:
        model: a continuous model.
        x: ``[chains, d]`` start positions.
        momentum: ``[chains, d]`` start momenta.
        score: ``[chains, d]`` the score ``-grad E(x)`` at ``x``.
        step_size: ``eps``, a float or a ``[chains, 1]`` tensor (one per chain).
        n_leapfrog: ``L >= 1``.
        inverse_mass: ``[d]`` diagonal of ``M^-1`` (``None``: the identity).

    Returns:
        ``(x', r', E(x'), score(x'))``, shapes ``[chains, d]``, ``[chains, d]``, ``[chains]``,
        ``[chains, d]``.
    """
    half = 0.5 * step_size
    p = _add(momentum, half, score)
    energy = None
    for i in range(n_leapfrog):
        velocity = p if inverse_mass is None else p * inverse_mass
        x = _add(x, step_size, velocity)
        energy, score = model.energy_and_score(x)
        p = _add(p, step_size if i < n_leapfrog - 1 else half, score, inplace=True)
    assert energy is not None  # n_leapfrog >= 1
    return x, p, energy, score


class HMC(Kernel):
    """One HMC transition per chain per step: fresh momentum, ``n_leapfrog`` leapfrog steps, accept or reject.

    Each setting can be overridden for one step through ``kernel.step(..., step_size=...)``
    (or ``run_chain(..., step_size=...)``); ``step_size`` may be a ``[chains]`` tensor, one per
    chain, as per-chain step-size adaptation produces.

    Args:
        step_size: ``eps``, a float or a ``[chains]`` tensor.
        n_leapfrog: ``L``, leapfrog steps per transition (model evaluations per step).
        inverse_mass: ``[d]`` diagonal of ``M^-1`` (``None``: identity).
        jitter: in ``[0, 1)``; each chain's step is drawn uniformly in ``eps (1 +- jitter)`` at
            every step (0: no jitter; see the module docstring).
    """

    def __init__(
        self,
        step_size: float | torch.Tensor = 0.1,
        n_leapfrog: int = 10,
        *,
        inverse_mass: torch.Tensor | None = None,
        jitter: float = 0.0,
    ) -> None:
        if not isinstance(step_size, torch.Tensor):
            check_step_size(step_size, 1, torch.empty(0))
        if inverse_mass is not None:
            if not isinstance(inverse_mass, torch.Tensor) or inverse_mass.dim() != 1:
                raise ValueError("inverse_mass must be None or a [d] tensor (the diagonal of M^-1)")
            _check_inverse_mass(inverse_mass, inverse_mass.shape[0])
        self.params = {
            "step_size": step_size,
            "n_leapfrog": check_positive_int(n_leapfrog, "n_leapfrog"),
            "inverse_mass": inverse_mass,
            "jitter": _check_jitter(jitter),
        }

    def init(self, model: EnergyModel, x: torch.Tensor) -> HMCState:
        """Check ``x`` (``[chains, d]``) and compute its energy and score: one model evaluation."""
        if getattr(model, "is_binary", False):
            raise TypeError(f"HMC needs a continuous model (it follows the score), {type(model).__name__} is binary")
        model.check_input(x)
        inverse_mass = self.params["inverse_mass"]
        if inverse_mass is not None and inverse_mass.shape[0] != x.shape[1]:
            raise ValueError(
                f"inverse_mass has {inverse_mass.shape[0]} entries but the chains have {x.shape[1]} coordinates"
            )
        with torch.no_grad():
            energy, score = model.energy_and_score(x)
        return HMCState(x, energy.detach(), score)

    def step(
        self, model: EnergyModel, state: HMCState, *, generator: torch.Generator | None = None, **params
    ) -> tuple[HMCState, HMCInfo]:
        """One transition of every chain: ``(HMCState, HMCInfo)``; costs ``n_leapfrog`` model evaluations."""
        s = self._settings(params) if params else self.params
        x, energy, score = state
        chains, d = x.shape
        eps = check_step_size(s["step_size"], chains, x)
        jitter = _check_jitter(s["jitter"]) if params else s["jitter"]
        n_leapfrog = check_positive_int(s["n_leapfrog"], "n_leapfrog") if params else s["n_leapfrog"]
        inverse_mass = s["inverse_mass"]
        if inverse_mass is not None:
            if "inverse_mass" in params:
                inverse_mass = _check_inverse_mass(inverse_mass, d)
            if inverse_mass.shape[0] != d:
                raise ValueError(f"inverse_mass has {inverse_mass.shape[0]} entries, the chains {d} coordinates")
            inverse_mass = inverse_mass.to(dtype=x.dtype, device=x.device)
        with torch.no_grad():
            momentum = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
            if inverse_mass is not None:
                momentum = momentum.div_(inverse_mass.sqrt())  # r ~ N(0, M)
            if jitter > 0:
                u = torch.rand(chains, 1, dtype=x.dtype, device=x.device, generator=generator)
                eps = eps * (1 + jitter * (2 * u - 1))
            new_x, new_p, new_energy, new_score = leapfrog(model, x, momentum, score, eps, n_leapfrog, inverse_mass)
            new_energy = new_energy.detach()
            delta_h = (new_energy - energy) + 0.5 * (_kinetic(new_p, inverse_mass) - _kinetic(momentum, inverse_mass))
            u = uniform(chains, x.dtype, x.device, generator)
            accepted = torch.log(u) < -delta_h  # NaN (an overflowed trajectory) is rejected
            keep = accepted[:, None]
            new = HMCState(
                torch.where(keep, new_x, x),
                torch.where(accepted, new_energy, energy),
                torch.where(keep, new_score, score),
            )
        return new, HMCInfo(accepted, acceptance_probability(-delta_h), delta_h)


def _check_jitter(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"jitter must be a number in [0, 1), got {value!r}")
    return float(value)


def _kinetic(p: torch.Tensor, inverse_mass: torch.Tensor | None) -> torch.Tensor:
    """``r^T M^-1 r`` per chain (twice the kinetic energy), ``[chains, d] -> [chains]``."""
    return (p * p).sum(-1) if inverse_mass is None else (p * p * inverse_mass).sum(-1)


def hmc(
    model: EnergyModel,
    x: torch.Tensor,
    n_steps: int,
    *,
    step_size: float | torch.Tensor = 0.1,
    n_leapfrog: int = 10,
    inverse_mass: torch.Tensor | None = None,
    jitter: float = 0.0,
    generator: torch.Generator | None = None,
    trace=None,
    progress: bool = False,
) -> torch.Tensor | Chain:
    """Run ``n_steps`` HMC transitions on every chain (:class:`HMC` under :func:`run_chain`).

    Args:
        model: a continuous model.
        x: ``[chains, d]`` start states.
        n_steps: number of transitions (each costs ``n_leapfrog`` model evaluations).
        step_size: leapfrog step ``eps``: a float or a ``[chains]`` tensor.
        n_leapfrog: leapfrog steps per transition.
        inverse_mass: ``[d]`` diagonal of ``M^-1`` (default identity).
        jitter: draw each chain's step uniformly in ``step_size (1 +- jitter)`` at every step.
        generator: random generator on ``x``'s device.
        trace: statistics to record (see :func:`run_chain`), e.g. ``("accept_prob",)``.
        progress: show a progress bar.

    Returns:
        The ``[chains, d]`` final states (a :class:`Chain` with ``trace``).
    """
    kernel = HMC(step_size, n_leapfrog, inverse_mass=inverse_mass, jitter=jitter)
    return run_chain(kernel, model, x, n_steps, generator=generator, trace=trace, progress=progress)
