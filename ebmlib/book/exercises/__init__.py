"""The book's self-checking exercises.

A reader checks an answer in the notebook (or in Colab) with::

    from ebmlib.book.exercises import check
    check("3.2", my_cd_update)

which runs the answer on fresh small problems whose exact answer is known (enumeration, a closed
form, or the library where the library is tested against them) and prints what passed or, at the
first failure, the input, what was expected, what came back and a hint. Each chapter's checks
live in ``chNN.py`` in this package; every such module is imported here, so ``check`` knows them all.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._core import Case, Exercise, Result, check, compare_values, exercises, get, register

__all__ = ["Case", "Exercise", "Result", "check", "compare_values", "exercises", "get", "register"]

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch")):
    importlib.import_module(f"{__name__}.{_module}")
