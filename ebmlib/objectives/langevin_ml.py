r"""Maximum likelihood for continuous energy models with Langevin negatives (deep EBMs).

The likelihood gradient is ``E_data[grad E] - E_model[grad E]``; the loss

    L = mean E(x+) - mean E(x-)

has it as its gradient when the negatives ``x-`` are samples of the model. Deep energy-based
models draw them with a few tens of steps of unadjusted Langevin dynamics,

    x' = x - eps * grad_x E(x) + sigma * xi,    xi ~ N(0, I),

and differ in where those chains start (``start``):

* ``"noise"``: short-run chains from a prior at every update (noise-initialised CD; Nijkamp,
  Hill, Zhu and Wu 2019). Cheap and stateless; the *chains* learn to turn noise into data
  in ``n_steps`` steps, and the density that makes them do so need not be the data's.
* ``"persistent"``: chains kept from one update to the next (PCD; Tieleman 2008).
* ``"buffer"``: a replay buffer (Du and Mordatch 2019): each update starts its chains from
  states drawn from a buffer of past negatives, a fraction ``reinit`` of them from the prior
  instead, and writes the results back where they came from.

**Step size and noise.** With ``sigma = sqrt(2 eps)`` (the default) and small steps the chains
sample the model. Many deep EBMs are trained with a much smaller ``sigma``; the chains then
sample the *tempered* model ``p^(1/T)`` with ``T = sigma^2 / (2 eps)``, and maximum likelihood
with those negatives fits a model whose tempered version matches the data, ``p_theta ∝ p_data^T``:
not the data's density.

**Stabilisers**, each optional: ``energy_penalty`` adds ``alpha * mean(E(x+)^2 + E(x-)^2)``
(Du and Mordatch 2019), which keeps the energies from running off to +-infinity; ``max_score``
clips each coordinate of the sampler's drift (Du and Mordatch 2019; ``samplers.Langevin``);
spectral normalisation of the network is an option of the models (``spectral_norm=True`` in
:class:`~ebmlib.models.MLPEnergy` and :class:`~ebmlib.models.ConvEnergy`; Miyato et al. 2018).

**Divergence check.** When an energy of the batch or of its negatives leaves
``[-energy_limit, energy_limit]`` (or is not finite), the call raises :class:`DivergenceError`,
naming the update, before the optimizer can turn the run into NaN.
"""

from __future__ import annotations

import math

import torch

from .._validation import check_generator, check_positive_float, check_positive_int, check_probability
from ..models import EnergyModel
from ..samplers import Kernel, Langevin, run_chain
from ..samplers.base import _check_kernel
from ..utils import draw

__all__ = ["LangevinML", "DivergenceError"]

_STARTS = ("noise", "persistent", "buffer")


class DivergenceError(RuntimeError):
    """Training diverged: energies left the range the objective was told to allow."""


