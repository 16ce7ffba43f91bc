"""How fast does ebmlib train RBMs by PCD-1, and does the general route keep up?

Per epoch of PCD-1 with plain SGD (same learning rate, batch size and number of epochs;
float32; one persistent chain per batch row), timed in this one run:

* ``ebmlib.rbm_sgd.fit_rbm``: the gradient written out by hand;
* the general route a reader writes: ``objectives.PersistentCD`` through autograd in
  ``training.fit`` with ``torch.optim.SGD`` (target: within 1.3x of ``fit_rbm``);
* the general route's algorithm written out by hand (no autograd, validation or loop), which
  splits the general route's ratio to ``fit_rbm`` into the algorithm's share (it keeps the
  chains' visible layer, so their hidden layer is recomputed after each update: one more matrix
  product than ``fit_rbm``, which keeps the hidden layer) and the general machinery's share;
* scikit-learn's ``BernoulliRBM`` (also PCD-1) where its settings match (digits, and MNIST-5k
  with 500 hidden units), scored by exact test log-likelihood on digits;
* the ``rbms`` package's PCD loop (``rbms.training.pcd.fit_batch_pcd``, uncentered), when it is
  installed (``pip install -r benchmarks/requirements.txt``).

Sizes: binarized digits 64 -> 16 (batch 20); MNIST-5k 784 -> 20 and 784 -> 500 (batch 100).

Run: python benchmarks/rbm_training.py [--device cuda] [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import optional  # noqa: E402

from ebmlib import data, exact, objectives, training  # noqa: E402
from ebmlib.models import RBM, block_gibbs  # noqa: E402
from ebmlib.rbm_sgd import _sgd_update_, fit_rbm  # noqa: E402
from ebmlib.utils import make_generator  # noqa: E402


def ours_fast(train, n_hidden, lr, batch, epochs, device):
    model = RBM(train.shape[1], n_hidden, generator=make_generator(0, "init")).to(device)
    history = fit_rbm(model, train, n_epochs=epochs, batch_size=batch, lr=lr,
                      generator=make_generator(0, "fit", device=device))
    return model, history.seconds[-1] / epochs


def ours_general(train, n_hidden, lr, batch, epochs, device):
    gen = make_generator(0, "general", device=device)
    model = RBM(train.shape[1], n_hidden, generator=make_generator(0, "init")).to(device)
    chains = (torch.rand(batch, train.shape[1], device=device, generator=gen) < 0.5).float()
    history = training.fit(model, objectives.PersistentCD(chains, k=1, generator=gen), train,
                           n_steps=epochs * (len(train) // batch), batch_size=batch,
                           optimizer=torch.optim.SGD(model.parameters(), lr=lr), generator=gen)
    return model, history.seconds[-1] / epochs


def general_by_hand(train, n_hidden, lr, batch, epochs, device):
    """The general route's algorithm with its gradient written out and no autograd, validation or
    loop bookkeeping: a block-Gibbs sweep of the visible chains with the current parameters, then
    SGD on mean F(data) - mean F(chains). It differs from fit_rbm only in keeping the chains'
    visible layer (so their hidden layer is drawn afresh, after the update: one more matrix
    product per update); its time over fit_rbm's is the algorithm's share of the gap, and the
    general route's time over its own is the price of the general machinery."""
    gen = make_generator(0, "general", device=device)
    model = RBM(train.shape[1], n_hidden, generator=make_generator(0, "init")).to(device)
    chains = (torch.rand(batch, train.shape[1], device=device, generator=gen) < 0.5).float()
    w, b, c = model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach()
    per_epoch = len(train) // batch
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(train), device=device, generator=gen)
        for i in range(per_epoch):
            rows = train[order[i * batch:(i + 1) * batch]]
            chains = block_gibbs(chains, w, b, c, generator=gen)
            h_pos, h_neg = torch.addmm(c, rows, w).sigmoid_(), torch.addmm(c, chains, w).sigmoid_()
            _sgd_update_(model, rows, h_pos, chains, h_neg, lr)  # fit_rbm's own update
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return model, (time.perf_counter() - start) / epochs


def sklearn_pcd(train, n_hidden, lr, batch, epochs):
    from sklearn.neural_network import BernoulliRBM

    x = train.cpu().numpy().astype(np.float32)
    rbm = BernoulliRBM(n_components=n_hidden, learning_rate=lr, batch_size=batch, n_iter=epochs, random_state=0)
    start = time.perf_counter()
    rbm.fit(x)
    seconds = (time.perf_counter() - start) / epochs
    model = RBM(train.shape[1], n_hidden)
    with torch.no_grad():  # scikit-learn's components_ is [n_hidden, n_visible]
        model.weight.copy_(torch.as_tensor(rbm.components_.T))
        model.visible_bias.copy_(torch.as_tensor(rbm.intercept_visible_))
        model.hidden_bias.copy_(torch.as_tensor(rbm.intercept_hidden_))
    return model, seconds


