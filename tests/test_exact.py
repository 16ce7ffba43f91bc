"""ebmlib.exact against independent brute force (numpy sums over every state) and closed forms."""

import math

import numpy as np
import pytest
import torch
from conftest import brute_log_z_bm, brute_log_z_rbm

from ebmlib import exact
from ebmlib.models import RBM, BoltzmannMachine, GaussianEnergy, LearnedNormalizer, MLPEnergy

REL = 1e-9


def test_binary_states_lists_every_code_once():
    s = exact.binary_states(5)
    assert s.shape == (32, 5) and s.dtype == torch.float64
    codes = (s * 2 ** torch.arange(5)).sum(1)
    assert torch.equal(codes, torch.arange(32, dtype=torch.float64))
    assert torch.equal(exact.binary_states(5, 8, 12), s[8:12])


@pytest.mark.parametrize("n", [1, 2, 5, 9, 12])
@pytest.mark.parametrize("seed", [0, 1])
def test_log_partition_bm_matches_brute_force(n, seed):
    model = BoltzmannMachine.random(n, generator=torch.Generator().manual_seed(seed))
    expected, _, _ = brute_log_z_bm(model)
    got = exact.log_partition(model)
    assert got.dtype == torch.float64 and got.dim() == 0
    assert abs(got.item() - expected) <= REL * abs(expected)


@pytest.mark.parametrize("nv,nh", [(3, 7), (7, 3), (6, 6), (10, 2), (1, 5)])
def test_log_partition_rbm_matches_joint_brute_force(nv, nh):
    model = RBM.random(nv, nh, generator=torch.Generator().manual_seed(nv * 10 + nh))
    expected, _, _ = brute_log_z_rbm(model)
    got = exact.log_partition(model).item()
    assert abs(got - expected) <= REL * abs(expected)
    layer, width = exact.enumerated_layer(model)
    assert width == min(nv, nh)
    assert layer == ("hidden" if nh < nv else "visible")


def test_log_likelihood_is_normalized_and_matches_brute_force():
    model = BoltzmannMachine.random(7, generator=torch.Generator().manual_seed(3))
    log_z, x, neg_energy = brute_log_z_bm(model)
    ll = exact.log_likelihood(model, torch.tensor(x, dtype=torch.float32))
    assert ll.dtype == torch.float64 and ll.shape == (128,)
    np.testing.assert_allclose(ll.detach().numpy(), neg_energy - log_z, rtol=REL, atol=1e-12)
    assert abs(torch.logsumexp(ll, 0).item()) < 1e-12


def test_rbm_log_likelihood_matches_joint_brute_force():
    model = RBM.random(8, 3, generator=torch.Generator().manual_seed(4))
    log_z, v, neg = brute_log_z_rbm(model)
    m = neg.max(1, keepdims=True)
    expected = (m[:, 0] + np.log(np.exp(neg - m).sum(1))) - log_z
    got = exact.log_likelihood(model, torch.tensor(v, dtype=torch.float32)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=REL)


def test_float32_model_is_evaluated_in_float64():
    model = BoltzmannMachine.random(10, generator=torch.Generator().manual_seed(5))
    twin = BoltzmannMachine.random(10, generator=torch.Generator().manual_seed(5)).double()
    assert abs(exact.log_partition(model).item() - exact.log_partition(twin).item()) < 1e-12


def test_marginals_match_brute_force_for_both_enumerated_layers():
    bm = BoltzmannMachine.random(8, generator=torch.Generator().manual_seed(6))
    log_z, x, neg = brute_log_z_bm(bm)
    np.testing.assert_allclose(exact.marginals(bm).numpy(), np.exp(neg - log_z) @ x, rtol=1e-9)
    for nv, nh in [(9, 3), (4, 9)]:
        rbm = RBM.random(nv, nh, generator=torch.Generator().manual_seed(nv))
        log_z, v, neg = brute_log_z_rbm(rbm)
        p_v = np.exp(neg - log_z).sum(1)
        np.testing.assert_allclose(exact.marginals(rbm).numpy(), p_v @ v, rtol=1e-9)


