r"""Maximum likelihood for continuous energy models with Langevin negatives (deep EBMs).

The likelihood gradient is

.. math::

    \mathbb{E}_\text{data}[\nabla E] - \mathbb{E}_\text{model}[\nabla E];

the loss

.. math::

    L = \operatorname{mean} E(x^+) - \operatorname{mean} E(x^-)

has it as its gradient when the negatives :math:`x^-` are samples of the model. Deep
energy-based models draw them with a few tens of steps of unadjusted Langevin dynamics,

.. math::

    x' = x - \epsilon \nabla_x E(x) + \sigma \xi, \qquad \xi \sim \mathcal{N}(0, I),

and differ in where those chains start (``start``):

* ``"noise"``: short-run chains from a prior at every update (noise-initialised CD; Nijkamp,
  Hill, Zhu and Wu 2019). Cheap and stateless; the *chains* learn to turn noise into data
  in ``n_steps`` steps, and the density that makes them do so need not be the data's.
* ``"persistent"``: chains kept from one update to the next (PCD; Tieleman 2008).
* ``"buffer"``: a replay buffer (Du and Mordatch 2019): each update starts its chains from
  states drawn from a buffer of past negatives, a fraction ``reinit`` of them from the prior
  instead, and writes the results back where they came from.

**Step size and noise.** With :math:`\sigma = \sqrt{2 \epsilon}` (the default) and small steps
the chains sample the model. Many deep EBMs are trained with a much smaller :math:`\sigma`; the
chains then sample the *tempered* model :math:`p^{1/T}` with :math:`T = \sigma^2 / (2 \epsilon)`,
and maximum likelihood with those negatives fits a model whose tempered version matches the
data, :math:`p_\theta \propto p_\text{data}^T`: not the data's density.

**Stabilisers**, each optional: ``energy_penalty`` adds (Du and Mordatch 2019)

.. math::

    \alpha \operatorname{mean}(E(x^+)^2 + E(x^-)^2),

which keeps the energies from running off to :math:`\pm\infty`; ``max_score`` clips each
coordinate of the sampler's drift (Du and Mordatch 2019; :class:`~ebmlib.samplers.Langevin`);
spectral normalisation of the network is an option of the models (``spectral_norm=True`` in
:class:`~ebmlib.models.MLPEnergy` and :class:`~ebmlib.models.ConvEnergy`; Miyato et al. 2018).

**Divergence check.** When an energy of the batch or of its negatives leaves
``[-energy_limit, energy_limit]`` (or is not finite), the call raises :class:`~ebmlib.objectives.DivergenceError`,
naming the update, before the optimizer can turn the run into NaN.

**State.** The chains (or the buffer) are state (:class:`~ebmlib.objectives.LangevinMLState`):
``loss, state = langevin_ml(model, x, state, ...)``; :class:`~ebmlib.objectives.LangevinML` is the thin wrapper
that stores the state for a training loop. The replay buffer is written in place (a buffer of
ten thousand rows is not copied at every update): the state a call returns shares it with the
state it was given.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .._validation import check_generator, check_kernel, check_positive_float, check_positive_int, check_probability
from ..models import EnergyModel
from ..samplers import Kernel, Langevin, run_chain
from ..utils import draw
from ._state import load_generator, plain, save_generator

__all__ = ["langevin_ml", "LangevinMLState", "LangevinML", "DivergenceError"]

_STARTS = ("noise", "persistent", "buffer")


class DivergenceError(RuntimeError):
    """Training diverged: energies or the loss left the range the objective or loop allows."""


class LangevinMLState(NamedTuple):
    """The state of Langevin maximum likelihood (``LangevinMLState()`` before the first update).

    ``chains`` are the persistent chains ``[n_chains, d]`` (``start="persistent"``) or the replay
    buffer ``[buffer_size, d]`` (``start="buffer"``), ``None`` before the first update and for
    ``start="noise"``; ``negatives`` the last update's negatives ``[batch, d]``; ``update`` how
    many updates have been made.
    """

    chains: torch.Tensor | None = None
    negatives: torch.Tensor | None = None
    update: int = 0


class _UniformBox:
    """Independent uniforms on ``[low, high]`` per coordinate, drawn with a generator."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def sample(self, shape, *, generator=None, like: torch.Tensor) -> torch.Tensor:
        u = torch.rand(*shape, like.shape[1], dtype=like.dtype, device=like.device, generator=generator)
        return self.low + (self.high - self.low) * u