def rbms_pcd(train, n_hidden, lr, batch, epochs, device):
    rbms = optional("rbms.bernoulli_bernoulli.classes")
    pcd = optional("rbms.training.pcd")
    if rbms is None or pcd is None:
        return None
    torch.manual_seed(0)  # rbms draws from the global random state
    n_visible = train.shape[1]
    params = rbms.BBRBM(0.01 * torch.randn(n_visible, n_hidden, device=device),
                        torch.zeros(n_visible, device=device), torch.zeros(n_hidden, device=device))
    chains = params.init_chains(num_samples=batch)
    for p in params.parameters():
        p.grad = torch.zeros_like(p)
    optimizer = torch.optim.SGD(params.parameters(), lr=lr, maximize=True)
    weights = torch.ones(batch, device=device)
    per_epoch = len(train) // batch
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(epochs):
            order = torch.randperm(len(train), device=device)
            for i in range(per_epoch):
                rows = train[order[i * batch:(i + 1) * batch]]
                optimizer.zero_grad(set_to_none=False)
                chains, _ = pcd.fit_batch_pcd((rows, weights), chains, params, 1, 1.0, centered=False)
                optimizer.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / epochs


def best_of(repeats, run, *args):
    """The model of the last run and the smallest time per epoch of ``repeats`` runs (a run of a
    few epochs lasts well under a second at 784 -> 20, where one disturbed run would decide)."""
    runs = [run(*args) for _ in range(repeats)]
    return runs[-1][0], min(seconds for _, seconds in runs)


def compare(name, train, test, n_hidden, batch, lr, epochs, device, with_sklearn, score, repeats=3):
    print(f"{name}: {train.shape[1]} -> {n_hidden}, batch {batch}, {epochs} epochs, time per epoch [{device}], "
          f"best of {repeats} runs")
    fast_model, fast = best_of(repeats, ours_fast, train, n_hidden, lr, batch, epochs, device)
    general_model, general = best_of(repeats, ours_general, train, n_hidden, lr, batch, epochs, device)
    by_hand_model, by_hand = best_of(repeats, general_by_hand, train, n_hidden, lr, batch, epochs, device)
    rows = [("ebmlib fit_rbm (by hand)", fast, fast_model), ("ebmlib general route", general, general_model),
            ("general route's algorithm by hand", by_hand, by_hand_model)]
    if with_sklearn and device == "cpu":
        skl_model, skl = sklearn_pcd(train, n_hidden, lr, batch, epochs)
        rows.append(("scikit-learn BernoulliRBM", skl, skl_model))
    theirs = rbms_pcd(train, n_hidden, lr, batch, epochs, device)
    if theirs is not None:
        theirs = min([theirs] + [rbms_pcd(train, n_hidden, lr, batch, epochs, device) for _ in range(repeats - 1)])
    if theirs is not None:
        rows.append(("rbms 0.5.0 PCD loop", theirs, None))
    for label, seconds, model in rows:
        extra = ""
        if score and model is not None:
            with torch.no_grad():
                extra = f"   exact test LL {exact.log_likelihood(model.cpu(), test.cpu()).mean().item():8.3f}"
        print(f"    {label:28s}: {seconds * 1e3:9.2f} ms   {seconds / fast:5.2f}x fit_rbm{extra}")
    print(f"    general route / fit_rbm     : {general / fast:9.2f}x   (target <= 1.3x)")
    print(f"      = algorithm {by_hand / fast:.2f}x (the chains' hidden layer drawn afresh: one more matrix product)"
          f" x machinery {general / by_hand:.2f}x (autograd, validation, the training loop)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs per run")
    device = args.device
    # warm up the compiled Bernoulli draws once, outside every clock
    fit_rbm(RBM(8, 2), torch.zeros(20, 8), n_epochs=1, batch_size=10)
    split = make_generator(0, "split")
    digits_train, digits_test = data.digits(generator=split)
    compare("digits", digits_train.to(device), digits_test, 16, 20, 0.05, args.epochs, device, True, True)
    mnist_train, _ = data.mnist5k(generator=split)
    for n_hidden in (20, 500):
        compare("MNIST-5k", mnist_train.to(device), None, n_hidden, 100, 0.05, args.epochs, device,
                n_hidden == 500, False)


if __name__ == "__main__":
    main()
