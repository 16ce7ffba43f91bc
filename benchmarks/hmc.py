"""HMC and adapted MALA: ebmlib against TorchEBM 0.8.9, ebmkit 0.16.0 and plain torch.

1. Throughput (chains x steps per second): 10,000 chains on an MLP energy (two hidden layers of 64
   SiLU units) in 2-D and 32-D. HMC with the same step size and number of leapfrog steps on
   every side (equal trajectories; each side's model evaluations per step are printed: ebmlib
   keeps the energy and score of the current states, so a step costs L evaluations); MALA with
   a step size adapted by ebmlib's dual averaging and then held fixed, against ebmkit's MALA at
   the same step size (TorchEBM has no adjusted Langevin sampler).
2. Effective samples per second on a 32-D Gaussian (standard deviations from 0.5 to 1): every
   sampler starts at exact samples, runs with the step size ebmlib's adaptation chose, and is
   scored by the bulk ESS (ebmlib.diagnostics.ess) of its worst coordinate divided by its
   sampling time. Every side evaluates the same energy by autograd (ebmlib gets no closed-form
   score).

Ratios are the other side's time over ebmlib's (above 1: ebmlib is faster), measured in the same
process. TorchEBM and ebmkit run only if installed (``pip install -r benchmarks/requirements.txt``;
they are installed with ``--no-deps`` so that pip leaves the pinned torch alone). Timings from a
busy machine mean little: the script prints the load average at its start and end.

Run: python benchmarks/hmc.py [--quick] [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import optional  # noqa: E402

from ebmlib import diagnostics, samplers  # noqa: E402
from ebmlib.models import EnergyModel, MLPEnergy  # noqa: E402
from ebmlib.utils import make_generator, time_call  # noqa: E402

N_LEAPFROG = 10


def plain_hmc(energy, x, n_steps, step, n_leapfrog):
    """The loop anyone would write: autograd at every leapfrog step, the energy recomputed at the start."""

    def grad(z):
        z = z.detach().requires_grad_(True)
        e = energy(z)
        (g,) = torch.autograd.grad(e.sum(), z)
        return e.detach(), g

    for _ in range(n_steps):
        p0 = torch.randn_like(x)
        e0, g = grad(x)
        p = p0 - 0.5 * step * g
        y = x
        for i in range(n_leapfrog):
            y = y + step * p
            e1, g = grad(y)
            p = p - (0.5 if i == n_leapfrog - 1 else 1.0) * step * g
        log_alpha = e0 - e1 + 0.5 * (p0 * p0).sum(1) - 0.5 * (p * p).sum(1)
        accept = torch.log(torch.rand_like(log_alpha)) < log_alpha
        x = torch.where(accept[:, None], y, x).detach()
    return x


class Counting(torch.nn.Module):
    """Wraps an energy and counts forward passes (one per evaluation of the model)."""

    def __init__(self, energy):
        super().__init__()
        self.inner, self.calls = energy, 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


class AutogradGaussian(EnergyModel):
    """A diagonal Gaussian energy whose score comes from autograd, as every other side's does."""

    def __init__(self, std: torch.Tensor) -> None:
        super().__init__()
        self.n_features = std.shape[0]
        self.register_buffer("precision", std**-2)

    def energy(self, x):
        return 0.5 * (x * x * self.precision.to(x)).sum(1)


def torchebm_model(core, model):
    class Wrapped(core.BaseModel):
        def forward(self, x):
            return model.energy(x)  # looked up at every call, so that evaluations can be counted

    return Wrapped()


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def ebmlib_hmc(model, x0, n_steps, step, gen):
    return samplers.hmc(model, x0, n_steps, step_size=step, n_leapfrog=N_LEAPFROG, generator=gen).x


