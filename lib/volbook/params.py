"""A chapter's parameters: read from its ``parameters`` cell, typed, constrained, checked.

Every chapter has one code cell tagged ``parameters``: one assignment of a literal per line,
each with a comment that describes it and, after a ``;``, declares what values it accepts::

    horizons = [1, 5, 10]  # forecast horizons h in trading days; each in [1, 250], unique, non-empty
    ewma_lambda = 0.94  # RiskMetrics decay; in (0, 1)
    weight_min = 0.0  # smallest weight on the index; in [0, weight_max]
    end = "2022-12-31"  # last date of the sample; date, > start
    path = None  # the CSV or parquet file, for source "file" only; file

The type comes from the default (see :class:`Parameter`). The constraints, separated by
commas, are:

=============================== ===========================================================
``in [a, b]`` / ``(a, b)``      a closed / open interval; ``[a, b)`` and ``(a, b]`` mix them.
                                ``a`` and ``b`` are numbers, ``inf`` / ``-inf``, dates
                                ``YYYY-MM-DD`` or the name of another parameter (a relation,
                                checked against that parameter's value in the same run).
``> x`` / ``< x``               strictly above / below ``x`` (same kinds of ``x``).
``in {a, b, c}``                one of these values.
``in name``                     one of the values of the list parameter ``name`` in the same
                                run (``baseline = "vol_21"  # ...; in models``).
``each <constraint>``           every element of a list satisfies it (``each in [1, 250]``).
``unique``                      a list without repeats.
``non-empty``                   a list with at least one element.
``date``                        a date written ``YYYY-MM-DD``.
``file``                        an existing file. A relative ``-p name=path`` is resolved
                                against the directory ``volbook run`` is called from.
=============================== ===========================================================

A null value of a parameter whose default is None skips its constraints, and so does a
relation to a parameter whose value is null. A comment after an assignment may not contain
``=`` (papermill, which injects the values, misreads such a line), so write ``in [0, 1]``,
not ``>= 0``. :func:`validate_parameters` checks everything before anything runs and raises
a one-line :class:`~volbook.errors.ParameterError` naming the parameter, what it accepts and
what it got.

A chapter that reads data names it with the parameters ``source``, ``path``, ``start``,
``end`` and ``asset`` (one asset) or ``assets`` (several), and declares what else it needs
from the data on a comment line of the cell (papermill skips comment lines)::

    # data: columns=["close"], min_rows=garch_window + max(horizons) + 250

``columns`` are the panel columns the chapter reads besides date, asset and close;
``min_rows`` is an expression over the parameters (numbers, ``+ - * //``, ``max``, ``min``,
``len``) giving the rows it needs. The runner loads the data with them before the kernel
starts (:func:`volbook.runner.check_data`), so a bad file, an unknown asset or too short a
sample is one line up front too. :func:`data_request` reads the line.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import io
import math
import os
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from volbook import _fs
from volbook.errors import DataError, ParameterError

__all__ = [
    "RESULTS_DIR_PARAMETER",
    "Parameter",
    "Rule",
    "DataRequest",
    "data_request",
    "chapter_parameters",
    "validate_parameters",
    "effective_parameters",
]

#: The parameter every chapter has and the runner, not the user, sets.
RESULTS_DIR_PARAMETER = "results_dir"

_SCALAR_KINDS = {"bool": bool, "int": int, "float": float, "str": str}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")
_INTERVAL = re.compile(r"^in\s*([\[(])(.*),(.*)([\])])$")
_CHOICES = re.compile(r"^in\s*\{(.*)\}$")
_BOUND = re.compile(r"^([<>])\s*(\S+)$")
_MEMBER = re.compile(r"^in\s+([A-Za-z_]\w*)$")
_FLAGS = ("unique", "non-empty", "date", "file")


@dataclass(frozen=True)
class Rule:
    """One declared constraint of a parameter.

    ``kind`` is ``"interval"`` (``low``/``high`` with ``closed`` flags; ``>``/``<`` are
    half-infinite intervals), ``"choices"``, ``"member"`` (an element of the list parameter
    named ``within``), or one of ``unique``, ``non-empty``, ``date``, ``file``. ``each``
    applies it to every element of a list. ``text`` is as written.
    """

    text: str
    kind: str
    each: bool = False
    low: Any = None
    high: Any = None
    closed: tuple[bool, bool] = (True, True)
    choices: tuple[Any, ...] = ()
    within: str = ""

    def names(self) -> set[str]:
        """Other parameters this rule refers to."""
        return {b for b in (self.low, self.high, self.within) if isinstance(b, str) and _NAME.match(b)}


@dataclass(frozen=True)
class Parameter:
    """One assignment of a chapter's ``parameters`` cell.

    ``type`` is derived from the default: ``"bool"``, ``"int"``, ``"float"`` (an int is
    accepted), ``"str"``, ``"list[X]"`` for a list of X (X from the elements; ints and floats
    mixed give ``float``), ``"list"`` for an empty list (any scalars), and ``"optional"`` for
    a ``None`` default: null, a number, or else the text as written. ``description`` and
    ``constraints`` are the two parts of the line's comment; ``rules`` the parsed constraints.
    """

    name: str
    default: Any
    type: str
    description: str = ""
    constraints: str = ""
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class DataRequest:
    """The ``# data:`` line of a parameters cell: the columns a chapter needs, and the
    rows (an expression over the parameters, "" for no minimum)."""

    columns: tuple[str, ...] = ("close",)
    min_rows: str = ""

    def rows(self, values: Mapping[str, Any], where: str = "min_rows") -> int:
        """``min_rows`` evaluated with the run's parameter ``values`` (0 without one)."""
        if not self.min_rows:
            return 0
        try:
            rows = _evaluate(ast.parse(self.min_rows, mode="eval").body, values, where)
        except (TypeError, ValueError) as err:
            raise DataError(f"{where}: cannot evaluate '{self.min_rows}': {err}") from None
        if not isinstance(rows, int):
            raise DataError(f"{where}: '{self.min_rows}' is not a whole number of rows")
        return rows


