"""Timing helper for the benchmark scripts: best-of-repeats wall time, synchronising CUDA."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def best_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device: str = "cpu") -> float:
    """Smallest wall-clock time of ``fn()`` over ``repeats`` runs, in seconds."""
    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def report(title: str, baseline: tuple[str, float], ours: tuple[str, float], target: str) -> None:
    """Print two timings and their ratio (baseline / ours when ours is faster, else ours / baseline)."""
    (base_name, base_s), (our_name, our_s) = baseline, ours
    print(title)
    print(f"    {base_name:24s}: {base_s * 1e3:11.3f} ms")
    print(f"    {our_name:24s}: {our_s * 1e3:11.3f} ms")
    if our_s <= base_s:
        print(f"    {'speed-up':24s}: {base_s / our_s:11.1f}x   (target {target})")
    else:
        print(f"    {'ratio to baseline':24s}: {our_s / base_s:11.2f}x   (target {target})")
