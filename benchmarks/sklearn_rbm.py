"""ebmlib's PCD against scikit-learn's BernoulliRBM (also PCD), at equal settings.

Two sizes, each timed in this one run:

* binarized digits (64 pixels), 16 hidden units, batch 20: both scored by ebmlib's exact
  test log-likelihood (2^16 hidden states are enumerated);
* binarized MNIST-5k (784 pixels), 500 hidden units, batch 100: too large to enumerate, so
  only timed, and compared with the floor on this machine: the time of the five bare
  matrix products that one PCD-1 update needs (v W for the data, the chain's v -> h -> v,
  and the two outer products of the gradient).

ebmlib is timed on its fast RBM trainer (``ebmlib.fast_rbm.fit_rbm``); the general route
(the ``PersistentCD`` objective through autograd and ``training.fit``) is printed too. Both
use plain SGD on the mean gradient, the same learning rate, batch size and number
of epochs, float32 data, and one persistent chain per batch row. Targets on CPU: per epoch
no slower than scikit-learn at either size and within 1.3x of the floor at the large
size; a test log-likelihood no worse than scikit-learn's.

Run: python benchmarks/sklearn_rbm.py [--device cuda] [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.neural_network import BernoulliRBM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_time, report  # noqa: E402

from ebmlib import data, exact, objectives, training  # noqa: E402
from ebmlib.fast_rbm import fit_rbm  # noqa: E402
from ebmlib.models import RBM  # noqa: E402


def ebmlib_pcd(train: torch.Tensor, n_hidden: int, lr: float, batch: int, epochs: int, device: str):
    """ebmlib's fast RBM trainer (hand-written gradient), PCD-1 with SGD."""
    torch.manual_seed(0)
    model = RBM(train.shape[1], n_hidden).to(device)
    history = fit_rbm(model, train.to(device), n_epochs=epochs, batch_size=batch, lr=lr, progress=False)
    return model.cpu(), history.seconds[-1] / epochs


def ebmlib_generic(train: torch.Tensor, n_hidden: int, lr: float, batch: int, epochs: int, device: str) -> float:
    """The general route (PersistentCD objective, autograd, training.fit): seconds per epoch."""
    torch.manual_seed(0)
    model = RBM(train.shape[1], n_hidden).to(device)
    chains = (torch.rand(batch, train.shape[1], device=device) < 0.5).float()
    history = training.fit(model, objectives.PersistentCD(chains, k=1), train.to(device),
                           n_steps=epochs * (len(train) // batch), batch_size=batch,
                           optimizer=torch.optim.SGD(model.parameters(), lr=lr), progress=False)
    return history.seconds[-1] / epochs


def sklearn_pcd(train: torch.Tensor, n_hidden: int, lr: float, batch: int, epochs: int):
    rbm = BernoulliRBM(n_components=n_hidden, learning_rate=lr, batch_size=batch, n_iter=epochs, random_state=0)
    x = train.numpy().astype(np.float32)
    start = time.perf_counter()
    rbm.fit(x)
    seconds = (time.perf_counter() - start) / epochs
    model = RBM(train.shape[1], n_hidden)
    with torch.no_grad():
        model.weight.copy_(torch.as_tensor(rbm.components_.T))
        model.visible_bias.copy_(torch.as_tensor(rbm.intercept_visible_))
        model.hidden_bias.copy_(torch.as_tensor(rbm.intercept_hidden_))
    return model, seconds


def floor_per_epoch(n_visible: int, n_hidden: int, batch: int, updates: int, device: str) -> float:
    """Time of one PCD-1 update's five bare matrix products, times the updates in an epoch."""
    w = torch.randn(n_visible, n_hidden, device=device)
    v = torch.rand(batch, n_visible, device=device)
    h = torch.rand(batch, n_hidden, device=device)

    def products():
        v @ w  # hidden probabilities of the data
        v @ w  # the chain: visible -> hidden
        h @ w.T  # the chain: hidden -> visible
        v.T @ h  # positive statistics
        v.T @ h  # negative statistics

    return best_time(products, repeats=20, warmup=3, device=device) * updates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.epochs} epochs per run")

    digits_train, digits_test = data.digits()
    mnist_train, _ = data.mnist5k()
    for name, train, test, n_hidden, batch, lr in [
        ("digits 64 -> 16, batch 20", digits_train, digits_test, 16, 20, 0.05),
        ("MNIST-5k 784 -> 500, batch 100", mnist_train, None, 500, 100, 0.05),
    ]:
        ours, our_s = ebmlib_pcd(train, n_hidden, lr, batch, args.epochs, args.device)
        theirs, their_s = sklearn_pcd(train, n_hidden, lr, batch, args.epochs)
        generic_s = ebmlib_generic(train, n_hidden, lr, batch, args.epochs, args.device)
        report(f"{name}: time per epoch [{args.device}]",
               ("scikit-learn BernoulliRBM", their_s), ("ebmlib fit_rbm", our_s), "ebmlib no slower")
        print(f"    (general route, autograd: {generic_s * 1e3:11.3f} ms, {generic_s / their_s:.2f}x scikit-learn)")
        if test is not None:
            with torch.no_grad():
                ll_ours = exact.log_likelihood(ours, test).mean().item()
                ll_theirs = exact.log_likelihood(theirs, test).mean().item()
            print(f"    exact test log-likelihood: ebmlib {ll_ours:.3f}, scikit-learn {ll_theirs:.3f} nats "
                  f"(difference {ll_ours - ll_theirs:+.3f})")
        else:
            floor = floor_per_epoch(train.shape[1], n_hidden, batch, len(train) // batch, args.device)
            print(f"    floor (bare products)    : {floor * 1e3:11.3f} ms per epoch; "
                  f"ebmlib at {our_s / floor:.2f}x of it (target <= 1.3x)")


if __name__ == "__main__":
    main()
