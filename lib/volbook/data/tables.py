"""Reading a user's table file: CSV dialects, vendor quirks, numbers and dates from text.

Shared by every file source (:mod:`volbook.data.files`, :mod:`volbook.data.intraday`,
:mod:`volbook.data.oxford_man`). What is read, and what is refused with one line that
starts with the file's path:

* ``.csv`` / ``.txt`` (also gzip-compressed, ``.csv.gz``) and ``.parquet`` / ``.pq``; a
  directory, a missing file, an empty file or another type is refused, naming the problem.
* The separator is detected from the header line: ``,``, ``;``, tab or ``|``.
* Lines before the header (a vendor's disclaimer or title) are skipped: the header is the
  first of the first 30 lines that contains one of the expected column names.
* A row with more fields than the header is refused naming its line number (a stray
  separator, e.g. an unquoted ``1,234.50`` in a comma-separated file).
* Text that is not UTF-8 (a Windows "ANSI" export) is refused with the line and the fix.

Numbers (:func:`parse_numbers`): surrounding spaces; thousands separators; decimal commas in
``;``- or tab-separated files (``1.234,50`` is 1234.5), or anywhere with ``decimal=","``.
Dates (:func:`parse_dates`): ``YYYY-MM-DD``, ``MM/DD/YYYY``, ``DD/MM/YYYY`` or ``DD.MM.YYYY``
detected from the whole column (four-digit years only), or a ``date_format``.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from volbook.errors import DataError, ParameterError

__all__ = ["Table", "detect_decimal", "normalize", "parse_dates", "parse_numbers", "read_table"]

_SEPARATORS = (",", ";", "\t", "|")
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_HEADER_LINES = 30
_CSV = (".csv", ".txt", ".csv.gz", ".txt.gz")
_PARQUET = (".parquet", ".pq")

# (format, what the text must look like): four-digit years only, so "1/2/20" is not year 20
_DATE_FORMATS = (
    ("%Y-%m-%d", r"^\d{4}-\d{1,2}-\d{1,2}$"),
    ("%m/%d/%Y", r"^\d{1,2}/\d{1,2}/\d{4}$"),
    ("%d/%m/%Y", r"^\d{1,2}/\d{1,2}/\d{4}$"),
    ("%d.%m.%Y", r"^\d{1,2}\.\d{1,2}\.\d{4}$"),
)
_GROUPED = {  # a number with thousands separators, given the decimal mark
    ".": r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$",
    ",": r"^[+-]?\d{1,3}(\.\d{3})+(,\d*)?$",
}


def normalize(header: str) -> str:
    """A header as matched against aliases: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", header.lower())


@dataclass(frozen=True)
class Table:
    """A file read as a frame: text columns for CSV (typed for parquet), its name for
    messages and its separator (None for parquet)."""

    frame: pl.DataFrame
    name: str
    separator: str | None


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] == ".gz":
        return "".join(suffixes)
    return suffixes[-1] if suffixes else ""


def _check_path(path: Path, name: str) -> str:
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if _suffix(p) in _CSV + _PARQUET)
        listed = f" (it holds {', '.join(inside[:5])}{', ...' if len(inside) > 5 else ''})" if inside else ""
        raise DataError(f"{name}: is a directory, not a file; pass the CSV or parquet file itself{listed}")
    if not path.is_file():
        raise DataError(f"{name}: no such file")
    suffix = _suffix(path)
    if suffix not in _CSV + _PARQUET:
        raise DataError(f"{name}: unsupported file type '{path.suffix}' (use .csv or .parquet)")
    return suffix


