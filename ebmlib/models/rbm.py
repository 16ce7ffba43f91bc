"""The Bernoulli-Bernoulli restricted Boltzmann machine."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import softplus

from .._random import bernoulli_
from .._validation import check_positive_float, check_positive_int
from ..utils import _factory_device
from .base import Bipartite, EnergyModel, Enumeration

__all__ = ["RBM", "block_gibbs"]


def _draw_hidden(pre: torch.Tensor, beta: float, generator: torch.Generator | None) -> torch.Tensor:
    """Hidden units on with probability ``sigmoid(beta * pre)`` (``pre = c + v W``)."""
    return bernoulli_(torch.sigmoid(pre if beta == 1.0 else beta * pre), generator=generator)


def _draw_visible(
    h: torch.Tensor, weight: torch.Tensor, visible_bias: torch.Tensor, beta: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Visible units on with probability ``sigmoid(b + beta h W^T)``."""
    return bernoulli_(torch.addmm(visible_bias, h, weight.T, alpha=beta).sigmoid_(), generator=generator)


def block_gibbs(
    v: torch.Tensor,
    weight: torch.Tensor,
    visible_bias: torch.Tensor,
    hidden_bias: torch.Tensor,
    *,
    beta: float = 1.0,
    hidden_pre: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""One block-Gibbs step :math:`v \to h \to v'` of the RBM with weights :math:`\beta W`, hidden
    biases :math:`\beta c` and visible biases :math:`b`, from raw tensors (no autograd).

    :math:`h_j` is on with probability :math:`\sigma(\beta (c + v W)_j)`, then :math:`v'_i` with
    :math:`\sigma(b_i + \beta (W h)_i)`: the step of :meth:`RBM.gibbs_sweep` (:math:`\beta = 1`) and
    of the RBM annealing path of :mod:`ebmlib.estimators` (the tempered RBMs
    :math:`p_\beta`), written once.

    Args:
        v: ``[chains, n_visible]`` 0/1 states.
        weight: ``[n_visible, n_hidden]`` (:math:`W`, unscaled), in ``v``'s dtype.
        visible_bias: ``[n_visible]`` (:math:`b`), in ``v``'s dtype.
        hidden_bias: ``[n_hidden]`` (:math:`c`, unscaled), in ``v``'s dtype.
        beta: the scale :math:`\beta` of the weights and hidden biases.
        hidden_pre: :math:`c + v W` when the caller has it already (it is then not recomputed).
        generator: random generator on ``v``'s device.

    Returns:
        The new ``[chains, n_visible]`` states.
    """
    pre = torch.addmm(hidden_bias, v, weight) if hidden_pre is None else hidden_pre
    return _draw_visible(_draw_hidden(pre, beta, generator), weight, visible_bias, beta, generator)


class _FreeEnergy(torch.autograd.Function):
    """``F(v) = -v.b - sum_j softplus(c_j + (v W)_j)`` with its gradient written out:
    ``dF/dW = -v^T sigmoid(pre)``, ``dF/db = -v``, ``dF/dc = -sigmoid(pre)``, row by row.

    One graph node instead of five; the sigmoid is computed only when a gradient is asked
    for. Second derivatives are exact too: when the backward pass itself is recorded
    (``create_graph=True``), ``pre`` is recomputed from the inputs with differentiable
    operations, so the gradient is differentiable in ``v``, ``W``, ``b`` and ``c``.
    """

    @staticmethod
    def forward(ctx, v, w, b, c):
        pre = torch.addmm(c, v, w)
        ctx.save_for_backward(v, w, b, c, pre)
        return -(v @ b) - softplus(pre).sum(-1)

    @staticmethod
    def backward(ctx, grad):
        v, w, b, c, pre = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: keep the gradient differentiable
            weighted = torch.sigmoid(torch.addmm(c, v, w)) * grad[:, None]
        else:
            weighted = torch.sigmoid(pre).mul_(grad[:, None])  # g_i sigmoid(pre_i)
        need_v, need_w, need_b, need_c = ctx.needs_input_grad
        gv = -(torch.outer(grad, b) + weighted @ w.T) if need_v else None
        gw = -(v.T @ weighted) if need_w else None
        gb = -(grad @ v) if need_b else None
        gc = -weighted.sum(0) if need_c else None
        return gv, gw, gb, gc


class RBM(EnergyModel):
    r"""Binary RBM: :math:`E(v, h) = -v^\top W h - b^\top v - c^\top h`.

    :meth:`energy` is the *free energy* of the visible units, with the hidden ones summed
    out:

    .. math::

        F(v) = -b^\top v - \sum_j \operatorname{softplus}(c_j + (v W)_j),

    so :math:`p(v) \propto \exp(-F(v))`.

    Args:
        n_visible: number of visible units.
        n_hidden: number of hidden units.
        init_std: standard deviation of the initial Gaussian weights; hidden biases start at 0.
        visible_bias: initial visible biases ``[n_visible]`` (default 0); the log-odds of
            the data's pixel means (:func:`ebmlib.utils.base_rate_logits`) are the usual start.
        generator: random generator for the initial weights (on ``device``).
        device, dtype: where and in what precision the parameters live.

    Attributes:
        weight: ``[n_visible, n_hidden]``.
        visible_bias: ``[n_visible]`` (``b``).
        hidden_bias: ``[n_hidden]`` (``c``).
    """

    is_binary = True

    def __init__(
        self,
        n_visible: int,
        n_hidden: int,
        init_std: float = 0.01,
        *,
        visible_bias: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_positive_int(n_visible, "n_visible")
        check_positive_int(n_hidden, "n_hidden")
        if not init_std >= 0:
            raise ValueError(f"init_std must be >= 0, got {init_std}")
        self.n_features = n_visible
        self.n_hidden = n_hidden
        factory = {"device": _factory_device(device, generator), "dtype": dtype or torch.get_default_dtype()}
        weight = torch.zeros(n_visible, n_hidden, **factory)
        if init_std > 0:
            weight.normal_(0.0, init_std, generator=generator)
        self.weight = nn.Parameter(weight)
        self.visible_bias = nn.Parameter(torch.zeros(n_visible, **factory))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden, **factory))
        if visible_bias is not None:
            visible_bias = torch.as_tensor(visible_bias)
            if visible_bias.shape != (n_visible,) or not bool(torch.isfinite(visible_bias).all()):
                raise ValueError(f"visible_bias must be a finite tensor of shape [{n_visible}]")
            with torch.no_grad():
                self.visible_bias.copy_(visible_bias)

    @property
    def n_visible(self) -> int:
        return self.n_features

    # --- energies -------------------------------------------------------------------
    def energy(self, v: torch.Tensor) -> torch.Tensor:
        """Free energy ``F(v)``: ``[batch, n_visible] -> [batch]`` (its gradient in closed form)."""
        p = self._param
        return _FreeEnergy.apply(v, p(self.weight, v), p(self.visible_bias, v), p(self.hidden_bias, v))

    def hidden_free_energy(self, h: torch.Tensor) -> torch.Tensor:
        r"""Free energy of the hidden layer, visible units summed out: ``[batch, n_hidden] -> [batch]``.

        :math:`p(h) \propto \exp(-F_h(h))` with

        .. math::

            F_h(h) = -c^\top h - \sum_i \operatorname{softplus}(b_i + (W h)_i).
        """
        return -(h @ self._param(self.hidden_bias, h)) - softplus(self.visible_logits(h)).sum(-1)

    def joint_energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """:math:`E(v, h)` for paired rows: ``[batch, n_visible], [batch, n_hidden] -> [batch]``."""
        w = self._param(self.weight, v)
        return -((v @ w) * h).sum(-1) - v @ self._param(self.visible_bias, v) - h @ self._param(self.hidden_bias, v)

    # --- conditionals ---------------------------------------------------------------
    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        """Log-odds of :math:`p(h_j = 1 | v)`: ``[batch, n_visible] -> [batch, n_hidden]``."""
        return torch.addmm(self._param(self.hidden_bias, v), v, self._param(self.weight, v))

    def visible_logits(self, h: torch.Tensor) -> torch.Tensor:
        """Log-odds of :math:`p(v_i = 1 | h)`: ``[batch, n_hidden] -> [batch, n_visible]``."""
        return torch.addmm(self._param(self.visible_bias, h), h, self._param(self.weight, h).T)

    def sample_hidden(self, v: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``h ~ p(h | v)``, shape ``[batch, n_hidden]``."""
        with torch.no_grad():
            return _draw_hidden(self.hidden_logits(v), 1.0, generator)

    def sample_visible(self, h: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``v ~ p(v | h)``, shape ``[batch, n_visible]``."""
        with torch.no_grad():
            return _draw_visible(h, self._param(self.weight, h), self._param(self.visible_bias, h), 1.0, generator)

    # --- capabilities -----------------------------------------------------------------
    def gibbs_sweep(
        self, v: torch.Tensor, *, generator: torch.Generator | None = None, order: str = "forward"
    ) -> torch.Tensor:
        r"""One block-Gibbs step :math:`v \to h \to v'`: all hidden units given ``v``, then all visible ones.

        The step is reversible (``order`` changes nothing): its time reversal is itself.
        Four tensor operations and two in-place Bernoulli draws (:func:`block_gibbs`); no autograd.
        """
        p = self._param
        with torch.no_grad():
            return block_gibbs(
                v, p(self.weight, v), p(self.visible_bias, v), p(self.hidden_bias, v), generator=generator
            )

    def flip_gaps(self, v: torch.Tensor) -> torch.Tensor:
        r""":math:`F(v) - F(v^{(i)})` for every visible unit, in closed form: ``[batch, n] -> [batch, n]``.

        Flipping unit ``i`` moves :math:`b^\top v` by ``d_i b_i`` and every hidden pre-activation by
        ``d_i W_i`` (:math:`d_i = 1 - 2 v_i`), so the ``n`` gaps cost ``batch x n x n_hidden`` softplus
        evaluations and no extra matrix product.
        """
        pre = self.hidden_logits(v)  # [B, H]
        d = 1 - 2 * v  # +1 where the flip switches a unit on
        w = self._param(self.weight, v)
        moved = softplus(pre[:, None, :] + d[:, :, None] * w[None]).sum(-1)  # [B, n]
        return d * self._param(self.visible_bias, v) + moved - softplus(pre).sum(-1, keepdim=True)

    def _bipartite(self) -> Bipartite:
        return Bipartite(
            self.n_hidden,
            lambda h: h @ self._param(self.hidden_bias, h),
            self.visible_logits,
            self.weight,
            self.visible_bias,
        )

    def enumeration(self) -> Enumeration:
        """Over the smaller layer: the hidden one when ``n_hidden < n_visible``."""
        if self.n_hidden < self.n_visible:
            return Enumeration("hidden", self.n_hidden, lambda h: -self.hidden_free_energy(h), self._bipartite())
        return Enumeration("visible", self.n_visible, lambda v: -self.energy(v), self._bipartite())

    def at_temperature(self, temperature: float) -> RBM:
        """The RBM with every parameter divided by ``T``: its *joint* energy is :math:`E(v, h) / T`.

        (The free energy of the result is not ``F(v) / T``: summing out ``h`` does not commute
        with tempering.)
        """
        t = check_positive_float(temperature, "temperature")
        other = RBM(self.n_visible, self.n_hidden, init_std=0.0, device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            for mine, theirs in zip(self.parameters(), other.parameters()):
                theirs.copy_(mine / t)
        return other

    # --- constructors -----------------------------------------------------------------
    @classmethod
    def random(
        cls,
        n_visible: int,
        n_hidden: int,
        weight_std: float = 1.0,
        bias_std: float = 1.0,
        *,
        generator: torch.Generator | None = None,
    ) -> RBM:
        """An RBM with Gaussian random weights and biases (a known ground truth for tests), made on
        the generator's device."""
        model = cls(n_visible, n_hidden, init_std=0.0, device=_factory_device(None, generator))
        with torch.no_grad():
            model.weight.normal_(0.0, weight_std, generator=generator)
            model.visible_bias.normal_(0.0, bias_std, generator=generator)
            model.hidden_bias.normal_(0.0, bias_std, generator=generator)
        return model

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}"
