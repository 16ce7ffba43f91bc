"""The hand-written RBM trainer against the autograd route and exact likelihoods."""

import pytest
import torch

from ebmlib import exact, objectives, training
from ebmlib.rbm_sgd import _sgd_update_, fit_rbm
from ebmlib.models import RBM, BoltzmannMachine


def test_sgd_update_equals_autograd_sgd_on_the_contrastive_loss():
    gen = torch.Generator().manual_seed(0)
    a = RBM.random(6, 4, weight_std=0.5, generator=gen).double()
    b = RBM.random(6, 4, weight_std=0.5, generator=torch.Generator().manual_seed(0)).double()
    v_pos = (torch.rand(10, 6, generator=gen) < 0.5).double()
    v_neg = (torch.rand(7, 6, generator=gen) < 0.5).double()
    opt = torch.optim.SGD(a.parameters(), lr=0.3)
    objectives.contrastive_loss(a, v_pos, v_neg).backward()
    opt.step()
    with torch.no_grad():
        _sgd_update_(b, v_pos, torch.sigmoid(b.hidden_logits(v_pos)), v_neg, torch.sigmoid(b.hidden_logits(v_neg)), 0.3)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("persistent", [True, False], ids=["pcd", "cd"])
def test_fit_rbm_learns_like_the_general_route(persistent):
    truth = RBM.random(10, 3, weight_std=1.5, generator=torch.Generator().manual_seed(1))
    x = exact.sample(truth, 3000, generator=torch.Generator().manual_seed(2))
    start = exact.log_likelihood(RBM(10, 4, init_std=0.0), x).mean().item()

    fast = RBM(10, 4, generator=torch.Generator().manual_seed(3))
    history = fit_rbm(fast, x, n_epochs=30, batch_size=50, lr=0.1, persistent=persistent,
                      metrics={"ll": lambda m: exact.log_likelihood(m, x).mean().item()},
                      generator=torch.Generator().manual_seed(4))
    slow = RBM(10, 4, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(5)
    loss = (objectives.PersistentCD((torch.rand(50, 10, generator=gen) < 0.5).float(), 1, generator=gen)
            if persistent else (lambda m, b: objectives.cd(m, b, 1, generator=gen)))
    training.fit(slow, loss, x, n_steps=30 * 60, batch_size=50, lr=0.1, generator=gen)
    ll_fast = history.last("ll")
    ll_slow = exact.log_likelihood(slow, x).mean().item()
    assert history.metric_steps == [60 * i for i in range(31)]
    assert ll_fast > start + 0.5
    assert abs(ll_fast - ll_slow) < 0.1
    assert len(history.seconds) == 30 * 60 and history.seconds == sorted(history.seconds)


def test_fit_rbm_rejects_bad_arguments():
    x = (torch.rand(20, 5) < 0.5).float()
    with pytest.raises(TypeError, match="fit_rbm trains an RBM"):
        fit_rbm(BoltzmannMachine(5), x, n_epochs=1)
    with pytest.raises(ValueError, match="data must have 5 columns"):
        fit_rbm(RBM(5, 2), torch.zeros(20, 4), n_epochs=1)
    with pytest.raises(ValueError, match="k must be >= 1"):
        fit_rbm(RBM(5, 2), x, n_epochs=1, k=0)
    with pytest.raises(ValueError, match="batch_size"):
        fit_rbm(RBM(5, 2), x, n_epochs=1, batch_size=50)