def _bytes(path: Path, name: str) -> tuple[bytes, str]:
    """The file's bytes (decompressed) and their first lines as text; refuses non-UTF-8."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"{name}: cannot decompress the file ({exc})") from exc
    if raw[:3] == b"\xef\xbb\xbf":
        raw = raw[3:]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{name}: is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save it "
            "as UTF-8 (Excel: 'CSV UTF-8') or convert it, e.g. iconv -f cp1252 -t utf-8"
        ) from None
    return raw, raw[: 1 << 16].decode("utf-8", errors="ignore")


def _find_header(lines: list[str], aliases: Collection[str]) -> tuple[int, str]:
    """(line index, separator) of the first line with one of ``aliases`` as a field; else
    (0, the most frequent separator of the first line)."""
    for i, line in enumerate(lines[:_HEADER_LINES]):
        found = []
        for sep in _SEPARATORS:
            fields = next(csv.reader([line], delimiter=sep), [])
            if any(normalize(f) in aliases for f in fields):
                found.append((len(fields), sep))
        if found:
            return i, max(found)[1]
    first = lines[0] if lines else ""
    return 0, max(_SEPARATORS, key=lambda s: (first.count(s), s == ","))


def _ragged_line(text: str, sep: str, skip: int, name: str) -> DataError | None:
    """The first line with more fields than the header, as a one-line error."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    width = None
    for row in reader:
        if reader.line_num <= skip:
            continue
        if width is None:
            width = len(row)
        elif len(row) > width:
            return DataError(
                f"{name}: line {reader.line_num} has {len(row)} fields but the header has {width}; "
                f"a stray {_SEPARATOR_NAMES[sep]} inside a value? Quote that value or remove the extra field"
            )
    return None


def read_table(path: str | Path, *, aliases: Collection[str]) -> Table:
    """Read a CSV or parquet file as a frame of text columns (CSV) or typed columns (parquet).

    Parameters
    ----------
    path
        The file (``~`` is expanded).
    aliases
        Normalized (:func:`normalize`) names of which at least one is in the header line,
        e.g. the date column's aliases: they find the header line and the separator.

    Raises
    ------
    DataError
        A directory, a missing, empty, non-UTF-8 or unreadable file, an unsupported type,
        a row with more fields than the header (named by line), no rows.
    """
    path = Path(path).expanduser()
    name = str(path)
    suffix = _check_path(path, name)
    if suffix in _PARQUET:
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise DataError(f"{name}: cannot read the parquet file ({str(exc).splitlines()[0]})") from exc
        separator = None
    else:
        raw, head = _bytes(path, name)
        lines = head.splitlines()
        if not raw.strip():
            raise DataError(f"{name}: the file is empty")
        skip, separator = _find_header(lines, aliases)
        try:
            frame = pl.read_csv(raw, separator=separator, skip_rows=skip, infer_schema=False)
        except pl.exceptions.PolarsError as exc:
            ragged = _ragged_line(raw.decode("utf-8"), separator, skip, name)
            if ragged is not None:
                raise ragged from exc
            raise DataError(f"{name}: cannot read the file ({str(exc).splitlines()[0]})") from exc
        # a trailing separator on every line makes an empty last header: drop that column
        frame = frame.drop([c for c in frame.columns if c.strip() == "" and frame[c].null_count() == frame.height
                            and c != frame.columns[0]])
    if frame.height == 0:
        raise DataError(f"{name}: no rows below the header")
    return Table(frame, name, separator)


def detect_decimal(table: Table, headers: Collection[str], decimal: str | None = None) -> str:
    """The decimal mark of a file's number columns ``headers``: ``decimal`` when given, else
    ``","`` when the file is not comma-separated and one of those columns holds a comma,
    else ``"."``. One mark per file, so ``1.000`` in a volume column of a file with decimal
    commas is a thousand."""
    if decimal is not None:
        if decimal not in (".", ","):
            raise ParameterError(f"decimal must be '.' or ',', got {decimal!r}")
        return decimal
    if table.separator in (",", None):
        return "."
    text = [c for c in headers if table.frame[c].dtype == pl.String]
    comma = table.frame.select(pl.any_horizontal(pl.col(c).str.contains(",", literal=True).any() for c in text))
    return "," if text and comma.item() else "."