# --------------------------------------------------------------------------- reading


def _parameters_cell(path: Path) -> str:
    cells = [
        c
        for c in _fs.read_notebook(path).cells
        if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
    ]
    if len(cells) != 1:
        raise DataError(f"{path}: expected one code cell tagged 'parameters', found {len(cells)}")
    return cells[0].source


def data_request(notebook: str | Path) -> DataRequest | None:
    """The chapter's ``# data:`` declaration (see the module notes), None without one.

    Raises
    ------
    DataError
        A line that is no ``key=value`` list, an unknown key, columns that are no list of
        names, or a ``min_rows`` expression with other operations or unknown names.
    """
    path = Path(notebook)
    lines = [ln.strip()[len("# data:"):] for ln in _parameters_cell(path).splitlines() if ln.strip().startswith("# data:")]
    if not lines:
        return None
    where = f"{path}: '# data:' line"
    if len(lines) > 1:
        raise DataError(f"{where} appears {len(lines)} times; declare the data once")
    text = lines[0].strip()
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        raise DataError(f"{where}: expected key=value, ... (columns=[...], min_rows=...), got '{text}'") from None
    if call.args:
        raise DataError(f"{where}: expected key=value, ... (columns=[...], min_rows=...), got '{text}'")
    found: dict[str, Any] = {}
    defaults = {n: p.default for n, p in chapter_parameters(path).items()}
    for keyword in call.keywords:
        if keyword.arg == "columns":
            try:
                columns = ast.literal_eval(keyword.value)
            except ValueError:
                columns = None
            if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
                raise DataError(f"{where}: columns must be a list of column names")
            found["columns"] = tuple(columns)
        elif keyword.arg == "min_rows":
            unknown = {n.id for n in ast.walk(keyword.value) if isinstance(n, ast.Name)} - set(defaults) - set(_FUNCTIONS)
            if unknown:
                raise DataError(f"{where}: min_rows names no parameter {', '.join(sorted(unknown))}")
            found["min_rows"] = ast.get_source_segment(f"f({text})", keyword.value) or ""
            DataRequest(min_rows=found["min_rows"]).rows(defaults, where=where)  # only allowed operations
        else:
            raise DataError(f"{where}: unknown key '{keyword.arg}' (known: columns, min_rows)")
    return DataRequest(**found)


_FUNCTIONS = {"max": max, "min": min, "len": len}
_OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
              ast.Mult: lambda a, b: a * b, ast.FloorDiv: lambda a, b: a // b}


def _evaluate(node: ast.AST, values: Mapping[str, Any], where: str = "min_rows") -> Any:
    """A small arithmetic expression over parameter values (see :class:`DataRequest`)."""
    if isinstance(node, ast.Constant) and _is_number(node.value):
        return node.value
    if isinstance(node, ast.Name) and node.id in values:
        return values[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left, values, where), _evaluate(node.right, values, where))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and not node.keywords):
        return _FUNCTIONS[node.func.id](*(_evaluate(a, values, where) for a in node.args))
    raise DataError(f"{where}: '{ast.unparse(node)}' is not allowed (numbers, parameters, + - * //, max, min, len)")