def sides(model, device, tebm, ebm, step, mala_step, n_leapfrog=N_LEAPFROG, jittered=False):
    """name -> run(x0, n_steps, trace=False): final draws ``[chains, d]``, or with ``trace`` every
    step's draws ``[n_steps, chains, d]``."""
    gen = make_generator(1, device=device)
    run = {}

    def ours(x0, n_steps, trace=False, jitter=0.0):
        out = samplers.hmc(model, x0, n_steps, step_size=step, n_leapfrog=n_leapfrog, jitter=jitter, generator=gen,
                           trace=("x",) if trace else None)
        return out.trace["x"] if trace else out.x

    def ours_mala(x0, n_steps, trace=False):
        out = samplers.langevin(model, x0, n_steps, step_size=mala_step, adjusted=True, generator=gen,
                                trace=("x",) if trace else None)
        return out.trace["x"] if trace else out.x

    def plain(x0, n_steps, trace=False):
        if not trace:
            return plain_hmc(model.energy, x0, n_steps, step, n_leapfrog)
        xs, x = [], x0
        for _ in range(n_steps):
            x = plain_hmc(model.energy, x, 1, step, n_leapfrog)
            xs.append(x)
        return torch.stack(xs)

    run["ebmlib HMC"] = ours
    if jittered:
        run["ebmlib HMC, jitter 0.2"] = lambda x0, n_steps, trace=False: ours(x0, n_steps, trace, 0.2)
    run["plain HMC"] = plain
    if tebm is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler = tebm.samplers.HamiltonianMonteCarlo(torchebm_model(tebm.core, model), step_size=step,
                                                          n_leapfrog_steps=n_leapfrog, device=device,
                                                          dtype=torch.float32)

        def torchebm(x0, n_steps, trace=False):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = sampler.sample(x=x0.clone(), n_steps=n_steps, return_trajectory=trace)
            return out.transpose(0, 1) if trace else out

        run["TorchEBM HMC"] = torchebm
    if ebm is not None:
        ebm_hmc = ebm.HMC(step_size=step, leapfrog_steps=n_leapfrog)
        ebm_mala = ebm.MALA(step_size=mala_step)

        def ebmkit(x0, n_steps, trace=False):
            out = ebm_hmc.sample(model.energy, x0, steps=n_steps, return_trajectory=trace)
            return out[1:] if trace else out

        def ebmkit_mala(x0, n_steps, trace=False):
            out = ebm_mala.sample(model.energy, x0, steps=n_steps, return_trajectory=trace)
            return out[1:] if trace else out

        run["ebmkit HMC"] = ebmkit
    run["ebmlib MALA"] = ours_mala
    if ebm is not None:
        run["ebmkit MALA"] = ebmkit_mala
    return run


def evaluations_per_step(fn, model, x0):
    """Forward passes of the model per step (the difference between 2 steps and 1 step)."""
    counter = Counting(model.energy)
    object.__setattr__(model, "energy", counter)  # an instance attribute: every side reads it at call time
    try:
        fn(x0, 1)
        one = counter.calls
        fn(x0, 2)
        return counter.calls - 2 * one  # calls for 2 steps minus calls for 1 step
    finally:
        del model.__dict__["energy"]


def adapt(kernel, model, x0, target, n_steps, gen):
    return samplers.adapt_step_size(kernel, model, x0, n_steps, target_accept=target, generator=gen)