def parse_numbers(column: pl.Series, name: str, *, decimal: str | None = None,
                  separator: str | None = ",") -> pl.Series:
    """A text column as Float64 (a numeric column is returned as it is).

    Parameters
    ----------
    column
        The values; surrounding spaces are ignored, empty text is null.
    name
        The file, for messages.
    decimal
        ``"."`` or ``","``; None: a comma is the decimal mark when the file is not
        comma-separated and some value holds a comma, else the point. Thousands separators
        (``,`` with a decimal point, ``.`` with a decimal comma) are removed when they
        group digits by three.
    separator
        The file's separator (None for parquet).

    Raises
    ------
    DataError
        A value that is not a number under that reading, quoting the value and the fix.
    """
    if column.dtype != pl.String:
        return column
    if decimal not in (None, ".", ","):
        raise ParameterError(f"decimal must be '.' or ',', got {decimal!r}")
    text = column.str.strip_chars()
    text = text.set(text == "", None) if text.len() else text
    if decimal is None:
        comma = separator not in (",", None) and bool(text.str.contains(",").any())
        decimal = "," if comma else "."
    grouped = _GROUPED[decimal]
    thousands = "," if decimal == "." else "."
    cleaned = pl.select(
        pl.when(text.str.contains(grouped)).then(text.str.replace_all(thousands, "", literal=True)).otherwise(text)
    ).to_series()
    if decimal == ",":  # a point left after removing thousands separators is not a number here
        cleaned = cleaned.set(cleaned.str.contains(".", literal=True).fill_null(False), None)
        cleaned = cleaned.str.replace_all(",", ".", literal=True)
    values = cleaned.cast(pl.Float64, strict=False)
    bad = text.filter(text.is_not_null() & values.is_null())
    if bad.len():
        value = bad[0]
        if decimal == "." and re.fullmatch(r"[+-]?\d+,\d+", value):
            hint = "; a decimal comma? pass decimal=\",\" or save the file with ';' separators"
        elif decimal == "," and "." in value:
            hint = "; the column mixes decimal commas and points: pass decimal=\".\" or decimal=\",\""
        else:
            hint = ""
        raise DataError(f"{name}: column '{column.name}' has a non-numeric value '{value}'{hint}")
    return values.alias(column.name)


def within_dates(frame: pl.DataFrame, column: str, start: dt.date | None, end: dt.date | None, name: str,
                 what: str = "rows") -> pl.DataFrame:
    """The rows of ``frame`` whose ``column`` lies from ``start`` to ``end`` (either may be None);
    a one-line :class:`DataError` naming the span when none are left."""
    if start is not None:
        frame = frame.filter(pl.col(column) >= start)
    if end is not None:
        frame = frame.filter(pl.col(column) <= end)
    if frame.height == 0:
        raise DataError(f"{name}: no {what} from {start or 'the start'} to {end or 'the end'}")
    return frame


def parse_dates(column: pl.Series, name: str, date_format: str | None = None) -> pl.Series:
    """A text column of dates as pl.Date (other dtypes are returned as they are).

    Without ``date_format`` the format is detected from the whole column among
    ``YYYY-MM-DD``, ``MM/DD/YYYY`` and ``DD/MM/YYYY`` (four-digit years); slash dates that
    read both ways (no day above 12) are refused as ambiguous.
    """
    header = column.name
    if column.dtype != pl.String:
        if date_format is not None:
            raise ParameterError(
                f"date_format applies to text dates; column '{header}' of {name} holds {column.dtype}"
            )
        return column
    text = column.str.strip_chars()
    present = text.is_not_null()
    if date_format is not None:
        parsed = text.str.strptime(pl.Date, date_format, strict=False)
        bad = text.filter(present & parsed.is_null())
        if bad.len():
            raise DataError(
                f"{name}: column '{header}' has a date '{bad[0]}' that does not match "
                f"date_format '{date_format}'"
            )
        return parsed
    parsed = pl.DataFrame({"text": text}).select(
        **{
            fmt: pl.when(pl.col("text").str.contains(pattern)).then(
                pl.col("text").str.strptime(pl.Date, fmt, strict=False)
            )
            for fmt, pattern in _DATE_FORMATS
        }
    )
    complete = [fmt for fmt in parsed.columns if parsed[fmt].is_not_null().sum() == present.sum()]
    if complete == ["%m/%d/%Y", "%d/%m/%Y"]:
        raise DataError(
            f"{name}: dates in column '{header}' such as '{text.drop_nulls()[0]}' read as "
            "MM/DD/YYYY and as DD/MM/YYYY; pass date_format='%m/%d/%Y' or '%d/%m/%Y'"
        )
    if complete:
        return parsed[complete[0]].alias(header)
    none = text.filter(present & parsed.select(pl.all_horizontal(pl.all().is_null())).to_series())
    if none.len():
        raise DataError(
            f"{name}: column '{header}' has an unparseable date '{none[0]}' "
            "(expected YYYY-MM-DD or MM/DD/YYYY, or pass date_format)"
        )
    raise DataError(f"{name}: column '{header}' mixes date formats; pass date_format")