def chapter_parameters(notebook: str | Path) -> dict[str, Parameter]:
    """The parameters of a chapter, read from its one cell tagged ``parameters``.

    The cell is parsed with :mod:`ast`: every statement must be an assignment of a literal
    to one name. The comment at the end of an assignment's line is its description and,
    after a ``;``, its constraints (see the module notes); comment lines are ignored.

    Parameters
    ----------
    notebook : str or Path
        The chapter notebook.

    Returns
    -------
    dict of str to Parameter
        In the order of the cell.

    Raises
    ------
    DataError
        No or several ``parameters`` cells, a statement that is no literal assignment, a
        default of an unsupported type or outside its own constraints, a comment with ``=``,
        an unknown constraint or one naming an unknown parameter.
    """
    path = Path(notebook)
    source = _parameters_cell(path)
    try:
        module = ast.parse(source)
    except SyntaxError as err:
        raise DataError(f"{path}: parameters cell line {err.lineno}: {err.msg}") from None
    comments = _trailing_comments(source)
    out: dict[str, Parameter] = {}
    for stmt in module.body:
        target = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target = stmt.target
        if not isinstance(target, ast.Name):
            raise DataError(
                f"{path}: parameters cell line {stmt.lineno} is not an assignment to one name"
            )
        try:
            default = ast.literal_eval(stmt.value)
        except ValueError:
            raise DataError(
                f"{path}: parameter '{target.id}' (line {stmt.lineno}) is not a literal"
            ) from None
        comment = comments.get(stmt.end_lineno, "")
        if "=" in comment:
            raise DataError(
                f"{path}: parameters cell line {stmt.end_lineno}: the comment contains '=',"
                " which papermill misreads as an assignment; rephrase it (in [a, b] for ranges)"
            )
        description, _, constraints = comment.rpartition(";") if ";" in comment else (comment, "", "")
        where = f"{path}: parameter '{target.id}'"
        rules = _parse_rules(constraints, where)
        kind = _kind_of(default, target.id, path)
        out[target.id] = Parameter(
            target.id, default, kind, description.strip(), constraints.strip(), rules
        )
    for param in out.values():
        for rule in param.rules:
            for name in sorted(rule.names() - set(out)):
                raise DataError(f"{path}: parameter '{param.name}': constraint '{rule.text}' names no parameter '{name}'")
            if rule.kind in ("unique", "non-empty") and not param.type.startswith("list"):
                raise DataError(f"{path}: parameter '{param.name}': '{rule.text}' applies to lists only")
            if rule.kind == "member" and not out[rule.within].type.startswith("list"):
                raise DataError(f"{path}: parameter '{param.name}': constraint '{rule.text}' needs a list,"
                                f" but '{rule.within}' is {out[rule.within].type}")
    defaults = {name: p.default for name, p in out.items()}
    for param in out.values():
        try:
            _check_rules(param, param.default, defaults, path.stem, base=path.parent)
        except ParameterError as err:
            raise DataError(f"{path}: the default breaks its own constraint: {err}") from None
    return out


def _trailing_comments(source: str) -> dict[int, str]:
    """Line number -> text of a comment that follows code on that line."""
    out: dict[int, str] = {}
    code_lines: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                if tok.start[0] in code_lines:
                    out[tok.start[0]] = tok.string.lstrip("#").strip()
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
                code_lines.add(tok.start[0])
    except tokenize.TokenError:  # ast.parse succeeded, so this cannot happen in practice
        pass
    return out


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _parse_bound(token: str, clause: str, where: str) -> Any:
    token = token.strip()
    if token in ("inf", "+inf"):
        return math.inf
    if token == "-inf":
        return -math.inf
    if _DATE.match(token):
        return token
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        pass
    if _NAME.match(token):
        return token  # another parameter
    raise DataError(f"{where}: constraint '{clause}': '{token}' is no number, date or parameter name")


def _parse_choice(token: str) -> Any:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    try:
        return int(token)
    except ValueError:
        try:
            return float(token)
        except ValueError:
            return token


