"""Reading a CSV file as an operator hands it over: every problem found where it starts.

The shared ground of the CSV imports (:mod:`collectors.csv_import`): the header with
unique, required columns; rows with their physical line numbers; a byte that is not
UTF-8 reported at its line (GBK from a Chinese Excel and UTF-16 named, with the fix); a
quoted field that runs across lines reported where it starts; a NUL reported once;
values cut when echoed; numbers as plain ASCII decimals only.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

@dataclass
class Table:
    path: str
    header: dict[str, int]  # column name -> index; names are unique
    width: int  # fields per row, as in the header
    rows: list[list[str]]
    lines: list[int]


def show(text: str, limit: int = 40) -> str:
    """A field as echoed in an error: quoted, and cut when long (a runaway field is not pasted back)."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text)} characters)"


def _decode_problem(path: Path, name: str) -> str:
    """Why a file is not UTF-8, with the line of the first bad byte (found only on this error path)."""
    with path.open("rb") as fh:
        head = fh.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            return f"{name}:1: the file is UTF-16 text: save it as UTF-8 (CSV UTF-8)"
        fh.seek(0)
        for line, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                col = exc.start + 1
                try:
                    text = raw.decode("gb18030")
                    looks_gbk = any("\u4e00" <= ch <= "\u9fff" for ch in text)
                except UnicodeDecodeError:
                    looks_gbk = False
                if looks_gbk:
                    return (f"{name}:{line}: byte {col} of the line is not UTF-8; the file looks like GBK "
                            "(as Chinese Excel saves CSV): save it as UTF-8 (另存为 → CSV UTF-8)")
                return f"{name}:{line}: byte {col} of the line is not UTF-8 ({exc.reason}): save the file as UTF-8"
    return f"{name}: not UTF-8 text"


# Numbers are plain ASCII decimals: no digit separators (1_0), no full-width or other scripts' digits,
# no inf/nan; an exponent is allowed (exporters write 1.5e-05).
_DECIMAL = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DECIMAL_RE = re.compile(_DECIMAL)
DECIMAL_CHARS = b"0123456789.+-eE"
PLAIN = "plain decimals only: ASCII digits 0-9 and '.', e.g. 12.5"


def plain_decimal(text: str) -> float:
    """``text`` as a float if it is a plain ASCII decimal, else ValueError (``float`` takes 1_0 and ８)."""
    if not _DECIMAL_RE.fullmatch(text):
        raise ValueError(text)
    return float(text)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def read(path: Path, required: tuple[str, ...], problems: list[tuple[int, str]]) -> Table | None:
    """The header and rows of a CSV, or None with the problem that makes the file unreadable.

    Problems that make every later line suspect are reported once, where they start: a byte that is
    not UTF-8, a quote that opens a field and runs across lines, a control character (NUL)."""
    name = str(path)
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        problems.append((0, f"{name}: cannot open: {exc.strerror}"))
        return None
    with fh:
        reader = csv.reader(fh)
        last = 0  # the line the current row started after
        try:
            header = next(reader, None)
            if header is None:
                problems.append((1, f"{name}:1: header: file is empty; expected columns {','.join(required)}"))
                return None
            if _CONTROL.search("".join(header)):
                problems.append((1, f"{name}:1: header: contains control characters (NUL): the file looks like "
                                    "UTF-16 or binary: save it as UTF-8 CSV"))
                return None
            cols: dict[str, int] = {}
            for i, h in enumerate(header):
                if h.strip() in cols:
                    # two columns of one name: which one is meant? (no guessing: nothing is read)
                    problems.append((1, f"{name}:1: header: column {show(h.strip())} appears twice "
                                        f"(columns {cols[h.strip()] + 1} and {i + 1})"))
                    return None
                cols[h.strip()] = i
            missing = [c for c in required if c not in cols]
            if missing:
                problems.append((1, f"{name}:1: header: missing column(s) {', '.join(missing)}"))
                return None
            rows, lines = [], []
            last = reader.line_num
            for row in reader:
                if reader.line_num != last + 1 and row:  # a quoted field ran across lines
                    problems.append((last + 1, _runaway(name, header, row, last + 1, reader.line_num)))
                    return None
                last = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                rows.append(row)
                lines.append(last)
            if rows and any("\n" in f or "\r" in f for f in rows[-1]):  # a quote opened on the last line
                problems.append((lines[-1], _runaway(name, header, rows[-1], lines[-1], lines[-1])))
                return None
        except UnicodeDecodeError:
            problems.append((0, _decode_problem(path, name)))
            return None
        except csv.Error as exc:
            if reader.line_num > last + 1:  # a field that ran on until the csv module gave up
                problems.append((last + 1, f"{name}:{last + 1}: a quoted field starts on this line and is not "
                                           f"closed by line {reader.line_num} ({exc}); close the quote (\") "
                                           "or remove it"))
            else:
                problems.append((reader.line_num, f"{name}:{reader.line_num}: {exc}"))
            return None
    width = len(header)
    for row, line in zip(rows, lines):
        if len(row) != width:
            problems.append((line, f"{name}:{line}: row has {len(row)} fields, the header has {width}"))
    return Table(name, cols, len(header), rows, lines)


def control_problem(table: Table) -> tuple[int, str] | None:
    """The first control character (a NUL: a binary or UTF-16 file) in any field, reported once."""
    for row, line in zip(table.rows, table.lines):
        for i, f in enumerate(row):
            m = _CONTROL.search(f)
            if m:
                column = next((c for c, j in table.header.items() if j == i), f"field {i + 1}")
                what = "a NUL byte" if m.group() == "\x00" else f"control character {m.group()!r}"
                return (line, f"{table.path}:{line}: {column}: contains {what}; is this a UTF-8 CSV text file? "
                              "(reported once: the rest of the file is not checked)")
    return None


def _runaway(name: str, header: list[str], row: list[str], first: int, last: int) -> str:
    """Where a quoted field that spans lines starts: the field, not the end of the file."""
    i = next((i for i, f in enumerate(row) if "\n" in f or "\r" in f), len(row) - 1)
    column = header[i].strip() if i < len(header) else f"field {i + 1}"
    runs = f"runs to line {last}" if last > first else "runs to the end of the file"
    return (f"{name}:{first}: {column}: a quoted field starts on this line and {runs} "
            f"({show(row[i])}); close the quote (\") or remove it")