def throughput(device, tebm, ebm, quick):
    chains, n_steps = (2_000, 3) if quick else (10_000, 10)
    print(f"1. Throughput: {chains:,} chains x {n_steps} steps, HMC with {N_LEAPFROG} leapfrog steps; "
          f"MALA at an adapted, fixed step ({load()})")
    for d in (2, 32):
        model = MLPEnergy(d, (64, 64), generator=make_generator(0, "mlp", d)).to(device)
        for p in model.parameters():
            p.requires_grad_(False)
        x0 = torch.randn(chains, d, device=device, generator=make_generator(0, "x", d, device=device))
        gen = make_generator(2, d, device=device)
        hmc_step = adapt(samplers.HMC(0.1, N_LEAPFROG), model, x0[:500], 0.8, 100 if not quick else 30, gen).step_size
        mala_step = adapt(samplers.Langevin(0.01, adjusted=True), model, x0[:500], 0.574, 100 if not quick else 30,
                          gen).step_size
        run = sides(model, device, tebm, ebm, hmc_step, mala_step)
        times = {name: time_call(lambda fn=fn, x0=x0: fn(x0, n_steps), 1 if quick else 3) for name, fn in run.items()}
        warm = samplers.Langevin(mala_step, adjusted=True)
        times["ebmlib MALA warm-up"] = time_call(
            lambda w=warm, m=model, x0=x0, g=gen: samplers.adapt_step_size(w, m, x0, n_steps, target_accept=0.574,
                                                                           generator=g),
            1 if quick else 3)
        print(f"  d = {d}: HMC step {hmc_step:.3g}, MALA step {mala_step:.3g}")
        print(f"    {'sampler':24s}{'evals/step':>11s}{'chains x steps / s':>20s}{'time / ebmlib':>15s}")
        for name, seconds in times.items():
            base = times["ebmlib MALA"] if "MALA" in name else times["ebmlib HMC"]
            evals = evaluations_per_step(run[name], model, x0[:8]) if name in run else 1
            print(f"    {name:24s}{evals:11d}{chains * n_steps / seconds:20,.0f}{seconds / base:14.2f}x")


def ess_per_second(device, tebm, ebm, quick):
    """Min-over-coordinates bulk ESS per second. L = 5 keeps the trajectory (about 2.5) under a
    period of every coordinate (2 pi sd >= 3.1): with L = 10 the coordinate whose period equals the
    trajectory barely moves under a fixed step (a resonance; the jittered row shows the remedy)."""
    d, chains, n_steps, n_leapfrog = 32, (200 if quick else 1000), (60 if quick else 300), 5
    std = torch.linspace(0.5, 1.0, d, device=device)
    model = AutogradGaussian(std).to(device)
    gen = make_generator(3, device=device)
    x0 = std * torch.randn(chains, d, device=device, generator=gen)  # exact samples: no burn-in needed
    hmc_step = adapt(samplers.HMC(0.1, n_leapfrog), model, x0, 0.8, 200, gen).step_size
    mala_step = adapt(samplers.Langevin(0.1, adjusted=True), model, x0, 0.574, 200, gen).step_size
    print(f"2. ESS per second: {d}-D Gaussian (sd 0.5 to 1), {chains:,} chains x {n_steps} steps from exact "
          f"samples; HMC step {hmc_step:.3g} (L = {n_leapfrog}), MALA step {mala_step:.3g} ({load()})")
    print(f"    {'sampler':24s}{'seconds':>9s}{'min bulk ESS':>14s}{'ESS / s':>10s}{'(ESS/s ebmlib) / (ESS/s)':>26s}")
    rows = {}
    for name, fn in sides(model, device, tebm, ebm, hmc_step, mala_step, n_leapfrog, jittered=True).items():
        start = time.perf_counter()
        draws = fn(x0, n_steps, trace=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        ess = diagnostics.ess(draws.detach().cpu()).min().item()
        rows[name] = (seconds, ess, ess / seconds)
    for name, (seconds, ess, rate) in rows.items():
        base = rows["ebmlib MALA" if "MALA" in name else "ebmlib HMC"][2]
        print(f"    {name:24s}{seconds:9.2f}{ess:14,.0f}{rate:10,.0f}{base / rate:25.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="small sizes, one timing each: a smoke test")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, {load()}")
    core = optional("torchebm.core")
    tebm = None
    if core is not None:
        import torchebm.samplers  # noqa: F401

        tebm = sys.modules["torchebm"]
    ebm = optional("ebm")  # ebmkit installs as the module `ebm`
    throughput(device, tebm, ebm, args.quick)
    ess_per_second(device, tebm, ebm, args.quick)
    print(f"done ({load()})")


if __name__ == "__main__":
    main()