@pytest.mark.parametrize(
    "model",
    [
        BoltzmannMachine.random(7, generator=torch.Generator().manual_seed(7)),
        RBM.random(9, 4, generator=torch.Generator().manual_seed(8)),  # enumerates hidden
        RBM.random(4, 9, generator=torch.Generator().manual_seed(9)),  # enumerates visible
    ],
    ids=["bm", "rbm-hidden", "rbm-visible"],
)
def test_expected_gradient_equals_autograd_of_log_z(model):
    auto = torch.autograd.grad(exact.log_partition(model), list(model.parameters()))
    for a, e in zip(auto, exact.expected_gradient(model)):
        np.testing.assert_allclose(e.numpy(), a.double().numpy(), rtol=1e-6, atol=1e-9)


def test_expected_gradient_equals_finite_differences():
    model = BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(10)).double()
    grad_b = exact.expected_gradient(model)[1]
    h = 1e-6
    for i in range(6):
        with torch.no_grad():
            model.bias[i] += h
            up = exact.log_partition(model).item()
            model.bias[i] -= 2 * h
            down = exact.log_partition(model).item()
            model.bias[i] += h
        assert abs((up - down) / (2 * h) - grad_b[i].item()) < 1e-6


def test_exact_samples_follow_the_distribution(gen):
    model = BoltzmannMachine.random(4, generator=torch.Generator().manual_seed(11))
    states, probs = exact.distribution(model)
    n = 40_000
    draws = exact.sample(model, n, generator=gen)
    codes = (draws.double() * 2 ** torch.arange(4)).sum(1).long()
    freq = torch.bincount(codes, minlength=16).double() / n
    tol = 5 * torch.sqrt(probs * (1 - probs) / n)
    assert bool(((freq - probs).abs() <= tol).all())
    assert torch.equal(states, exact.binary_states(4))


def test_exact_samples_of_rbm_via_hidden_layer(gen):
    model = RBM.random(8, 2, generator=torch.Generator().manual_seed(12))
    n = 40_000
    draws = exact.sample(model, n, generator=gen)
    m = exact.marginals(model)
    tol = 5 * torch.sqrt(m * (1 - m) / n)
    assert bool(((draws.double().mean(0) - m).abs() <= tol).all())


def test_gaussian_log_partition_closed_form():
    prec = torch.tensor([[2.0, 0.6, 0.0], [0.6, 1.0, 0.2], [0.0, 0.2, 0.5]])
    model = GaussianEnergy(3, mean=torch.tensor([1.0, -1.0, 0.5]), precision=prec)
    expected = 1.5 * math.log(2 * math.pi) - 0.5 * math.log(torch.linalg.det(prec.double()).item())
    assert abs(exact.log_partition(model).item() - expected) < 1e-6
    wrapped = LearnedNormalizer(model, c=0.7)
    assert abs(exact.log_partition(wrapped).item() - (expected + 0.7)) < 1e-6
    mvn = torch.distributions.MultivariateNormal(model.mean.detach().double(), precision_matrix=prec.double())
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(model.log_prob(x).detach().numpy(), mvn.log_prob(x.double()).numpy(), rtol=1e-5)


def test_grid_quadrature_matches_closed_form_in_2d():
    model = GaussianEnergy(2, mean=torch.tensor([0.5, -0.3]), precision=torch.tensor([[1.5, 0.4], [0.4, 0.8]]))
    grid = exact.log_partition_grid(model, -12.0, 12.0, n_points=400)
    assert abs(grid.item() - exact.log_partition(model).item()) < 1e-4
    # a box that cuts off mass is detectably low: the truncation check in the chapters can fail
    small = exact.log_partition_grid(model, -1.0, 1.0, n_points=400)
    assert exact.log_partition(model).item() - small.item() > 0.3


def test_too_large_to_enumerate_is_refused_at_once():
    with pytest.raises(ValueError, match=r"30 units.*max_bits=24"):
        exact.log_partition(BoltzmannMachine(30))
    with pytest.raises(ValueError, match=r"hidden layer has 25 units"):
        exact.log_partition(RBM(784, 25))
    with pytest.raises(ValueError, match="max_bits"):
        exact.marginals(RBM(40, 30))
    with pytest.raises(ValueError, match="distribution"):
        exact.distribution(RBM(30, 2))


