"""A claim the reader can see: one line that states it, with the measured values, under the
experiment (``Chapter.check``), and the exception that stops the build when it is false.

The line is HTML with inline styles (so it reads the same in Jupyter, Colab and the book, in
light and dark mode) and a ``data-ebm-check`` attribute holding the claim as JSON, from which
the book's Sphinx extension (tools/book_claims.py) builds the claims page.
"""

from __future__ import annotations

import html
import json
import numbers
import string
import textwrap
from dataclasses import dataclass, field
from typing import Any

from .numbers import Typeset, as_shown, number, plain_value

__all__ = ["ClaimFailed", "Claim", "state_claim", "failure_message"]

# Okabe-Ito blue for a claim that holds, vermillion for one that does not (with a mark, not
# colour alone); translucent backgrounds read on a light and a dark page alike.
_PASS = ("#0072B2", "rgba(0, 114, 178, 0.10)", "\u2713")
_FAIL = ("#D55E00", "rgba(213, 94, 0, 0.14)", "\u2717")


class ClaimFailed(AssertionError):
    """A checked claim does not hold: the chapter's text would be wrong."""


@dataclass
class Claim:
    """One checked claim: the sentence as written (``template``), as shown (``text``), each
    value as shown (``values``: name -> :class:`Typeset`) and whether it held."""

    template: str
    text: str
    values: dict[str, Typeset]
    passed: bool
    anchor: str
    parts: list[tuple[str, str | None]] = field(default_factory=list)  # (text, value name or None)

    def payload(self) -> str:
        return json.dumps(
            {
                "claim": self.template,
                "text": self.text,
                "passed": self.passed,
                "anchor": self.anchor,
                "values": {k: v.text for k, v in self.values.items()},
                "parts": self.parts,
            },
            ensure_ascii=False,
        )

    def _repr_html_(self) -> str:
        color, background, mark = _PASS if self.passed else _FAIL
        body = "".join(
            html.escape(text)
            if name is None
            else f'<span class="ebm-check-value" style="font-weight:600;white-space:nowrap">{html.escape(text)}</span>'
            for text, name in self.parts
        )
        label = "checked" if self.passed else "check failed"
        return (
            f'<div class="ebm-check {"ebm-check-pass" if self.passed else "ebm-check-fail"}" '
            f'id="{self.anchor}" role="note" aria-label="{label}" '
            f'data-ebm-check="{html.escape(self.payload(), quote=True)}" '
            f'style="display:flex;gap:0.55em;align-items:baseline;margin:0.2em 0;'
            f"padding:0.3em 0.75em;border-left:3px solid {color};background:{background};"
            f"border-radius:0 4px 4px 0;font-family:system-ui,-apple-system,'Segoe UI',sans-serif;"
            f'font-size:0.9em;line-height:1.45;color:inherit">'
            f'<span class="ebm-check-mark" aria-hidden="true" '
            f'style="color:{color};font-weight:700">{mark}</span>'
            f'<span class="ebm-check-text">{body}</span></div>'
        )

    def __repr__(self) -> str:
        return wrap_output(f"{(_PASS if self.passed else _FAIL)[2]} {self.text}")


OUTPUT_WIDTH = 88  # the characters of a line that fit a rendered output block


def wrap_output(text: str, width: int = OUTPUT_WIDTH) -> str:
    """``text`` with each line longer than ``width`` broken at spaces, continued with an indent.

    What a check prints as plain text (a terminal, a notebook without HTML) fits the page.
    """
    out = []
    for line in text.splitlines() or [""]:
        lead = len(line) - len(line.lstrip(" "))
        out.append(
            textwrap.fill(
                line, width, subsequent_indent=" " * (lead + 2), break_long_words=False, break_on_hyphens=False
            )
            if len(line) > width
            else line
        )
    return "\n".join(out)


def _as_bool(passed: Any) -> bool:
    if isinstance(passed, bool):
        return passed
    if type(passed).__module__ == "numpy" and type(passed).__name__ in {"bool_", "bool"}:
        return bool(passed)
    if hasattr(passed, "dtype") and hasattr(passed, "numel"):  # torch
        if passed.numel() == 1 and str(passed.dtype) == "torch.bool":
            return bool(passed.item())
        raise TypeError(
            f"passed must be a bool or a one-element bool tensor, got a {passed.dtype} "
            f"tensor of shape {tuple(passed.shape)}"
        )
    raise TypeError(
        f"passed must be a bool (the result of the comparison that checks the claim), "
        f"got {type(passed).__name__}: {passed!r}"
    )


def _format_value(name: str, value: object, spec: str | None) -> Typeset:
    spec = spec or ""
    value = plain_value(value)
    if isinstance(value, Typeset):
        if spec:
            raise ValueError(f"{{{name}:{spec}}}: {name} is already typeset; drop the format spec")
        return value
    if isinstance(value, str):
        return Typeset(format(value, spec))
    if isinstance(value, bool):
        raise TypeError(f"{name} is a bool; state the claim in words and check the bool as `passed`")
    if isinstance(value, numbers.Real):
        return number(value, spec)
    raise TypeError(f"{name} must be a number, a one-element tensor or a string, got {type(value).__name__}")


def state_claim(claim: str, passed: object, values: dict[str, object], anchor: str) -> Claim:
    """Format ``claim`` with ``values`` (each field a plain name with an optional format spec)
    and return the :class:`Claim`; refuses fields without a value and values the claim does not
    show (a value the text cites must be the value the reader sees in the check)."""
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("claim must be a non-empty sentence")
    ok = _as_bool(passed)
    parts: list[tuple[str, str | None]] = []
    formatted: dict[str, Typeset] = {}
    specs: dict[str, str | None] = {}
    try:
        parsed = list(string.Formatter().parse(claim))
    except ValueError as err:
        raise ValueError(f"claim {claim!r} is not a valid format string: {err}") from None
    for literal, name, spec, conversion in parsed:
        if literal:
            parts.append((as_shown(literal), None))  # its numbers typeset like the values
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"claim field {{{name}}} must be a plain name (no indexing or attributes)")
        if conversion:
            raise ValueError(f"claim field {{{name}!{conversion}}}: conversions are not supported")
        if name not in values:
            raise ValueError(f"claim names {{{name}}} but no value {name}= was given")
        if name in specs and specs[name] != spec:
            raise ValueError(f"claim formats {name} twice, as {specs[name]!r} and {spec!r}")
        specs[name] = spec
        if name not in formatted:
            formatted[name] = _format_value(name, values[name], spec)
        parts.append((formatted[name].text, name))
    unused = sorted(set(values) - set(formatted))
    if unused:
        raise ValueError(
            f"values {unused} are not shown in the claim; name each one in it as {{name}} "
            "(or glue it separately with ch.glue)"
        )
    text = "".join(t for t, _ in parts)
    return Claim(claim, text, formatted, ok, anchor, parts)


def failure_message(claim: Claim) -> str:
    values = ", ".join(f"{k}={v.text}" for k, v in claim.values.items())
    return f"claim does not hold: {claim.text}" + (f" ({values})" if values else "")