class _UniformBox:
    """Independent uniforms on ``[low, high]`` per coordinate, drawn with a generator."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def sample(self, shape, generator=None, *, like: torch.Tensor) -> torch.Tensor:
        u = torch.rand(*shape, like.shape[1], dtype=like.dtype, device=like.device, generator=generator)
        return self.low + (self.high - self.low) * u


class LangevinML:
    """Langevin maximum likelihood as a loss for :func:`ebmlib.training.fit`: ``loss = objective(model, x)``.

    Args:
        n_steps: Langevin steps per update (``K``, "10-100 in practice").
        step_size: ``eps`` (> 0).
        noise_scale: ``sigma``; ``None`` for ``sqrt(2 eps)``. Any other value samples a tempered
            model (see the module docstring).
        start: ``"noise"``, ``"persistent"`` or ``"buffer"`` (see the module docstring).
        prior: where fresh chains start: any object with ``sample`` (a ``torch.distributions``
            distribution, a flow, ...); default uniform on ``[-1, 1]`` in every coordinate.
        n_chains: number of persistent chains (``start="persistent"``; default the first
            batch's size). The other starts use one chain per data row.
        buffer_size: states kept in the replay buffer (``start="buffer"``; at least the batch
            size).
        reinit: share of each update's chains restarted from the prior (``start="buffer"``),
            in ``[0, 1]``.
        energy_penalty: ``alpha >= 0`` of the energy-magnitude penalty.
        max_score: clip each coordinate of the drift to ``[-max_score, max_score]``.
        energy_limit: raise :class:`DivergenceError` when ``|E|`` exceeds it (``None``: never).
        kernel: any kernel to run instead of the unadjusted Langevin step built from
            ``step_size``, ``noise_scale`` and ``max_score`` (MALA, say).
        generator: random generator on the data's device; its state is in :meth:`state_dict`,
            so a checkpointed run resumes bit for bit.

    Attributes:
        negatives: ``[batch, d]`` the last update's negatives.
        update: how many updates have been made.
    """

    def __init__(
        self,
        n_steps: int = 20,
        step_size: float = 0.01,
        noise_scale: float | None = None,
        *,
        start: str = "buffer",
        prior: object | None = None,
        n_chains: int | None = None,
        buffer_size: int = 10_000,
        reinit: float = 0.05,
        energy_penalty: float = 0.0,
        max_score: float | None = None,
        energy_limit: float | None = 1e4,
        kernel: Kernel | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.n_steps = check_positive_int(n_steps, "n_steps")
        if start not in _STARTS:
            raise ValueError(f"start must be one of {_STARTS}, got {start!r}")
        self.start = start
        if kernel is None:
            kernel = Langevin(step_size, noise_scale=noise_scale, max_score=max_score)
        else:
            _check_kernel(kernel)
        self.kernel = kernel
        if prior is not None and not callable(getattr(prior, "sample", None)):
            raise TypeError(f"prior must have a sample method, got {type(prior).__name__}")
        self.prior = prior
        self.n_chains = None if n_chains is None else check_positive_int(n_chains, "n_chains")
        self.buffer_size = check_positive_int(buffer_size, "buffer_size")
        self.reinit = check_probability(reinit, "reinit")
        if (
            isinstance(energy_penalty, bool)
            or not isinstance(energy_penalty, (int, float))
            or not math.isfinite(energy_penalty)
            or energy_penalty < 0
        ):
            raise ValueError(f"energy_penalty must be a number >= 0, got {energy_penalty!r}")
        self.energy_penalty = float(energy_penalty)
        self.energy_limit = None if energy_limit is None else check_positive_float(energy_limit, "energy_limit")
        self.generator = generator
        self.chains: torch.Tensor | None = None  # the persistent chains, or the replay buffer
        self.negatives: torch.Tensor | None = None
        self.update = 0

    def _fresh(self, n: int, like: torch.Tensor) -> torch.Tensor:
        if self.prior is None:
            return _UniformBox(-1.0, 1.0).sample((n,), self.generator, like=like)
        x = draw(self.prior, (n,), self.generator)
        if x.shape != (n, like.shape[1]):
            raise ValueError(f"prior samples must have shape [{n}, {like.shape[1]}], got {tuple(x.shape)}")
        return x.to(like)

    def _starts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Start states ``[batch, d]`` and, for the buffer, the slots they came from."""
        n = len(x)
        if self.start == "noise":
            return self._fresh(n, x), None
        if self.start == "persistent":
            if self.chains is None:
                self.chains = self._fresh(self.n_chains or n, x)
            return self.chains, None
        if self.buffer_size < n:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be at least the batch size ({n})")
        if self.chains is None:
            self.chains = self._fresh(self.buffer_size, x)
        slots = torch.randint(self.buffer_size, (n,), device=x.device, generator=self.generator)
        starts = self.chains[slots].clone()
        restart = torch.rand(n, device=x.device, generator=self.generator) < self.reinit
        if bool(restart.any()):
            starts[restart] = self._fresh(int(restart.sum()), x)
        return starts, slots

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        model.check_input(x)
        if model.is_binary:
            raise TypeError(f"LangevinML needs a continuous model, {type(model).__name__} is binary")
        check_generator(self.generator, x.device)
        self.update += 1
        with torch.no_grad():
            starts, slots = self._starts(x)
        negatives = run_chain(self.kernel, model, starts, self.n_steps, generator=self.generator).detach()
        if self.start == "persistent":
            self.chains = negatives
        elif self.start == "buffer":
            self.chains[slots] = negatives
        self.negatives = negatives
        energies = model.energy(torch.cat([x, negatives.to(x.dtype)]))
        if self.energy_limit is not None:
            worst = float(energies.detach().abs().max())
            if not worst <= self.energy_limit:  # also catches NaN
                raise DivergenceError(
                    f"energies reached {worst:.3g} (energy_limit={self.energy_limit:g}) at update {self.update}: "
                    "the energy is running away from the samples; lower the learning rate, or add a "
                    "stabiliser (energy_penalty, max_score, spectral_norm=True in the model)"
                )
        positive, negative = energies[: len(x)], energies[len(x) :]
        loss = positive.mean() - negative.mean()
        if self.energy_penalty:
            loss = loss + self.energy_penalty * (positive.pow(2).mean() + negative.pow(2).mean())
        return loss

    def state_dict(self) -> dict:
        """The chains or buffer, the update count and the generator state (safe to ``torch.save``)."""
        state: dict = {"start": self.start, "update": self.update}
        if self.chains is not None:
            state["chains"] = self.chains.clone()
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        if state.get("start") != self.start:
            raise ValueError(f"the saved state is for start={state.get('start')!r}, this objective has {self.start!r}")
        self.update = int(state["update"])
        self.chains = state["chains"].clone() if "chains" in state else None
        if self.generator is not None and "generator" in state:
            self.generator.set_state(state["generator"])
