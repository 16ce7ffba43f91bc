"""Numbers as a reader should see them: ``8.9 × 10⁻¹⁶`` (or typeset as maths), never ``8.9e-16``.

A :class:`Typeset` number carries two renderings of one value: Unicode text (for
``{glue:text}``, tables and check lines) and TeX (for the ``{glue}`` role, which myst-nb
renders as inline maths from the ``text/latex`` representation)::

    ch.glue(n_states=book.power(2, 784), eps=book.number(8.9e-16, ".1e"))

    The sum has {glue}`n_states` terms; float64 resolves {glue}`eps`.      (maths)
    The sum has {glue:text}`n_states` terms.                                (Unicode text)

Formatting rules (:func:`tidy`): exponents become ``× 10ⁿ``, a negative zero (``-0.000``)
loses its sign, a minus is a real minus sign (U+2212) in text, and NaN, inf and None are
refused: a number that is not a number is a bug to fix, not a value to print.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

__all__ = ["Typeset", "number", "power", "tidy", "plain_value"]

_SUPERSCRIPT = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")
_EXPONENT = re.compile(r"^(?P<sign>[-+]?)(?P<mantissa>\d+(?:\.\d*)?)[eE](?P<exp>[-+]?\d+)(?P<suffix>%?)$")
_NUMBER = re.compile(r"^[-+]?(\d[\d,]*)(\.\d*)?%?$")
_NEGATIVE_ZERO = re.compile(r"^-(0[.,]?0*)(%?)$")
MINUS = "\u2212"


class Typeset:
    """A formatted number: ``text`` (Unicode) and ``tex`` (TeX, without dollars).

    ``str()`` and f-strings give the text. As a glued value its ``text/plain`` is the text (so
    ``{glue:text}`` shows it) and its ``text/latex`` the maths (so ``{glue}`` typesets it).
    """

    __slots__ = ("text", "tex")

    def __init__(self, text: str, tex: str | None = None) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError(f"text must be a non-empty string, got {text!r}")
        self.text = text
        self.tex = tex

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return format(self.text, spec)

    def __repr__(self) -> str:
        # Quoted, so that myst-nb's {glue:text} (which literal_evals text/plain) gives the text
        # back unchanged ("1,024" unquoted would be read as the tuple (1, 24)).
        return repr(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Typeset) and (self.text, self.tex) == (other.text, other.tex)

    def __hash__(self) -> int:
        return hash((self.text, self.tex))

    def _repr_latex_(self) -> str | None:
        return None if self.tex is None else f"${self.tex}$"


def plain_value(value: Any) -> Any:
    """``value`` as a plain Python scalar: 0-d / one-element tensors and numpy scalars are
    unwrapped; anything else is returned as it is."""
    if hasattr(value, "numel") and hasattr(value, "item"):  # a torch tensor
        if value.numel() != 1:
            raise ValueError(f"expected a single number, got a tensor of shape {tuple(value.shape)}")
        return value.item()
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        if getattr(value, "size", 1) != 1:
            raise ValueError(f"expected a single number, got an array of shape {value.shape}")
        return value.item()
    return value


def _refuse_non_finite(value: object, what: str) -> None:
    if value is None:
        raise ValueError(f"{what} is None: a missing value cannot be printed as a number")
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
        raise ValueError(
            f"{what} is {value}: NaN and inf are never printed (fix the computation, "
            "or state in words what the value means)"
        )


def _tex_mantissa(text: str) -> str:
    return text.replace(",", "{,}").replace("%", r"\%")


_HYPHEN_MINUS = re.compile(r"(?:(?<=^)|(?<=[\s(\[=<>≈~]))-(?=\.?\d)")
_E_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d*)?[eE][-+]?\d+(?![\w.])")
_CARET = re.compile(r"(?<=\d)\^\{?(-?\d+)\}?")
_TIMES = re.compile(r"(?<=\d)( ?)x(?=\1\d)|(?<=\d)x(?= [a-z])")
_SQRT = re.compile(r"(?<!\\)\bsqrt\(")
_GREEK = {"sigma": "σ", "lambda": "λ", "beta": "β", "epsilon": "ε", "delta": "δ"}
_GREEK_NAME = re.compile(r"(?<!\\)\b(sigma|lambda|beta|epsilon|delta)\b(?= ?=? ?\d)")  # not \sigma, beta1


def as_shown(text: str) -> str:
    """A string for the text (a glued string, a check's words, a table's header), with its
    numbers typeset as :func:`number` typesets them.

    A string that is one number as Python formats it (``f"{x:.2f}"``, ``"1e-05"``) is
    typeset by :func:`tidy` (``"−0.41"``, ``"10⁻⁵"``, no negative zero). In any other string:
    numbers in e-notation are typeset (``"below 1e-10"`` → ``"below 10⁻¹⁰"``), powers written
    with a caret are raised (``"2^784"`` → ``"2⁷⁸⁴"``), an ``x`` between numbers is a times sign
    (``"784 x 20"`` → ``"784 × 20"``), ``sqrt(`` is ``√(``, ``Z-hat`` is ``Ẑ``, a Greek letter
    spelled out before its value is the letter (``"sigma = 0.1"`` → ``"σ = 0.1"``), and a hyphen
    right before a digit, at the start or after a space, a bracket or a relation, becomes a
    minus (``"(-0.2, 0.3)"`` → ``"(−0.2, 0.3)"``); hyphens inside words and ranges
    (``"CD-1"``, ``"10-20"``) stay.

    >>> as_shown("-0.41 nats")
    '−0.41 nats'
    >>> as_shown("CD-1, 2^16 states of a 784 x 20 RBM, error below 1e-10")
    'CD-1, 2¹⁶ states of a 784 × 20 RBM, error below 10⁻¹⁰'
    """
    if text == text.strip():  # one number (a literal with spaces around it keeps them)
        try:
            whole = tidy(text)
        except ValueError:  # "inf", "none" as words: no number to typeset
            whole = None
        if whole is not None and whole.tex is not None:
            return whole.text
    text = _E_NUMBER.sub(lambda m: tidy(m.group(0)).text, text)
    text = _CARET.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    text = _TIMES.sub(lambda m: (m.group(1) or "") + "×", text)
    text = _SQRT.sub("√(", text).replace("Z-hat", "Ẑ")
    text = _GREEK_NAME.sub(lambda m: _GREEK[m.group(1)], text)  # "sigma = 0.1" is σ = 0.1
    return _HYPHEN_MINUS.sub(MINUS, text)


def tidy(formatted: str) -> Typeset:
    """Typeset a string that Python's ``format`` produced (``"8.9e-16"``, ``"-0.000"``,
    ``"1,024"``, ``"12.5%"``, ``"0.016"``).

    Numbers get a real minus sign (a ``+`` that the format asked for, ``"+.2f"``, stays),
    ``× 10ⁿ`` for an exponent and no negative zero; any other
    string is returned as text only (its TeX is None)."""
    s = formatted.strip()
    if s.lower().lstrip("+-") in {"nan", "inf", "infinity", "none"}:
        raise ValueError(f"refusing to typeset {formatted!r}")
    zero = _NEGATIVE_ZERO.match(s)
    if zero:
        s = zero.group(1) + zero.group(2)
    m = _EXPONENT.match(s)
    if m:
        sign = {"-": MINUS, "+": "+"}.get(m["sign"] or "", "")  # a "+" the format asked for stays
        tex_sign = {"-": "-", "+": "+"}.get(m["sign"] or "", "")
        exp = int(m["exp"])
        mantissa = m["mantissa"]
        if float(mantissa) == 0:
            return Typeset("0" + m["suffix"], "0" + _tex_mantissa(m["suffix"]))
        if exp == 0:
            return Typeset(sign + mantissa + m["suffix"], tex_sign + _tex_mantissa(mantissa + m["suffix"]))
        power = "10" + str(exp).translate(_SUPERSCRIPT)
        if mantissa in {"1", "1."}:
            text, tex = sign + power, tex_sign + f"10^{{{exp}}}"
        else:
            text, tex = f"{sign}{mantissa} × {power}", f"{tex_sign}{mantissa} \\times 10^{{{exp}}}"
        return Typeset(text + m["suffix"], tex + _tex_mantissa(m["suffix"]))
    if _NUMBER.match(s):
        sign = s[0] if s[0] in "+-" else ""  # a "+" the format asked for stays
        body = s.lstrip("+-")
        return Typeset({"-": MINUS}.get(sign, sign) + body, sign + _tex_mantissa(body))
    return Typeset(s, None)


def _auto_text(value: float, digits: int) -> str:
    """``value`` with ``digits`` significant digits and no trailing zeros: fixed notation
    between 0.001 and 100,000 (grouped by thousands), ``e`` notation outside it."""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if -3 <= magnitude < 5:
        decimals = max(0, digits - 1 - magnitude)
        text = f"{value:,.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


def number(value: object, spec: str = "", *, digits: int = 3, unit: str | None = None) -> Typeset:
    """Format one number for the text.

    Args:
        value: an int, float, numpy scalar or one-element tensor (not NaN, inf or None).
        spec: a Python format spec (``".3f"``, ``",d"``, ``".1e"``, ``".0%"``); empty: integers
            in full (grouped by thousands: 1,024) and floats with ``digits`` significant
            digits (trailing zeros dropped), fixed between 0.001 and 100,000, ``× 10ⁿ`` outside.
        digits: significant digits when ``spec`` is empty.
        unit: a unit written after the number (``"nats"``, ``"s"``), with a no-break space.

    Returns:
        A :class:`Typeset` (``.text`` Unicode, ``.tex`` TeX).

    >>> number(8.9e-16).text
    '8.9 × 10⁻¹⁶'
    >>> number(-0.0001, ".3f").text
    '0.000'
    """
    value = plain_value(value)
    _refuse_non_finite(value, "the value")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value must be a real number, got {type(value).__name__}: {value!r}")
    if not spec:
        if isinstance(value, numbers.Integral):
            spec = ",d"
        else:
            return _with_unit(tidy(_auto_text(float(value), digits)), unit)
    elif spec[-1:] in {"d", "n"} and not isinstance(value, numbers.Integral):
        if float(value) != int(float(value)):
            raise ValueError(f"{value} is not an integer but the format {spec!r} is for integers")
        value = int(float(value))
    return _with_unit(tidy(format(value, spec)), unit)


def _with_unit(out: Typeset, unit: str | None) -> Typeset:
    if not unit:
        return out
    return Typeset(f"{out.text}\u00a0{unit}", f"{out.tex}\\ \\text{{{unit}}}")


def power(base: int | float, exponent: int | float) -> Typeset:
    """``base`` to the ``exponent`` as written, not evaluated: ``power(2, 784)`` is ``2⁷⁸⁴``
    (TeX ``2^{784}``)."""
    for name, v in (("base", base), ("exponent", exponent)):
        v = plain_value(v)
        _refuse_non_finite(v, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {v!r}")
    b, e = tidy(f"{plain_value(base):g}"), f"{plain_value(exponent):g}"
    text_e = e.translate(_SUPERSCRIPT) if re.fullmatch(r"-?\d+", e) else f"^{e}"
    return Typeset(f"{b.text}{text_e}", f"{b.tex}^{{{e}}}")
