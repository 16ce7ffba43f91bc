"""Execute every chapter afresh, two at a time, into the jupyter-cache that `make book` then reads.

usage: execute_book.py CACHE_DIR [--jobs N] [--timeout SECONDS] [CHAPTER.ipynb ...]
       execute_book.py CACHE_DIR --export FOLDER

The machines this book is built on have two cores. A chapter's tensors are small, so a
kernel gains little from a second thread, while two kernels with one thread each run two
chapters at once: the book executes in a little over half the time of one kernel after the
other. Each kernel runs with one thread (OMP_NUM_THREADS=1, set here before any kernel
starts), so two of them never oversubscribe the cores.

The cache is emptied first, so nothing executed from older sources survives: every chapter
runs from the book/ and ebmlib/ present now, as with myst-nb's "force" mode. Jupyter Book,
with `execute_notebooks: cache`, then finds every chapter in the cache and executes none.
The chapters run longest first (the order of the last build's times where known, else by
chapter number, highest first), so the two workers finish together.

Exits with status 1, naming the chapter and printing its traceback, if any cell raised (an
assert that failed, a cell over the time limit), so that `make book` stops there.

`--export FOLDER` (after the build) writes each chapter as executed, from the cache, to
FOLDER/book/NAME.ipynb. myst-nb in "cache" mode writes the notebook it read, without the
outputs it merged from the cache, to _build/jupyter_execute; `make test` checks the executed
copies there (tests/infra/test_executed_book.py), so the Makefile replaces them with these.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
TIMES = ROOT / "_build" / "execution_times.json"  # written after each run, read by the next


def _run(item: tuple[str, int, str, int]) -> tuple[str, int, float, str | None]:
    """Execute one chapter in a worker process and cache its outputs."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    uri, pk, cache_dir, timeout = item
    cache = get_cache(cache_dir)
    notebook = cache.get_project_notebook(pk).nb
    start = time.time()
    result = single_nb_execution(notebook, cwd=str(Path(uri).parent), timeout=timeout,
                                 allow_errors=False)
    seconds = time.time() - start
    if result.err is not None:
        return uri, pk, seconds, result.exc_string or repr(result.err)
    cache.cache_notebook_bundle(CacheBundleIn(notebook, uri, data={"execution_seconds": result.time}),
                                check_validity=False, overwrite=True)
    return uri, pk, seconds, None


def export(cache_dir: str, folder: Path) -> int:
    """Write every chapter, as the cache holds it executed, to folder/book/NAME.ipynb."""
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(cache_dir)
    missing = []
    for path in CHAPTERS:
        try:
            record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            missing.append(path.name)
            continue
        target = folder / "book" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(cache.get_cache_bundle(record.pk).nb, target)
    if missing:
        print(f"not executed from the current sources: {', '.join(missing)}", file=sys.stderr)
    return 1 if missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", help="the jupyter-cache folder myst-nb reads (_build/.jupyter_cache)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may run")
    parser.add_argument("chapters", nargs="*", help="only these notebooks of book/ (default: all)")
    parser.add_argument("--export", type=Path, help="write the executed chapters under this folder")
    args = parser.parse_args()
    if args.export:
        return export(args.cache, args.export)

    if args.jobs > 1:  # the kernels (started by the workers) inherit this environment
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

    from jupyter_cache import get_cache

    shutil.rmtree(args.cache, ignore_errors=True)
    cache = get_cache(args.cache)
    chosen = [p for p in CHAPTERS if not args.chapters or p.name in args.chapters]
    records = [cache.add_nb_to_project(str(path)) for path in chosen]
    last = json.loads(TIMES.read_text()) if TIMES.is_file() else {}
    records.sort(key=lambda r: (last.get(Path(r.uri).name, 0.0), Path(r.uri).name), reverse=True)

    print(f"executing {len(records)} chapters, {args.jobs} at a time, one thread each", flush=True)
    start, times, failed = time.time(), {}, []
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        items = [(r.uri, r.pk, args.cache, args.timeout) for r in records]
        for uri, _, seconds, error in pool.imap_unordered(_run, items, chunksize=1):
            name = Path(uri).name
            times[name] = round(seconds, 1)
            print(f"  {name}: {seconds:.0f} s{'  FAILED' if error else ''}", flush=True)
            if error:
                failed.append((name, error))
    print(f"all chapters in {time.time() - start:.0f} s", flush=True)
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    TIMES.write_text(json.dumps({**last, **times}, indent=1))
    for name, error in failed:
        print(f"\n=== {name} failed:\n{error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