def test_continuous_model_without_closed_form_is_refused():
    with pytest.raises(ValueError, match="log_partition_grid"):
        exact.log_partition(MLPEnergy(2))
    with pytest.raises(ValueError, match="log_partition_grid"):
        exact.log_partition(LearnedNormalizer(MLPEnergy(2)))
    with pytest.raises(TypeError):
        exact.marginals(GaussianEnergy(2))
    with pytest.raises(ValueError, match="1-3 dimensions"):
        exact.log_partition_grid(MLPEnergy(4), -1.0, 1.0)


def test_log_likelihood_rejects_bad_rows():
    model = BoltzmannMachine(4)
    with pytest.raises(ValueError, match="4 columns"):
        exact.log_likelihood(model, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="binary"):
        exact.log_likelihood(model, torch.full((3, 4), 0.5))


@pytest.mark.parametrize(
    "model",
    [BoltzmannMachine.random(5, generator=torch.Generator().manual_seed(20)),
     RBM.random(5, 3, generator=torch.Generator().manual_seed(21))],
    ids=["bm", "rbm"],
)
def test_gibbs_transition_is_stochastic_leaves_p_invariant_and_matches_the_sampler(model):
    from ebmlib import samplers

    t = exact.gibbs_transition(model)
    assert t.shape == (32, 32)
    torch.testing.assert_close(t.sum(1), torch.ones(32, dtype=torch.float64))
    _, p = exact.distribution(model)
    torch.testing.assert_close(p @ t, p, rtol=1e-9, atol=1e-12)
    # One step of the real sampler from state 5, repeated many times, has the row's law.
    n = 40_000
    start = exact.binary_states(5)[5].float().expand(n, -1)
    after = samplers.gibbs(model, start, 1, generator=torch.Generator().manual_seed(22)).x
    freq = torch.bincount((after.double() * 2 ** torch.arange(5)).sum(1).long(), minlength=32).double() / n
    row = t[5]
    assert bool(((freq - row).abs() <= 5 * torch.sqrt(row * (1 - row) / n) + 1e-12).all())


def test_conditional_marginals_match_brute_force():
    model = RBM.random(6, 3, generator=torch.Generator().manual_seed(30)).double()
    states = exact.binary_states(6)
    ll = exact.log_likelihood(model, states)
    x = states[[5, 40, 63]]
    observed = torch.tensor([True, False, True, False, False, True])
    got = exact.conditional_marginals(model, x, observed)
    for row, got_row in zip(x, got):
        match = (states[:, observed] == row[observed]).all(1)
        post = torch.softmax(ll[match], 0)
        expected = post @ states[match]
        torch.testing.assert_close(got_row, torch.where(observed, row, expected), rtol=1e-9, atol=1e-12)


def test_a_wrapped_rbm_enumerates_over_its_hidden_layer():
    rbm = RBM.random(30, 4, generator=torch.Generator().manual_seed(40))
    wrapped = LearnedNormalizer(rbm, c=-3.5)
    assert exact.enumerated_layer(wrapped) == ("hidden", 4)
    assert abs(exact.log_partition(wrapped).item() - (exact.log_partition(rbm).item() - 3.5)) < 1e-9
    torch.testing.assert_close(exact.marginals(wrapped), exact.marginals(rbm))
    x = exact.sample(rbm, 5, generator=torch.Generator().manual_seed(41))
    torch.testing.assert_close(exact.log_likelihood(wrapped, x), exact.log_likelihood(rbm, x))
    grads = exact.expected_gradient(wrapped)
    auto = torch.autograd.grad(exact.log_partition(wrapped), list(wrapped.parameters()))
    for e, a in zip(grads, auto):
        torch.testing.assert_close(e, a.double(), rtol=1e-6, atol=1e-9)
    assert grads[0].item() == pytest.approx(1.0)  # d log Z / d c = 1


