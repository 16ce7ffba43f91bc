"""AIS on MNIST RBMs: which base distribution, how fast, and against the exact log Z.

The models are 784 x 20 RBMs trained by PCD-1 and CD-1 on binarized MNIST-5k (60 epochs,
visible biases started at the data's log-odds, as in chapters 3 and 8), and random RBMs of
the same size; the exact log Z enumerates the 2^20 hidden states. Measured in this one run:

(a) the base AIS anneals from and the schedule, at equal cost (200 chains, 100 distributions):
    independent units that are uniform, that match the training data's pixel means (base
    rate), or that keep the model's own visible biases (the reference model of the ``rbms``
    package); a linear schedule against the piecewise one of Salakhutdinov and Murray (2008).
    The error of each, over 5 seeds. The ``rbms`` package's own AIS (linear schedule, own
    visible biases) runs beside them when it is installed.
(b) the time AIS (default base) needs to come within 0.1 nats of the exact log Z, against the
    time of the exact enumeration.

Run: python benchmarks/ais.py [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import optional  # noqa: E402

from ebmlib import data, estimators, exact  # noqa: E402
from ebmlib.models import RBM  # noqa: E402
from ebmlib.rbm_sgd import fit_rbm  # noqa: E402
from ebmlib.utils import base_rate_logits, make_generator  # noqa: E402


def trained(train, persistent, device):
    model = RBM(784, 20, visible_bias=base_rate_logits(train), generator=make_generator(0, "init")).to(device)
    fit_rbm(model, train, n_epochs=60, batch_size=100, lr=0.05, persistent=persistent,
            generator=make_generator(0, "fit", persistent, device=device))
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--chains", type=int, default=200)
    args = parser.parse_args()
    device = args.device
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    train, _ = data.mnist5k(generator=make_generator(0, "split"))
    train = train.to(device)
    models = {"PCD-1": trained(train, True, device), "CD-1": trained(train, False, device),
              "random": RBM.random(784, 20, weight_std=0.05, bias_std=1.0, generator=make_generator(0, "random")).to(device)}
    rbms_classes = optional("rbms.bernoulli_bernoulli.classes")
    rbms_ais = optional("rbms.partition_function.ais")

    print(f"(a) error of log Z (AIS - exact, nats), {args.chains} chains, 100 distributions, mean ± sd over 5 seeds")
    bases = {"uniform": "uniform", "base rate": base_rate_logits(train), "own biases": "model"}
    schedules = {"linear": estimators.linear_schedule(100), "piecewise": estimators.piecewise_schedule(100)}
    columns = [(s, b) for s in schedules for b in bases]
    print(f"    {'':8s}" + "".join(f"{s:>17s}" for s, _ in columns) + (f"{'rbms 0.5.0':>17s}" if rbms_ais else ""))
    print(f"    {'model':8s}" + "".join(f"{b:>17s}" for _, b in columns) + (f"{'linear, own':>17s}" if rbms_ais else ""))
    for name, model in models.items():
        with torch.no_grad():
            truth = exact.log_partition(model).item()
        cells = []
        for schedule, base in columns:
            errors = [float(estimators.ais(model, args.chains, betas=schedules[schedule], base=bases[base],
                                           generator=make_generator(seed, "ais", device=device)).log_z) - truth
                      for seed in range(5)]
            cells.append(f"{statistics.mean(errors):+7.2f}±{statistics.stdev(errors):5.2f}")
        if rbms_ais and rbms_classes:
            params = rbms_classes.BBRBM(model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach())
            errors = []
            for seed in range(5):
                torch.manual_seed(seed)  # rbms draws from the global random state
                errors.append(rbms_ais.compute_partition_function_ais(args.chains, 100, params) - truth)
            cells.append(f"{statistics.mean(errors):+7.2f}±{statistics.stdev(errors):5.2f}")
        print(f"    {name:8s}" + "".join(f"{c:>17s}" for c in cells))

    model = models["PCD-1"]
    start = time.perf_counter()
    with torch.no_grad():
        truth = exact.log_partition(model).item()
    exact_s = time.perf_counter() - start
    print(f"(b) exact log Z = {truth:.3f} in {exact_s:.2f} s (2^20 hidden states); AIS, default base and schedule:")
    for n_betas in [100, 300, 1000, 2000, 5000, 10000, 20000]:
        start = time.perf_counter()
        estimate = estimators.ais(model, args.chains, n_betas, generator=make_generator(0, "timed", n_betas, device=device))
        seconds = time.perf_counter() - start
        error = float(estimate.log_z) - truth
        print(f"    {n_betas:6d} distributions: error {error:+.3f} ± {estimate.stderr:.3f} nats in {seconds:.2f} s")
        if abs(error) < 0.1 and estimate.stderr < 0.1:
            print(f"    AIS reached 0.1 nats in {seconds:.2f} s: exact / AIS time = {exact_s / seconds:.1f}")
            break


if __name__ == "__main__":
    main()
