"""Exact log Z of a 784 x 20 RBM (2^20 hidden states): ebmlib's compiled Gray-code kernel
(ebmlib/exact/_softplus_sum.py) against ebmlib's torch path (every state's softplus sum in
float64 chunks: the code before the kernel, kept as the baseline) and against rbms 0.5's
``compute_partition_function_rbm`` (every state at once, in float32 and in float64, if rbms is
installed: ``pip install -r benchmarks/requirements.txt``; the float64 run, about 13 GB, only
with ``--float64``).

Each method runs in a fresh child process (so that each one's peak memory is its own): the
best of three timings after one warm-up call, the growth of the process's peak resident memory
over the call, and the error against the float64 torch path. The RBM has weights of standard
deviation 0.05 and biases of standard deviation 1 (the scale of an RBM trained on MNIST).

Run: python benchmarks/exact_log_z.py [--hidden 20] [--float64]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ebmlib import exact  # noqa: E402
from ebmlib.models import RBM  # noqa: E402
from ebmlib.utils import time_call  # noqa: E402

METHODS = ["ebmlib (compiled)", "ebmlib (torch, before)", "rbms float32", "rbms float64"]


def _model(n_hidden: int) -> RBM:
    return RBM.random(784, n_hidden, weight_std=0.05, bias_std=1.0, generator=torch.Generator().manual_seed(0))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _one(method: str, n_hidden: int) -> dict:
    model = _model(n_hidden).double()
    if method.startswith("ebmlib"):
        if "torch" in method:
            from ebmlib.exact import enumeration

            enumeration.softplus_sums = None  # the path every state took before the kernel

        def run():
            with torch.no_grad():
                return exact.log_partition(model).item()
    else:
        from rbms.bernoulli_bernoulli.classes import BBRBM
        from rbms.partition_function.exact import compute_partition_function_rbm

        dtype = torch.float32 if "32" in method else torch.float64
        params = BBRBM(model.weight.detach().clone(), model.visible_bias.detach(),
                       model.hidden_bias.detach(), device=torch.device("cpu"), dtype=dtype)
        states = exact.binary_states(n_hidden, dtype=dtype)

        def run():
            return compute_partition_function_rbm(params, states)

    before = _peak_mb()
    value = run()  # the warm-up: compilation, and the peak memory of one call
    grown = _peak_mb() - before
    seconds = time_call(run, repeats=3, warmup=0)
    return {"seconds": seconds, "log_z": value, "peak_mb": grown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--float64", action="store_true", help="also run rbms in float64 (~13 GB)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.hidden)))
        return
    print(f"Exact log Z of a 784 x {args.hidden} RBM (2^{args.hidden} hidden states); load average "
          f"{os.getloadavg()[0]:.2f}, {torch.get_num_threads()} threads")
    results = {}
    for method in METHODS:
        if method == "rbms float64" and not args.float64:
            continue
        if method.startswith("rbms"):
            try:
                import rbms  # noqa: F401
            except ImportError:
                print(f"    (rbms is not installed: {method} is skipped)")
                continue
        child = subprocess.run([sys.executable, __file__, "--hidden", str(args.hidden), "--one", method],
                               capture_output=True, text=True)
        if child.returncode:
            print(f"    {method}: failed\n{child.stderr[-1500:]}")
            continue
        results[method] = json.loads(child.stdout.strip().splitlines()[-1])
    reference = results.get("ebmlib (torch, before)", {}).get("log_z")
    ours = results.get("ebmlib (compiled)", {}).get("seconds")
    print(f"    {'method':24s} {'seconds':>9s} {'x ebmlib':>9s} {'peak MB':>9s} {'error (nats)':>13s}")
    for method, r in results.items():
        error = "" if reference is None else f"{r['log_z'] - reference:13.1e}"
        ratio = "" if ours is None else f"{r['seconds'] / ours:9.2f}"
        print(f"    {method:24s} {r['seconds']:9.3f} {ratio:>9s} {r['peak_mb']:9.0f} {error}")
    print(f"    (log Z = {reference:.6f}; 'x ebmlib' is each method's time over the compiled kernel's; "
          f"load average at the end {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