def test_gibbs_transition_of_a_wrapped_and_a_generic_model_matches_its_sampler():
    from ebmlib import samplers
    from test_samplers import CubicBinary

    for model in [LearnedNormalizer(RBM.random(5, 3, generator=torch.Generator().manual_seed(42))), CubicBinary()]:
        t = exact.gibbs_transition(model)
        n = model.n_features
        _, p = exact.distribution(model)
        torch.testing.assert_close(p @ t, p, rtol=1e-9, atol=1e-12)
        start = exact.binary_states(n)[3].float().expand(40_000, -1)
        after = samplers.gibbs(model, start, 1, generator=torch.Generator().manual_seed(43)).x
        freq = torch.bincount((after.double() * 2 ** torch.arange(n)).sum(1).long(), minlength=2**n).double() / 40_000
        row = t[3]
        assert bool(((freq - row).abs() <= 5 * torch.sqrt(row * (1 - row) / 40_000) + 1e-12).all())


@pytest.mark.parametrize(
    "model",
    [RBM.random(6, 3, generator=torch.Generator().manual_seed(44)).double(),
     BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(45)).double()],
    ids=["rbm", "bm"],
)
def test_conditional_log_likelihood_is_the_joint_conditional(model):
    states = exact.binary_states(6)
    ll = exact.log_likelihood(model, states)
    x = states[[5, 40, 63, 17]]
    observed = torch.tensor([True, False, True, False, False, True])
    got = exact.conditional_log_likelihood(model, x, observed)
    for row, value in zip(x, got):
        match = (states[:, observed] == row[observed]).all(1)
        expected = ll[(states == row).all(1)][0] - torch.logsumexp(ll[match], 0)
        assert abs(value.item() - expected.item()) < 1e-9
    if isinstance(model, RBM):  # not the sum of the per-unit marginals: the missing units are dependent
        marg = exact.conditional_marginals(model, x, observed)
        per_unit = torch.where(x.bool(), marg, 1 - marg)[:, ~observed].log().sum(1)
        assert (per_unit - got).abs().max() > 1e-3


@pytest.mark.parametrize(
    "model",
    [BoltzmannMachine.random(6, generator=torch.Generator().manual_seed(50)),
     RBM.random(6, 3, generator=torch.Generator().manual_seed(51)),
     LearnedNormalizer(RBM.random(5, 4, generator=torch.Generator().manual_seed(52)))],
    ids=["bm", "rbm", "wrapped-rbm"],
)
def test_chain_law_equals_powers_of_the_transition_matrix(model):
    n = model.n_features
    law = torch.softmax(torch.randn(3, 2**n, generator=torch.Generator().manual_seed(53), dtype=torch.float64), 1)
    t = exact.gibbs_transition(model)
    for k in [0, 1, 3]:
        torch.testing.assert_close(exact.chain_law(model, law, k), law @ torch.linalg.matrix_power(t, k),
                                   rtol=1e-10, atol=1e-12)


def test_asymptotic_covariance_of_ml_is_the_inverse_fisher_information():
    from ebmlib import objectives
    from ebmlib.utils import flat_grad

    model = BoltzmannMachine.random(4, weight_std=0.8, generator=torch.Generator().manual_seed(3)).double()
    cov = exact.asymptotic_covariance(model, objectives.exact_nll)
    states, probs = exact.distribution(model)
    grads = torch.stack([flat_grad(model.energy(s[None]).sum(), model.parameters()) for s in states])
    centred = grads - probs @ grads
    fisher = centred.T @ (centred * probs[:, None])  # Cov_p[grad E], the Fisher information
    torch.testing.assert_close(cov, torch.linalg.pinv(fisher, hermitian=True), atol=1e-8, rtol=1e-6)