def _parse_rules(text: str, where: str) -> tuple[Rule, ...]:
    rules = []
    for clause in _split_top(text):
        body, each = clause, False
        if clause.startswith("each "):
            body, each = clause[5:].strip(), True
        if body in _FLAGS and not (each and body in ("unique", "non-empty")):
            rules.append(Rule(clause, body, each))
        elif m := _INTERVAL.match(body):
            low, high = (_parse_bound(t, clause, where) for t in (m.group(2), m.group(3)))
            rules.append(Rule(clause, "interval", each, low, high, (m.group(1) == "[", m.group(4) == "]")))
        elif m := _CHOICES.match(body):
            choices = tuple(_parse_choice(t) for t in _split_top(m.group(1)))
            rules.append(Rule(clause, "choices", each, choices=choices))
        elif m := _MEMBER.match(body):
            rules.append(Rule(clause, "member", each, within=m.group(1)))
        elif m := _BOUND.match(body):
            bound = _parse_bound(m.group(2), clause, where)
            low, high = (bound, math.inf) if m.group(1) == ">" else (-math.inf, bound)
            rules.append(Rule(clause, "interval", each, low, high, (False, False)))
        else:
            raise DataError(
                f"{where}: unknown constraint '{clause}' (known: in [a, b], > x, < x,"
                " in {a, b}, in name, each ..., unique, non-empty, date, file)"
            )
    return tuple(rules)


def _kind_of(default: Any, name: str, path: Path) -> str:
    kind = "optional" if default is None else _scalar_kind(default)
    if isinstance(default, list):
        kinds = {_scalar_kind(v) for v in default}
        if not kinds:
            kind = "list"
        elif kinds <= {"int", "float"}:
            kind = "list[float]" if "float" in kinds else "list[int]"
        elif len(kinds) == 1 and None not in kinds:
            kind = f"list[{kinds.pop()}]"
    if kind is None:
        raise DataError(
            f"{path}: parameter '{name}' has a default of unsupported type"
            f" {type(default).__name__} (use str, int, float, bool, None or a list of one of them)"
        )
    return kind


def _scalar_kind(value: Any) -> str | None:
    return next((k for k, cls in _SCALAR_KINDS.items() if type(value) is cls), None)


# --------------------------------------------------------------------------- checking


def validate_parameters(
    notebook: str | Path, overrides: Mapping[str, Any], *, cwd: str | Path | None = None
) -> dict[str, Any]:
    """Check ``-p name=value`` overrides against a chapter's parameters, type them, and
    check every declared constraint of the resulting parameter set.

    Parameters
    ----------
    notebook : str or Path
        The chapter notebook.
    overrides : mapping of str to str or value
        String values are parsed with ``yaml.safe_load`` (``0.9``, ``true``, ``[1, 5]``,
        ``null``); a ``str`` parameter takes the text as written, and so does an
        ``optional`` one unless the text reads as null or a number. Other values are checked
        as they are.
    cwd : str or Path, optional
        Where relative values of ``file`` parameters are resolved (default: the current
        directory); they are returned as absolute paths.

    Returns
    -------
    dict
        The typed overrides, sorted by name (ints given for floats become floats).

    Raises
    ------
    ParameterError
        Unknown name (with the closest known one), a value of the wrong type, a value
        outside its constraints, or ``results_dir``, which the runner sets.
    """
    stem = Path(notebook).stem
    params = chapter_parameters(notebook)
    known = [n for n in params if n != RESULTS_DIR_PARAMETER]
    out: dict[str, Any] = {}
    for name in sorted(overrides):
        raw = overrides[name]
        if name == RESULTS_DIR_PARAMETER:
            raise ParameterError(
                f"parameter '{name}' of chapter {stem} is set by the runner; use --out DIR"
            )
        if name not in params:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ParameterError(
                f"unknown parameter '{name}' for chapter {stem}; {hint}known: {', '.join(known)}"
            )
        value = _coerce(_parse_yaml(raw), raw, params[name].type, name, stem)
        if isinstance(value, str) and any(r.kind == "file" for r in params[name].rules):
            value = str(Path(cwd or Path.cwd()) / Path(value).expanduser())
        out[name] = value
    effective = effective_parameters(params, out)
    for name in [*out, *(n for n in params if n not in out)]:  # the values given first
        _check_rules(params[name], effective[name], effective, stem, base=Path(notebook).parent)
    return out