class _Settings(NamedTuple):
    n_steps: int
    kernel: Kernel
    start: str
    prior: object | None
    n_chains: int | None
    buffer_size: int
    reinit: float
    energy_penalty: float
    energy_limit: float | None


def _settings(
    n_steps, step_size, noise_scale, start, prior, n_chains, buffer_size, reinit, energy_penalty, max_score,
    energy_limit, kernel,
) -> _Settings:  # fmt: skip
    """Check the settings once and build the default kernel."""
    check_positive_int(n_steps, "n_steps")
    if start not in _STARTS:
        raise ValueError(f"start must be one of {_STARTS}, got {start!r}")
    if kernel is None:
        kernel = Langevin(step_size, noise_scale=noise_scale, max_score=max_score)
    else:
        check_kernel(kernel)
    if prior is not None and not callable(getattr(prior, "sample", None)):
        raise TypeError(f"prior must have a sample method, got {type(prior).__name__}")
    if (
        isinstance(energy_penalty, bool)
        or not isinstance(energy_penalty, (int, float))
        or not math.isfinite(energy_penalty)
        or energy_penalty < 0
    ):
        raise ValueError(f"energy_penalty must be a number >= 0, got {energy_penalty!r}")
    return _Settings(
        n_steps,
        kernel,
        start,
        prior,
        None if n_chains is None else check_positive_int(n_chains, "n_chains"),
        check_positive_int(buffer_size, "buffer_size"),
        check_probability(reinit, "reinit"),
        float(energy_penalty),
        None if energy_limit is None else check_positive_float(energy_limit, "energy_limit"),
    )