def test_rbm_free_energy_has_exact_second_derivatives():
    """The RBM's hand-written free-energy gradient must be differentiable itself: the Hessian
    of the exact NLL by double backward equals central differences of its gradient, and the
    asymptotic covariance of ML is the inverse Fisher information, as for the BM above."""
    from ebmlib import objectives
    from ebmlib.utils import flat_grad

    gen = torch.Generator().manual_seed(4)
    model = RBM.random(4, 2, weight_std=1.0, generator=gen).double()
    x = exact.sample(model, 30, generator=gen)
    params = list(model.parameters())
    theta = torch.nn.utils.parameters_to_vector(params).detach().clone()
    grad = torch.autograd.grad(objectives.exact_nll(model, x), params, create_graph=True)
    flat = torch.cat([g.reshape(-1) for g in grad])
    hessian = torch.stack(
        [torch.cat([h.reshape(-1) for h in torch.autograd.grad(flat[k], params, retain_graph=True)]) for k in range(len(flat))]
    )

    def gradient_at(t):
        torch.nn.utils.vector_to_parameters(t, params)
        return flat_grad(objectives.exact_nll(model, x), params)

    eps, columns = 1e-5, []
    for j in range(len(theta)):
        step = torch.zeros_like(theta)
        step[j] = eps
        columns.append((gradient_at(theta + step) - gradient_at(theta - step)) / (2 * eps))
    torch.nn.utils.vector_to_parameters(theta, params)
    torch.testing.assert_close(hessian, torch.stack(columns, 1), atol=1e-7, rtol=1e-6)

    cov = exact.asymptotic_covariance(model, objectives.exact_nll)
    states, probs = exact.distribution(model)
    grads = torch.stack([flat_grad(model.energy(s[None]).sum(), params) for s in states])
    centred = grads - probs @ grads
    fisher = centred.T @ (centred * probs[:, None])
    torch.testing.assert_close(cov, torch.linalg.pinv(fisher, hermitian=True), atol=1e-6, rtol=1e-5)


def test_asymptotic_covariance_matches_the_spread_of_repeated_pseudolikelihood_fits():
    """The sandwich H+ J H+ against the empirical covariance of 150 fits on N = 1000 each."""
    from ebmlib import objectives, training

    truth = BoltzmannMachine.random(3, weight_std=1.0, generator=torch.Generator().manual_seed(5)).double()
    predicted = exact.asymptotic_covariance(truth, objectives.pseudolikelihood)
    n, fits = 1000, []
    gen = torch.Generator().manual_seed(6)
    for _ in range(150):
        x = exact.sample(truth, n, generator=gen)
        model = BoltzmannMachine(3).double()
        with torch.no_grad():
            for a, b in zip(model.parameters(), truth.parameters()):
                a.copy_(b)
        training.minimize(model, objectives.pseudolikelihood, x, max_iter=100)
        fits.append(torch.cat([p.detach().reshape(-1) for p in model.parameters()]))
    fits = torch.stack(fits)
    empirical = n * torch.cov(fits.T)
    identifiable = [1, 2, 5, 9, 10, 11]  # the couplings above the diagonal, and the biases
    ratio = empirical.diagonal()[identifiable] / predicted.diagonal()[identifiable]
    # a variance from 150 fits is uncertain by sqrt(2 / 150) ~ 12%; allow three of those
    assert ((ratio > 0.64) & (ratio < 1.36)).all(), ratio
    assert predicted.diagonal()[[0, 4, 8]].abs().max() < 1e-10  # the unused diagonal
    assert torch.allclose(fits[:, 3], fits[:, 1])  # the lower triangle mirrors the upper one


class _GenericLogitsRBM(RBM):
    """An RBM that hides the affine form of its visible logits (``Bipartite.weight``), so
    exact filling-in takes its generic path."""

    def _bipartite(self):
        import dataclasses

        return dataclasses.replace(super()._bipartite(), weight=None, bias=None)


