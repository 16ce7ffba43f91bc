"""The exercise framework on a toy exercise: log-sum-exp of a vector."""

from __future__ import annotations

import pytest
import torch

from ebmlib.book.exercises import _core
from ebmlib.book.exercises._core import Case, Exercise, check, compare_values


@pytest.fixture
def toy():
    def cases(gen):
        for n in (2, 3, 5):
            x = torch.randn(n, dtype=torch.float64, generator=gen)
            yield Case(f"x of length {n}", (x,), torch.logsumexp(x, 0))

    ex = Exercise("0.1", "log-sum-exp", cases, reference=lambda x: torch.logsumexp(x, 0),
                  wrong={"mean of exp": lambda x: torch.log(torch.exp(x).mean())})
    _core.register(ex)
    yield ex
    del _core._REGISTRY["0.1"]


def test_reference_passes_and_wrong_answer_is_refused_with_the_offset(toy):
    assert check("0.1", toy.reference, quiet=True)
    result = check("0.1", toy.wrong["mean of exp"], quiet=True)
    assert not result and "case 1 of 3 failed" in result.message
    assert "off by" in result.message


def test_unanswered_errors_and_unknown_ids(toy):
    def todo(x):
        raise NotImplementedError

    assert "not answered yet" in check("0.1", todo, quiet=True).message
    assert "raised an error" in check("0.1", lambda x: x.foo, quiet=True).message
    with pytest.raises(KeyError, match="no self-checking exercise"):
        check("99.9", todo)
    with pytest.raises(TypeError, match="asks for a function"):
        check("0.1", 3.0)
    with pytest.raises(ValueError, match="registered twice"):
        _core.register(toy)


def test_compare_values_names_sign_and_shape():
    e = torch.tensor([1.0, -2.0, 3.0])
    assert compare_values(e, e + 1e-9, 1e-6, 1e-6) == ""
    assert "shape" in compare_values(e, e[None], 1e-6, 1e-6)
    assert "NaN" in compare_values(e, torch.full((3,), float("nan")), 1e-6, 1e-6)
    assert "opposite sign" in _core.common_mistakes(e, -e)
    assert "times 2" in _core.common_mistakes(e, 2 * e)


def test_a_cell_ending_with_check_shows_no_repr(toy):
    """check() prints its message; the Result a cell ends with is not shown again as a repr
    (the site check refuses bare reprs)."""
    formatters = pytest.importorskip("IPython.core.formatters")
    data, _ = formatters.DisplayFormatter().format(check("0.1", toy.reference))
    assert data == {}


def test_a_quiet_result_shown_in_a_cell_prints_its_message_once(toy, capsys):
    formatters = pytest.importorskip("IPython.core.formatters")
    loud = check("0.1", toy.reference)
    quiet = check("0.1", toy.wrong["mean of exp"], quiet=True)
    capsys.readouterr()
    for result in (loud, quiet):
        data, _ = formatters.DisplayFormatter().format(result)
        assert data == {}
    printed = capsys.readouterr().out
    assert "case 1 of 3 failed" in printed and "all 3 cases passed" not in printed
