"""Results as tables a reader can use: formatted per column, units in the header, "—" where a
value does not apply, integers as integers, ``mean ± std`` on one line, and a box that scrolls
sideways on a phone instead of the page.

    tab = book.table(rows, formats={"test LL": ".2f", "updates": ",d"},
                     units={"test LL": "nats", "time": "ms"}, best={"test LL": "max"})
    ch.glue(tab_rbm=tab)          # shown in the text by a {glue-table} block with its caption
    tab                           # or shown under the cell

NaN, None and pandas' NA are "—" (not applicable); inf is refused unless ``inf=`` says what it
means (``inf="never"``); strings such as "nan" are refused. Nothing else is rendered.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .numbers import Typeset, as_shown, number, plain_value, tidy

__all__ = ["Table", "table", "mean_std"]

MISSING = "\u2014"  # em dash
_BAD_STRINGS = {"nan", "none", "inf", "-inf", "+inf", "infinity", "null", "<na>", "nat"}
Spec = str | Callable[[object], object]


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """``(mean, sample standard deviation)`` of ``values`` (the std is None for one value), for a
    ``mean ± std`` cell."""
    xs = [float(plain_value(v)) for v in values]
    if not xs:
        raise ValueError("mean_std needs at least one value")
    mean = sum(xs) / len(xs)
    if len(xs) == 1:
        return mean, None
    return mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    name = type(value).__name__
    return name in {"NAType", "NaTType"}


def _is_int_spec(spec: Spec | None) -> bool:
    return isinstance(spec, str) and spec[-1:] in {"d", "n"}


def _column_spec(values: list[object]) -> str | None:
    """The default format of a column: integers in full; floats with two decimals, or in
    ``× 10ⁿ`` form when they are all tiny or some are huge."""
    nums: list[Any] = []
    for v in values:
        for x in v if isinstance(v, tuple) else (v,):
            x = plain_value(x)
            if isinstance(x, numbers.Real) and not isinstance(x, bool) and not _is_missing(x) and math.isfinite(x):
                nums.append(x)
    if not nums:
        return None
    if all(isinstance(x, numbers.Integral) for x in nums):
        return ",d"
    biggest = max(abs(x) for x in nums)
    if biggest >= 1e6 or 0 < biggest < 1e-2:
        return ".2e"
    return ".2f"


class Table:
    """A formatted table (build it with :func:`table`): ``header`` names, ``units``, ``cells``
    (strings as shown), ``numeric`` (right-aligned columns) and ``bold`` cells."""

    def __init__(
        self,
        header: list[str],
        units: list[str | None],
        cells: list[list[str]],
        numeric: list[bool],
        bold: set[tuple[int, int]] | None = None,
    ) -> None:
        self.header, self.units, self.cells, self.numeric = header, units, cells, numeric
        self.bold = bold or set()

    def __len__(self) -> int:
        return len(self.cells)

    def _repr_html_(self) -> str:
        pad = "padding:0.3em 0.75em"
        head = []
        for name, unit, num in zip(self.header, self.units, self.numeric):
            unit_html = (
                f'<br><span class="ebm-unit" style="font-weight:400;opacity:0.75">{html.escape(unit)}</span>'
                if unit
                else ""
            )
            head.append(
                f'<th style="{pad};text-align:{"right" if num else "left"};'
                f'vertical-align:bottom;border-bottom:1.5px solid currentColor">'
                f"{html.escape(name)}{unit_html}</th>"
            )
        body = []
        for i, row in enumerate(self.cells):
            tds = []
            for j, (text, num) in enumerate(zip(row, self.numeric)):
                weight = ";font-weight:700" if (i, j) in self.bold else ""
                tds.append(
                    f'<td style="{pad};text-align:{"right" if num else "left"};'
                    f'white-space:nowrap{weight}">{html.escape(text)}</td>'
                )
            body.append("<tr>" + "".join(tds) + "</tr>")
        return (
            '<div class="ebm-table-wrap" style="overflow-x:auto;max-width:100%">'
            '<table class="ebm-table" style="border-collapse:collapse;margin:0;'
            'font-variant-numeric:tabular-nums;line-height:1.35">'
            f"<thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        header = [n + (f" ({u})" if u else "") for n, u in zip(self.header, self.units)]
        rows = [header] + self.cells
        widths = [max(len(r[j]) for r in rows) for j in range(len(header))]

        def line(r):
            return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, self.numeric)).rstrip()

        return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in self.cells])

    def to_markdown(self) -> str:
        """The table as a Markdown pipe table (units in the header cells)."""
        header = [n + (f" ({u})" if u else "") for n, u in zip(self.header, self.units)]
        align = ["---:" if num else ":---" for num in self.numeric]
        esc = [[c.replace("|", "\\|") for c in r] for r in [header] + self.cells]
        lines = ["| " + " | ".join(esc[0]) + " |", "| " + " | ".join(align) + " |"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in esc[1:]])


def _rows_of(rows: object, index: str | None) -> tuple[list[str], list[dict]]:
    """(keys in order, rows as dicts) from a DataFrame, a list of dicts or a dict of columns."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns") and hasattr(rows, "index"):  # pandas
        frame = rows
        keys = [str(c) for c in frame.columns]
        if isinstance(frame.columns[0] if len(frame.columns) else "", tuple):
            raise ValueError("a DataFrame with a MultiIndex header: flatten its columns first")
        records = [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]
        default_index = type(frame.index).__name__ == "RangeIndex" and frame.index.name is None
        if not default_index or index is not None:
            label = index if index is not None else (frame.index.name or "")
            keys = [label] + keys
            for r, i in zip(records, frame.index):
                r[label] = i
        return keys, records
    if isinstance(rows, Mapping):
        lengths = {len(v) for v in rows.values()}
        if len(lengths) > 1:
            raise ValueError(f"the columns have different lengths: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        return [str(k) for k in rows], [{str(k): v[i] for k, v in rows.items()} for i in range(n)]
    if isinstance(rows, Sequence) and not isinstance(rows, str):
        keys = []
        records = []
        for r in rows:
            if not isinstance(r, Mapping):
                raise TypeError(f"rows must be dicts, got {type(r).__name__}")
            records.append({str(k): v for k, v in r.items()})
            keys += [str(k) for k in r if str(k) not in keys]
        return keys, records
    raise TypeError(f"rows must be a DataFrame, a list of dicts or a dict of columns, got {type(rows).__name__}")


def table(
    rows: object,
    columns: Sequence[str] | Mapping[str, str] | None = None,
    *,
    formats: Mapping[str, Spec] | None = None,
    units: Mapping[str, str] | None = None,
    index: str | None = None,
    inf: str | None = None,
    best: Mapping[str, str] | None = None,
) -> Table:
    """Format ``rows`` as a :class:`Table` (HTML under a cell or glued; text in a terminal).

    Args:
        rows: a pandas DataFrame (an index other than 0..n-1 becomes the first column, headed
            ``index`` or the index's name), a list of dicts (one per row) or a dict of columns.
        columns: the columns to show, in order; a dict maps each key to its header.
        formats: per column, a format spec (``".2f"``, ``",d"``, ``".1%"``, ``".1e"``) or a
            function of the value returning a string. Default: integers in full, floats with
            two decimals (``× 10ⁿ`` when tiny or huge). A float in an integer column (``"d"``)
            is rounded. A cell holding a pair ``(mean, std)`` shows ``mean ± std`` on one
            line, both in the column's format (a std of None or NaN: the mean alone).
        units: per column, a unit shown under its header (``"nats"``, ``"ms"``).
        index: the header of the index column of a DataFrame.
        inf: the text for an infinite value (``"never"``, ``"diverged"``); None refuses inf.
        best: per column, ``"max"`` or ``"min"``: that column's best value in bold.

    Raises:
        ValueError: an infinite value without ``inf=``, a string such as "nan" in a cell, an
            unknown column, or a non-integral value where an integer format was asked for.
    """
    keys, records = _rows_of(rows, index)
    if columns is None:
        shown, headers = keys, keys
    elif isinstance(columns, Mapping):
        shown, headers = [str(k) for k in columns], [str(v) for v in columns.values()]
    else:
        shown = [str(k) for k in columns]
        headers = shown
    for name, mapping in (("columns", shown), ("formats", formats or {}), ("units", units or {}), ("best", best or {})):
        unknown = [k for k in mapping if k not in keys]
        if unknown:
            raise ValueError(f"{name} names unknown columns {unknown}; the columns are {keys}")
    formats, units, best = dict(formats or {}), dict(units or {}), dict(best or {})
    for key, how in best.items():
        if how not in {"max", "min"}:
            raise ValueError(f"best[{key!r}] must be 'max' or 'min', got {how!r}")

    cells: list[list[str]] = [[] for _ in records]
    numeric, unit_list, bold = [], [], set()
    for j, key in enumerate(shown):
        column = [r.get(key) for r in records]
        spec = formats.get(key, _column_spec(column))
        is_numeric = False
        scores = []
        for i, value in enumerate(column):
            text, num, score = _cell(value, spec, key, i, inf)
            cells[i].append(text)
            is_numeric |= num
            scores.append(score)
        numeric.append(is_numeric)
        unit_list.append(units.get(key))
        if key in best:
            valid = [(s, i) for i, s in enumerate(scores) if s is not None]
            if valid:
                target = (max if best[key] == "max" else min)(s for s, _ in valid)
                bold |= {(i, j) for s, i in valid if s == target}
    headers = [as_shown(h) for h in headers]  # "log Z-hat", "1e-3", "784 x 20" typeset
    unit_list = [None if u is None else as_shown(u) for u in unit_list]
    return Table(headers, unit_list, cells, numeric, bold)


def _one(value: object, spec: Spec | None, where: str, inf: str | None) -> tuple[str, bool, float | None]:
    value = plain_value(value)
    if _is_missing(value):
        return MISSING, False, None
    if isinstance(value, Typeset):
        return value.text, True, None
    if isinstance(value, str):
        if value.strip().lower() in _BAD_STRINGS:
            raise ValueError(
                f"{where} holds the string {value!r}; use None for a value that does not apply (shown as —)"
            )
        return as_shown(value), False, None
    if isinstance(value, bool):
        return ("yes" if value else "no"), False, None
    if isinstance(value, numbers.Real):
        if math.isinf(value):
            if inf is None:
                raise ValueError(
                    f"{where} is {value}; pass inf='...' to say what an infinite value "
                    "means (e.g. 'never'), or fix the computation"
                )
            return inf, True, None
        if callable(spec):
            out = spec(value)
            return (out.text if isinstance(out, Typeset) else str(out)), True, float(value)
        if _is_int_spec(spec) and not isinstance(value, numbers.Integral):
            value = int(round(value))
        if spec is None:
            return number(value).text, True, float(value)
        if isinstance(value, numbers.Integral) and not _is_int_spec(spec) and spec[-1:] not in {"e", "%"}:
            return number(value, ",d").text, True, float(value)
        return tidy(format(value, spec)).text, True, float(value)
    if callable(spec):
        out = spec(value)
        return (out.text if isinstance(out, Typeset) else str(out)), False, None
    raise TypeError(
        f"{where} is a {type(value).__name__}; give a number, a string, None or a "
        "(mean, std) pair, or a function in formats= that formats it"
    )


def _cell(value: object, spec: Spec | None, key: str, i: int, inf: str | None):
    where = f"column {key!r}, row {i}"
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{where}: a tuple cell must be (mean, std), got {len(value)} items")
        mean, std = value
        m_text, num, score = _one(mean, spec, where, inf)
        if m_text == MISSING or _is_missing(plain_value(std)):
            return m_text, num, score
        # a spread has no sign: a "+" asked of the column (signed means) is not shown on it
        s_spec = spec.replace("+", "", 1) if isinstance(spec, str) else spec
        s_text, _, _ = _one(std, s_spec, where + " (std)", inf)
        return f"{m_text}\u00a0±\u00a0{s_text}", True, score
    return _one(value, spec, where, inf)