def test_filling_in_with_per_row_masks_matches_brute_force_on_both_paths():
    rbm = RBM.random(7, 3, weight_std=1.0, generator=torch.Generator().manual_seed(60)).double()
    generic = _GenericLogitsRBM(7, 3).double()
    generic.load_state_dict(rbm.state_dict())
    states = exact.binary_states(7)
    ll = exact.log_likelihood(rbm, states)
    x = states[[3, 50, 77, 127, 9]]
    observed = torch.rand(5, 7, generator=torch.Generator().manual_seed(61)) < 0.5  # a mask per row
    observed[0] = False  # nothing observed: the row's log-probability itself
    expected_ll, expected_marg = [], []
    for row, mask in zip(x, observed):
        match = (states[:, mask] == row[mask]).all(1)
        expected_ll.append(ll[(states == row).all(1)][0] - torch.logsumexp(ll[match], 0))
        expected_marg.append(torch.where(mask, row, torch.softmax(ll[match], 0) @ states[match]))
    for model in (rbm, generic, LearnedNormalizer(rbm, c=2.0)):
        for chunk in (4096, 2):  # rows at once, or two at a time
            got = exact.conditional_log_likelihood(model, x, observed, chunk=chunk)
            torch.testing.assert_close(got, torch.stack(expected_ll), rtol=1e-9, atol=1e-10)
            marg = exact.conditional_marginals(model, x, observed, chunk=chunk)
            torch.testing.assert_close(marg, torch.stack(expected_marg), rtol=1e-9, atol=1e-12)
    assert abs(expected_ll[0].item() - exact.log_likelihood(rbm, x[:1]).item()) < 1e-9


# --- the compiled Gray-code kernel for an RBM enumerated over its hidden layer ----------------
GRAY_CASES = {  # n_visible, n_hidden, weight std, bias std
    "784x13": (784, 13, 0.3, 1.0),
    "1100x12 (three unit chunks)": (1100, 12, 0.5, 1.0),
    # every factor 1 + e^-|x| near 2: one product of all 1,500 would overflow
    "1500x12 (x near 0)": (1500, 12, 0.001, 0.0),
    "600x13 (|x| past 600: plain formula)": (600, 13, 60.0, 1.0),
}


@pytest.mark.parametrize("case", GRAY_CASES)
def test_compiled_log_partition_of_a_hidden_enumeration_matches_torch(case, monkeypatch):
    """The Gray-code kernel (exact/_softplus_sum.py) against torch's softplus over every state,
    both in float64: 1e-12 relative. Either would catch a wrong sign of a flip (an error of
    order |W|) or a lost unit chunk (order n / 512 nats)."""
    from ebmlib.exact import _softplus_sum, enumeration

    if _softplus_sum.softplus_sums is None:
        pytest.skip("numba is not installed")
    n_visible, n_hidden, std, bias_std = GRAY_CASES[case]
    model = RBM.random(n_visible, n_hidden, weight_std=std, bias_std=bias_std, generator=torch.Generator().manual_seed(5))
    assert 2**n_hidden * n_visible >= enumeration._COMPILED_WORK  # the kernel is the one tested
    with torch.no_grad():
        compiled = exact.log_partition(model)
        monkeypatch.setattr(enumeration, "softplus_sums", None)
        plain = exact.log_partition(model)
    assert compiled.dtype == torch.float64
    assert abs(compiled.item() - plain.item()) <= 1e-12 * abs(plain.item())


def test_compiled_softplus_sums_of_every_state_match_torch_in_natural_order():
    from ebmlib.exact import _softplus_sum

    if _softplus_sum.softplus_sums is None:
        pytest.skip("numba is not installed")
    gen = torch.Generator().manual_seed(6)
    for n, m in [(7, 3), (5, 1), (40, 11), (9, 12)]:  # blocks of 2^m (m < 10) and of 2^10
        weight = torch.randn(n, m, generator=gen, dtype=torch.float64)
        bias = torch.randn(n, generator=gen, dtype=torch.float64)
        got = torch.from_numpy(_softplus_sum.softplus_sums(weight.numpy(), bias.numpy()))
        want = torch.nn.functional.softplus(bias + exact.binary_states(m) @ weight.T).sum(1)
        torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-12)


def test_log_partition_with_gradients_still_differentiates_a_large_hidden_enumeration():
    """With gradients on, log Z takes the checkpointed torch path (the kernel has no backward)."""
    model = RBM.random(600, 13, weight_std=0.1, generator=torch.Generator().manual_seed(7)).double()
    log_z = exact.log_partition(model)
    assert log_z.requires_grad
    with torch.no_grad():
        assert abs(log_z.item() - exact.log_partition(model).item()) < 1e-9
