"""Shared check for the exercises: a reference solution passes, every wrong answer is refused."""

from __future__ import annotations

import pytest

from ebmlib.book.exercises import check, exercises


def assert_check_works(exercise_id: str, key_words: dict[str, str] | None = None) -> None:
    """The reference passes; each wrong answer fails, and its message contains ``key_words[name]``
    (a word of the hint that points at that mistake) when given."""
    ex = exercises()[exercise_id]
    assert check(exercise_id, ex.reference, quiet=True), check(exercise_id, ex.reference, quiet=True).message
    assert ex.wrong, f"exercise {exercise_id} has no wrong answers to refuse"
    for name, wrong in ex.wrong.items():
        result = check(exercise_id, wrong, quiet=True)
        assert not result, f"exercise {exercise_id}: the wrong answer {name!r} passed"
        if key_words and name in key_words:
            assert key_words[name].lower() in result.message.lower(), (name, result.message)


@pytest.fixture
def check_works():
    return assert_check_works