def _fresh(settings: _Settings, n: int, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if settings.prior is None:
        return _UniformBox(-1.0, 1.0).sample((n,), generator=generator, like=like)
    x = draw(settings.prior, (n,), generator=generator)
    if x.shape != (n, like.shape[1]):
        raise ValueError(f"prior samples must have shape [{n}, {like.shape[1]}], got {tuple(x.shape)}")
    return x.to(like)


def _starts(
    settings: _Settings, chains: torch.Tensor | None, x: torch.Tensor, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Start states ``[batch, d]``, the chains or buffer, and for the buffer the slots they came from."""
    n = len(x)
    if settings.start == "noise":
        return _fresh(settings, n, x, generator), None, None
    if settings.start == "persistent":
        if chains is None:
            chains = _fresh(settings, settings.n_chains or n, x, generator)
        return chains, chains, None
    if settings.buffer_size < n:
        raise ValueError(f"buffer_size ({settings.buffer_size}) must be at least the batch size ({n})")
    if chains is None:
        chains = _fresh(settings, settings.buffer_size, x, generator)
    slots = torch.randint(settings.buffer_size, (n,), device=x.device, generator=generator)
    starts = chains[slots].clone()
    restart = torch.rand(n, device=x.device, generator=generator) < settings.reinit
    if bool(restart.any()):
        starts[restart] = _fresh(settings, int(restart.sum()), x, generator)
    return starts, chains, slots


def _write_back(chains: torch.Tensor, slots: torch.Tensor, negatives: torch.Tensor) -> None:
    """``chains[slots] = negatives`` where a slot drawn twice keeps its last row, on every device
    (an indexed write with repeated indices leaves the winner unspecified on CUDA)."""
    order = torch.arange(len(slots), device=slots.device)
    last = torch.full((len(chains),), -1, dtype=order.dtype, device=slots.device)
    last = last.scatter_reduce(0, slots, order, reduce="amax")
    keep = last[slots] == order
    chains[slots[keep]] = negatives[keep]


def _step(
    model: EnergyModel,
    x: torch.Tensor,
    state: LangevinMLState,
    settings: _Settings,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, LangevinMLState]:
    model.check_input(x)
    if model.is_binary:
        raise TypeError(f"Langevin maximum likelihood needs a continuous model, {type(model).__name__} is binary")
    check_generator(generator, x.device)
    update = state.update + 1
    with torch.no_grad():
        starts, chains, slots = _starts(settings, state.chains, x, generator)
    negatives = run_chain(settings.kernel, model, starts, settings.n_steps, generator=generator).x.detach()
    if settings.start == "persistent":
        chains = negatives
    elif chains is not None and slots is not None:  # the replay buffer
        _write_back(chains, slots, negatives)  # in place: see the module docstring
    energies = model.energy(torch.cat([x, negatives.to(x.dtype)]))
    if settings.energy_limit is not None:
        worst = float(energies.detach().abs().max())
        if not worst <= settings.energy_limit:  # also catches NaN
            raise DivergenceError(
                f"energies reached {worst:.3g} (energy_limit={settings.energy_limit:g}) at update {update}: "
                "the energy is running away from the samples; lower the learning rate, or add a "
                "stabiliser (energy_penalty, max_score, spectral_norm=True in the model)"
            )
    positive, negative = energies[: len(x)], energies[len(x) :]
    loss = positive.mean() - negative.mean()
    if settings.energy_penalty:
        loss = loss + settings.energy_penalty * (positive.pow(2).mean() + negative.pow(2).mean())
    return loss, LangevinMLState(chains, negatives, update)


def langevin_ml(
    model: EnergyModel,
    x: torch.Tensor,
    state: LangevinMLState | None = None,
    *,
    n_steps: int = 20,
    step_size: float = 0.01,
    noise_scale: float | None = None,
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
) -> tuple[torch.Tensor, LangevinMLState]:
    r"""Langevin maximum likelihood, one update: ``loss, state = langevin_ml(model, x, state)``.

    Args:
        model: a continuous model.
        x: ``[batch, d]`` data.
        state: the :class:`LangevinMLState` (``None`` or ``LangevinMLState()`` to start).
        n_steps: Langevin steps per update (``K``, "10-100 in practice").
        step_size: :math:`\epsilon` (> 0).
        noise_scale: :math:`\sigma`; ``None`` for :math:`\sqrt{2 \epsilon}`. Any other value samples a tempered
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
        energy_penalty: :math:`\alpha \ge 0` of the energy-magnitude penalty.
        max_score: clip each coordinate of the drift to ``[-max_score, max_score]``.
        energy_limit: raise :class:`DivergenceError` when ``|E|`` exceeds it (``None``: never).
        kernel: any kernel to run instead of the unadjusted Langevin step built from
            ``step_size``, ``noise_scale`` and ``max_score`` (MALA, say).
        generator: random generator on the data's device.

    Returns:
        ``(loss, state)``.
    """
    settings = _settings(
        n_steps, step_size, noise_scale, start, prior, n_chains, buffer_size, reinit, energy_penalty, max_score,
        energy_limit, kernel,
    )  # fmt: skip
    return _step(model, x, LangevinMLState() if state is None else state, settings, generator)


class LangevinML:
    """Langevin maximum likelihood as a loss for :func:`ebmlib.training.fit`: ``loss = objective(model, x)``.

    It stores the :class:`LangevinMLState` between calls (see :func:`langevin_ml`, whose
    arguments it takes, ``n_steps``, ``step_size`` and ``noise_scale`` positionally).

    Args:
        generator: random generator on the data's device; its state is in :meth:`state_dict`,
            so a checkpointed run resumes bit for bit.

    Attributes:
        state: the :class:`LangevinMLState`.
        chains: the persistent chains or the replay buffer (settable, to start them yourself).
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
        self.settings = _settings(
            n_steps, step_size, noise_scale, start, prior, n_chains, buffer_size, reinit, energy_penalty, max_score,
            energy_limit, kernel,
        )  # fmt: skip
        self.generator = generator
        self.state = LangevinMLState()

    @property
    def start(self) -> str:
        return self.settings.start

    @property
    def chains(self) -> torch.Tensor | None:
        return self.state.chains

    @chains.setter
    def chains(self, value: torch.Tensor | None) -> None:
        self.state = self.state._replace(chains=value)

    @property
    def negatives(self) -> torch.Tensor | None:
        return self.state.negatives

    @property
    def update(self) -> int:
        return self.state.update

    def __call__(self, model: EnergyModel, x: torch.Tensor) -> torch.Tensor:
        loss, self.state = _step(model, x, self.state, self.settings, self.generator)
        return loss

    def state_dict(self) -> dict:
        """The state and the generator's state (tensors and numbers in plain containers)."""
        return save_generator({"start": self.start, "state": plain(self.state)}, self.generator)

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved."""
        if state.get("start") != self.start:
            raise ValueError(f"the saved state is for start={state.get('start')!r}, this objective has {self.start!r}")
        saved = state["state"]
        self.state = LangevinMLState(
            saved["chains"].clone() if "chains" in saved else None,
            saved["negatives"].clone() if "negatives" in saved else None,
            int(saved["update"]),
        )
        load_generator(state, self.generator)
