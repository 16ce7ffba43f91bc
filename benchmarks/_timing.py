"""Printing for the benchmark scripts (timing itself is ``ebmlib.utils.time_call``)."""

from __future__ import annotations

import importlib


def report(title: str, baseline: tuple[str, float], ours: tuple[str, float], target: str) -> None:
    """Print two timings and their ratio (baseline / ours when ours is faster, else ours / baseline)."""
    (base_name, base_s), (our_name, our_s) = baseline, ours
    print(title)
    print(f"    {base_name:28s}: {base_s * 1e3:11.3f} ms")
    print(f"    {our_name:28s}: {our_s * 1e3:11.3f} ms")
    if our_s <= base_s:
        print(f"    {'speed-up':28s}: {base_s / our_s:11.2f}x   (target {target})")
    else:
        print(f"    {'ratio to baseline':28s}: {our_s / base_s:11.2f}x   (target {target})")


def optional(module: str):
    """Import a comparison package if it is installed (``pip install -r benchmarks/requirements.txt``)."""
    try:
        return importlib.import_module(module)
    except Exception as err:  # noqa: BLE001 - any failure means "not available here"
        print(f"    ({module} is not importable here: {type(err).__name__}; its comparison is skipped)")
        return None
