"""Self-checking exercises: run a reader's answer on fresh small problems with known answers.

An exercise registers a *checker*: a function that, given a generator, yields :class:`Case` s
(an input, the exact expected output, and how to compare), a hint for common mistakes, the
reference solution and a few plausible wrong answers (the tests run every check on both: the
reference must pass, every wrong answer must be refused with a message that points at the
mistake). A reader calls::

    from ebmlib.book.exercises import check
    check("3.2", my_cd_update)

and reads which cases passed, or, at the first failure, the input, what was expected, what came
back, and a hint.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ..checks import wrap_output

__all__ = [
    "Case",
    "Exercise",
    "Result",
    "register",
    "check",
    "get",
    "exercises",
    "compare_values",
    "mistakes",
    "same_values",
]


@dataclass
class Case:
    """One problem to run an answer on.

    Attributes:
        description: what the input is, in words (shown when the case fails).
        args: positional arguments the answer is called with.
        expected: the exact answer (a number, a tensor, or a tuple of them).
        kwargs: keyword arguments the answer is called with.
        atol, rtol: how close the answer must be (``|got - expected| <= atol + rtol |expected|``).
    """

    description: str
    args: tuple = ()
    expected: Any = None
    kwargs: dict = field(default_factory=dict)
    atol: float = 1e-6
    rtol: float = 1e-6


@dataclass
class Result:
    """What :func:`check` found. Truthy when every case passed."""

    exercise: str
    passed: int
    total: int
    message: str
    printed: bool = False  # whether check() printed the message

    def __bool__(self) -> bool:
        return self.passed == self.total

    def __repr__(self) -> str:  # short: check() has printed the message already
        return f"Result(exercise={self.exercise!r}, passed={self.passed}, total={self.total})"

    def _ipython_display_(self) -> None:
        """A notebook cell that ends with ``check(...)`` shows the message once (check() has
        printed it; a quiet check's result prints it here), never a bare repr."""
        if not self.printed:
            print(wrap_output(self.message))


@dataclass
class Exercise:
    """A registered exercise.

    Attributes:
        id: its number in the book, ``"chapter.k"`` (``"3.2"``).
        title: a few words.
        cases: ``cases(generator) -> iterable of Case`` (fresh small problems).
        reference: the solution (the tests check that it passes).
        wrong: plausible wrong answers, name -> function (the tests check that each is refused);
            the name says what the mistake is.
        hint: ``hint(case, got) -> str``: what the mismatch suggests (a sign, a factor, a
            missing normalization), or ``""``.
        answer_kind: ``"function"`` (the reader passes a function, called on each case) or
            ``"value"`` (the reader passes the value itself, compared with each case's
            ``expected``; used for numbers computed by hand).
    """

    id: str
    title: str
    cases: Callable[[torch.Generator], Iterable[Case]]
    reference: Any
    wrong: dict[str, Any] = field(default_factory=dict)
    hint: Callable[[Case, Any], str] | None = None
    answer_kind: str = "function"


_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (its id must be new)."""
    if exercise.id in _REGISTRY:
        raise ValueError(f"exercise {exercise.id} is registered twice")
    if exercise.answer_kind not in ("function", "value"):
        raise ValueError(f"answer_kind must be 'function' or 'value', got {exercise.answer_kind!r}")
    _REGISTRY[exercise.id] = exercise
    return exercise


def exercises() -> dict[str, Exercise]:
    """Every registered exercise, by id."""
    return dict(_REGISTRY)


def get(exercise_id: str) -> Exercise:
    """The exercise with this id (a ``KeyError`` lists the ids that exist)."""
    try:
        return _REGISTRY[str(exercise_id)]
    except KeyError:
        raise KeyError(
            f"no self-checking exercise {exercise_id!r}; these have checks: {', '.join(sorted(_REGISTRY, key=_order))}"
        ) from None


def _order(exercise_id: str) -> tuple[int, ...]:
    return tuple(int(p) for p in exercise_id.split(".") if p.isdigit())


# --------------------------------------------------------------------------- comparing


def _as_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float64)
    try:
        import numpy as np

        if isinstance(value, (np.ndarray, np.generic)):
            return torch.as_tensor(np.asarray(value, dtype=np.float64))
    except ImportError:  # pragma: no cover
        pass
    return None


def _show(value: Any) -> str:
    t = _as_tensor(value)
    if t is None:
        return repr(value)[:300]
    if t.dim() == 0:
        return f"{t.item():.6g}"
    with torch.no_grad():
        flat = ", ".join(f"{v:.4g}" for v in t.reshape(-1)[:8].tolist())
    more = ", ..." if t.numel() > 8 else ""
    return f"tensor of shape {list(t.shape)}: [{flat}{more}]"


def mistakes(make: Callable[..., dict[str, Any]], *names: str) -> dict[str, Callable[..., Any]]:
    """``Exercise.wrong`` from one function that returns every named mistake's answer at once.

    ``mistakes(_grad_mistakes, "nll only", "no factor 2")`` gives, for each name, a wrong
    solution that returns ``_grad_mistakes(*args)[name]``.
    """
    return {name: (lambda *args, _name=name: make(*args)[_name]) for name in names}


def same_values(got: Any, value: Any, tol: float = 1e-6) -> bool:
    """Whether ``got`` equals ``value`` (a known mistake's answer) to ``tol``, for the hints.

    Anything that is not a finite number or tensor of ``value``'s shape is not the same.
    """
    if not isinstance(value, (tuple, list)):
        v = _as_tensor(value)
        if v is None or not bool(torch.isfinite(v).all()):
            return False
    return compare_values(value, got, tol, tol) == ""


def compare_values(expected: Any, got: Any, atol: float, rtol: float) -> str:
    """``""`` if ``got`` matches ``expected`` (numbers, tensors or tuples of them), else why not."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected {len(expected)} values (a tuple), got {_show(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            why = compare_values(e, g, atol, rtol)
            if why:
                return f"value {i}: {why}"
        return ""
    e, g = _as_tensor(expected), _as_tensor(got)
    if e is None:
        raise TypeError(f"the expected answer must be a number or tensor, got {type(expected).__name__}")
    if g is None:
        return f"expected a number or tensor, got {type(got).__name__}"
    if g.shape != e.shape:
        if g.numel() == e.numel():
            return (
                f"expected shape {list(e.shape)}, got shape {list(g.shape)} (the same numbers, arranged differently?)"
            )
        return f"expected shape {list(e.shape)}, got shape {list(g.shape)}"
    if not bool(torch.isfinite(g).all()):
        return "the answer contains NaN or infinite values"
    err = (g - e).abs()
    bound = atol + rtol * e.abs()
    if bool((err <= bound).all()):
        return ""
    worst = int(torch.argmax(err - bound)) if err.dim() else 0
    where = f" (largest error at flat index {worst})" if err.dim() else ""
    return f"off by up to {err.max().item():.3g}{where}; allowed {atol:g} + {rtol:g} x |expected|"


def common_mistakes(expected: Any, got: Any) -> str:
    """Hints read off the relation between two numbers or tensors: a sign, a factor, a constant."""
    e, g = _as_tensor(expected), _as_tensor(got)
    if e is None or g is None or e.shape != g.shape or not bool(torch.isfinite(g).all()):
        return ""
    scale = e.abs().max().item() + 1e-12
    if (g + e).abs().max().item() < 1e-4 * scale:
        return "your answer is the expected one with the opposite sign"
    if e.numel() > 1 and (g - e).std().item() < 1e-6 * scale and abs((g - e).mean().item()) > 1e-4 * scale:
        offset = (g - e).mean().item()
        return f"your answer is off by the same constant everywhere ({offset:.4g}): a missing normalizer or log term?"
    nonzero = e.abs() > 1e-9 * scale
    if bool(nonzero.any()):
        ratio = g[nonzero] / e[nonzero]
        r = ratio.mean().item()
        if ratio.numel() and (ratio - r).abs().max().item() < 1e-6 * abs(r) and abs(r - 1) > 1e-4:
            return (
                f"your answer is the expected one times {r:.4g}: "
                "a missing factor or an average taken over the wrong count?"
            )
    return ""


# --------------------------------------------------------------------------- checking


def check(exercise_id: str, answer: Any, *, seed: int = 0, quiet: bool = False) -> Result:
    """Run ``answer`` on the cases of exercise ``exercise_id`` and say what passed.

    Args:
        exercise_id: the exercise's number, e.g. ``"3.2"``.
        answer: your function (called on each case's inputs), or your value for exercises that
            ask for a number.
        seed: which fresh problems to draw (the cases are random small models).
        quiet: return the :class:`Result` without printing.

    Returns:
        A :class:`Result`, truthy when every case passed.
    """
    exercise = get(exercise_id)
    if exercise.answer_kind == "function" and not callable(answer):
        raise TypeError(f"exercise {exercise.id} asks for a function; got {type(answer).__name__}")
    generator = torch.Generator().manual_seed(seed)
    cases = list(exercise.cases(generator))
    title = f"Exercise {exercise.id} ({exercise.title})"
    passed = 0
    message = ""
    for i, case in enumerate(cases, 1):
        try:
            got = answer(*case.args, **case.kwargs) if exercise.answer_kind == "function" else answer
        except NotImplementedError:
            message = f"{title}: not answered yet (the function raises NotImplementedError)."
            break
        except Exception as err:  # noqa: BLE001 - a reader's code may raise anything
            tb = traceback.format_exception_only(type(err), err)[-1].strip()
            message = (
                f"{title}: case {i} of {len(cases)} raised an error.\n  input:    {case.description}\n  error:    {tb}"
            )
            break
        why = compare_values(case.expected, got, case.atol, case.rtol)
        if why:
            hint = exercise.hint(case, got) if exercise.hint is not None else ""
            hint = hint or common_mistakes(_first(case.expected), _first(got))
            message = (
                f"{title}: case {i} of {len(cases)} failed.\n"
                f"  input:    {case.description}\n"
                f"  expected: {_show_all(case.expected)}\n"
                f"  got:      {_show_all(got)}\n"
                f"  why:      {why}" + (f"\n  hint:     {hint}" if hint else "")
            )
            break
        passed += 1
    if passed == len(cases):
        message = f"{title}: all {len(cases)} cases passed."
    result = Result(
        exercise.id, passed, len(cases), ("✓ " if passed == len(cases) else "✗ ") + message, printed=not quiet
    )
    if not quiet:
        print(wrap_output(result.message))
    return result


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (tuple, list)) and value else value


def _show_all(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + "; ".join(_show(v) for v in value) + ")"
    return _show(value)


def iterate(n: int, make: Callable[[int, torch.Generator], Case], generator: torch.Generator) -> Iterator[Case]:
    """``n`` cases from ``make(index, generator)`` (a convenience for checkers)."""
    for i in range(n):
        yield make(i, generator)


def isclose(a: float, b: float, tol: float) -> bool:
    return math.isfinite(a) and abs(a - b) <= tol
