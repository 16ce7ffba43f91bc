"""When does AIS pay? Time for AIS to reach 0.1 nats of the exact log Z, against the exact time.

The model is the chapter 3 RBM (784 visible, 20 hidden units, PCD-1 on binarized
MNIST-5k). Exact log Z enumerates the 2^20 hidden states; AIS (base-rate base, the
piecewise schedule of Salakhutdinov and Murray, 200 chains) is run with growing numbers of
intermediate distributions until its error is below 0.1 nats. The ratio says how much
cheaper AIS is at this size; exact enumeration doubles with every hidden unit, AIS does not.

Run: python benchmarks/ais.py [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch

from ebmlib import data, estimators, exact
from ebmlib.fast_rbm import fit_rbm
from ebmlib.models import RBM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chains", type=int, default=200)
    args = parser.parse_args()
    device = torch.device(args.device)
    train, _ = (t.to(device) for t in data.mnist5k())
    torch.manual_seed(0)
    rbm = RBM(784, 20).to(device)
    with torch.no_grad():
        rate = train.mean(0).clamp(1e-3, 1 - 1e-3)
        rbm.visible_bias.copy_(torch.log(rate / (1 - rate)))
    fit_rbm(rbm, train, n_epochs=60, batch_size=100, lr=0.05, progress=False)

    start = time.perf_counter()
    with torch.no_grad():
        truth = exact.log_partition(rbm).item()
    exact_s = time.perf_counter() - start
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"exact log Z = {truth:.3f} in {exact_s:.2f} s (2^20 hidden states)")
    for n_betas in [1000, 2000, 5000, 10000, 20000, 50000]:
        start = time.perf_counter()
        estimate = estimators.ais(rbm, args.chains, betas=estimators.piecewise_schedule(n_betas), data=train)
        seconds = time.perf_counter() - start
        error = float(estimate.log_z) - truth
        print(f"AIS {n_betas:6d} distributions: error {error:+.3f} ± {estimate.stderr:.3f} nats in {seconds:.2f} s")
        if abs(error) < 0.1 and estimate.stderr < 0.1:
            print(f"AIS reached 0.1 nats in {seconds:.2f} s: exact / AIS time = {exact_s / seconds:.2f}")
            break


if __name__ == "__main__":
    main()