def effective_parameters(params: Mapping[str, Parameter], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value in a run: the override where given, else the default."""
    return {name: overrides.get(name, p.default) for name, p in params.items()}


def _check_rules(param: Parameter, value: Any, values: Mapping[str, Any], stem: str, *, base: Path) -> None:
    if value is None:
        return
    for rule in param.rules:
        items = value if rule.each and isinstance(value, list) else [value]
        for item in items:
            problem = _break(rule, item, values, base)
            if problem is not None:
                need, got = problem
                every = "every element " if rule.each else ""
                raise ParameterError(
                    f"parameter '{param.name}' of chapter {stem}: {every}must be {need}, got {got}"
                )


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def _break(rule: Rule, value: Any, values: Mapping[str, Any], base: Path) -> tuple[str, str] | None:
    """None when ``value`` satisfies ``rule``, else (what it must be, what it is)."""
    if rule.kind == "non-empty":
        return None if value else ("a non-empty list", "[]")
    if rule.kind == "unique":
        repeats = sorted({v for v in value if value.count(v) > 1}, key=str)
        return None if not repeats else ("free of repeats", f"{_shown(value)} ({', '.join(map(str, repeats))} repeated)")
    if rule.kind == "date":
        try:
            ok = isinstance(value, str) and _DATE.match(value) and dt.date.fromisoformat(value)
        except ValueError:
            ok = False
        return None if ok else ("a date YYYY-MM-DD", _shown(value))
    if rule.kind == "file":
        path = Path(str(value)) if Path(str(value)).is_absolute() else base / str(value)
        if path.is_file():
            return None
        return ("an existing file", f"{path} ({'a directory' if path.is_dir() else 'no such file'})")
    if rule.kind == "member":
        pool = values.get(rule.within)
        if pool is None or value in pool:
            return None
        return (f"one of {rule.within} ({_shown(pool)})", _shown(value))
    if rule.kind == "choices":
        if value in rule.choices:
            return None
        close = difflib.get_close_matches(str(value), [str(c) for c in rule.choices], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return (f"one of {', '.join(map(str, rule.choices))}", f"{_shown(value)}{hint}")
    # interval
    bounds = []
    for bound in (rule.low, rule.high):
        if isinstance(bound, float) and math.isinf(bound):
            bounds.append((None, "inf" if bound > 0 else "-inf"))
        elif isinstance(bound, str) and _NAME.match(bound):
            other = values.get(bound)
            bounds.append((other, f"{bound} ({_shown(other)})"))
        else:
            bounds.append((bound, _shown(bound)))
    (low, low_text), (high, high_text) = bounds
    if rule.low == -math.inf:
        need = f"< {high_text}"
    elif rule.high == math.inf and not rule.closed[0]:
        need = f"> {low_text}"
    else:
        need = f"in {'[' if rule.closed[0] else '('}{low_text}, {high_text}{']' if rule.closed[1] else ')'}"
    try:
        below = low is not None and (value < low if rule.closed[0] else value <= low)
        above = high is not None and (value > high if rule.closed[1] else value >= high)
    except TypeError:
        raise DataError(f"constraint '{rule.text}' compares {_shown(value)} with {need}: types differ") from None
    return (need, _shown(value)) if below or above else None


def _parse_yaml(raw: Any) -> Any:
    """A ``-p`` value read as YAML; text that is not valid YAML stays text."""
    if not isinstance(raw, str):
        return raw
    try:
        return yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError):  # ValueError: a date such as 2001-02-30
        return raw


def _coerce(value: Any, raw: Any, kind: str, name: str, stem: str) -> Any:
    """``value`` as a ``kind`` parameter, or a ParameterError naming what was expected."""
    if kind == "str" and isinstance(raw, str) and not isinstance(value, str):
        return raw
    if kind == "optional":
        if value is None or isinstance(value, str) or _is_number(value):
            return value
        if isinstance(raw, str):
            return raw
    elif kind.startswith("list"):
        element = kind[5:-1] or None
        if isinstance(value, list):
            items = [_coerce_scalar(v, element) for v in value]
            if all(item is not _INVALID for item in items):
                return items
    else:
        item = _coerce_scalar(value, kind)
        if item is not _INVALID:
            return item
    got = f"{_type_label(value)} {raw!r}" if isinstance(raw, str) else _type_label(value)
    raise ParameterError(f"parameter '{name}' of chapter {stem} expects {kind}, got {got}")


_INVALID = object()


def _coerce_scalar(value: Any, kind: str | None) -> Any:
    """``value`` as a scalar of ``kind`` (None: any scalar), else ``_INVALID``."""
    if kind is None:
        scalar = value is None or isinstance(value, str | bool) or _is_number(value)
        return value if scalar else _INVALID
    if kind == "float":
        if _is_number(value):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                return _INVALID
        return _INVALID
    if kind == "int":
        return value if _is_number(value) and isinstance(value, int) else _INVALID
    if kind == "str" and isinstance(value, dt.date):  # YAML reads 2020-01-01 as a date
        return value.isoformat()
    return value if type(value) is _SCALAR_KINDS[kind] else _INVALID


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_label(value: Any) -> str:
    return "null" if value is None else type(value).__name__
