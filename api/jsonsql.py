"""Typed predicates on document keys, compiled to SQL for SQLite (JSON1) and PostgreSQL (JSONB).

`Predicates(dialect)` builds SQLAlchemy conditions with MongoDB's type bracketing: a number
matches numbers, a string matches strings, a boolean matches booleans. Keys held in promoted,
indexed columns (`_id`, `origin`, `author`, `#parent`, `time`) use the column, so that
`origin:paris` is an index lookup on a million files. Keys holding password material never
match on user documents. Regexes run as `~`/`~*` on PostgreSQL and as a Python function
registered on the SQLite connection (`register_sqlite_functions`).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from api.auth import SECRET_KEYS
from reconciler.domain import NodeKind
from reconciler.store.schema import nodes

Expr = sa.ColumnElement[bool]
Scalar = str | int | float | bool | None
_STRING_COLUMNS = {
    "_id": nodes.c.id,
    "origin": nodes.c.origin,
    "author": nodes.c.author,
    "#parent": nodes.c.parent,
}
_OPS = {"gt": "__gt__", "gte": "__ge__", "lt": "__lt__", "lte": "__le__"}
_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


class BadQuery(ValueError):
    """A query that cannot be compiled (bad key, regex or value): the caller answers 400."""


@lru_cache(maxsize=512)
def compile_regex(pattern: str, flags: str) -> re.Pattern[str]:
    bits = 0
    for flag in flags:
        bits |= _FLAG_BITS.get(flag, 0)
    try:
        return re.compile(pattern, bits)
    except re.error as exc:
        raise BadQuery(f"invalid regular expression /{pattern}/: {exc}") from None


def _sqlite_regexp(pattern: str, flags: str, value: object) -> int:
    if not isinstance(value, str):
        return 0
    return int(compile_regex(pattern, flags or "").search(value) is not None)


def register_sqlite_functions(conn: sa.Connection) -> None:
    """Give this SQLite connection `sp_regexp(pattern, flags, value)` (cheap, idempotent)."""
    if conn.dialect.name == "sqlite":
        raw: Any = conn.connection.driver_connection
        raw.create_function("sp_regexp", 3, _sqlite_regexp, deterministic=True)


def _true() -> Expr:
    return sa.true()


def negate(expr: Expr) -> Expr:
    """NOT that is also true where `expr` is NULL (a missing key does not equal anything)."""
    return sa.case((expr, 1), else_=0) == 0


def _jsonb(value: Scalar) -> Any:
    return sa.cast(sa.literal(json.dumps(value), sa.Text), JSONB)


def _clamp(value: int) -> int:
    """Into the BIGINT range of the `time` column (values beyond never match anyway)."""
    return max(-(2**63) + 1, min(2**63 - 1, value))


def _bounded(value: Scalar) -> Scalar:
    """Integers beyond 64 bits compare as floats (SQLite cannot bind them)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return float(value)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Predicates:
    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    # ---- access to a key ------------------------------------------------------------------

    def _path(self, key: str) -> list[str]:
        parts = key.split(".")
        if not key or any(p == "" for p in parts) or any('"' in p or "\\" in p for p in parts):
            raise BadQuery(f"unsupported key {key!r}")
        return parts

    def _jpath(self, parts: list[str]) -> Any:
        if self.pg:
            return sa.bindparam(None, parts, type_=ARRAY(sa.Text), unique=True)
        return "$" + "".join(f'."{p}"' for p in parts)

    def value(self, key: str) -> Any:
        """The raw JSON value (jsonb on PG; the SQL value of json_extract on SQLite)."""
        path = self._jpath(self._path(key))
        if self.pg:
            return nodes.c.doc.op("#>", return_type=JSONB)(path)
        return sa.func.json_extract(nodes.c.doc, path)

    def _text(self, key: str) -> Any:
        if self.pg:
            return nodes.c.doc.op("#>>", return_type=sa.Text)(self._jpath(self._path(key)))
        return self.value(key)

    def _type(self, key: str) -> Any:
        if self.pg:
            return sa.func.jsonb_typeof(self.value(key))
        return sa.func.json_type(nodes.c.doc, self._jpath(self._path(key)))

    def _is(self, key: str, kind: str) -> Expr:
        sqlite_names = {
            "string": ("text",),
            "number": ("integer", "real"),
            "true": ("true",),
            "false": ("false",),
            "null": ("null",),
        }
        if self.pg:
            if kind in ("true", "false"):
                return bool_expr(self.value(key) == _jsonb(kind == "true"))
            return bool_expr(self._type(key) == kind)
        return bool_expr(self._type(key).in_(sqlite_names[kind]))

    def _guard(self, key: str, expr: Expr) -> Expr:
        if key.split(".")[0] in SECRET_KEYS:
            return sa.and_(nodes.c.kind != NodeKind.USER.value, expr)
        return expr

    def _collate(self, expr: Any) -> Any:
        return expr.collate("C") if self.pg else expr

    # ---- predicates -----------------------------------------------------------------------

    def eq(self, key: str, value: Scalar) -> Expr:
        """Typed equality; `None` means JSON null (use `eq_or_missing` for Mongo's null)."""
        value = _bounded(value)
        column = _STRING_COLUMNS.get(key)
        if column is not None and isinstance(value, str):
            return bool_expr(column == value)
        if key == "_id":
            return sa.false()
        if key == "time" and _is_number(value):
            return sa.and_(self._time_window(value, value), self._json_eq(key, value))
        return self._guard(key, self._json_eq(key, value))

    def _json_eq(self, key: str, value: Scalar) -> Expr:
        if self.pg:
            return bool_expr(self.value(key) == _jsonb(value))
        if value is None:
            return self._is(key, "null")
        if isinstance(value, bool):
            return self._is(key, "true" if value else "false")
        if isinstance(value, str):
            return sa.and_(self._is(key, "string"), bool_expr(self.value(key) == value))
        return sa.and_(self._is(key, "number"), self.value(key) == value)

    def eq_or_missing(self, key: str) -> Expr:
        if key == "_id":
            return sa.false()
        return self._guard(key, sa.or_(self._type(key).is_(None), self._is(key, "null")))

    def exists(self, key: str) -> Expr:
        if key == "_id":
            return _true()
        return self._guard(key, self._type(key).isnot(None))

    def compare(self, key: str, op: str, value: Scalar) -> Expr:
        """`op` in gt/gte/lt/lte; numbers compare with numbers, strings with strings."""
        value = _bounded(value)
        method = _OPS[op]
        if isinstance(value, str):
            column = _STRING_COLUMNS.get(key)
            if column is not None:
                return bool_expr(getattr(self._collate(column), method)(value))
            text = self._collate(self._text(key))
            return self._guard(key, sa.and_(self._is(key, "string"), getattr(text, method)(value)))
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise BadQuery(f"{key}: comparisons need a number or a string, not {value!r}")
        if key == "_id":
            return sa.false()
        if self.pg:
            raw = self.value(key)
            test = getattr(raw, method)(_jsonb(value))
        else:
            test = getattr(self.value(key), method)(value)
        exact = self._guard(key, sa.and_(self._is(key, "number"), test))
        if key == "time":
            low = value if op in ("gt", "gte") else None
            high = value if op in ("lt", "lte") else None
            return sa.and_(self._time_window(low, high), exact)
        return exact

    def _time_window(self, low: Scalar, high: Scalar) -> Expr:
        """A superset of the matches on the indexed `time` column (it holds int(time))."""
        c = nodes.c.time
        parts = []
        if low is not None:
            parts.append(c >= _clamp(math.floor(float(low)) - 1))
        if high is not None:
            parts.append(c <= _clamp(math.ceil(float(high)) + 1))
        return sa.and_(*parts)

    def regex(self, key: str, pattern: str, flags: str = "") -> Expr:
        compile_regex(pattern, flags)  # a bad pattern is the caller's 400, not a SQL error
        column = _STRING_COLUMNS.get(key)
        if column is not None:
            target, expr_guard = column, _true()
        else:
            target, expr_guard = self._text(key), self._is(key, "string")
        if self.pg:
            # PostgreSQL ARE embedded options: w = ^/$ at line breaks (Mongo's m), x = verbose.
            options = "".join(o for f, o in (("m", "w"), ("x", "x")) if f in flags)
            pattern = f"(?{options}){pattern}" if options else pattern
            test = target.op("~*" if "i" in flags else "~")(pattern)
        else:
            test = sa.func.sp_regexp(pattern, flags, target) == 1
        return self._guard(key, sa.and_(expr_guard, test))

    def sort_key(self, key: str) -> Any:
        if key in _STRING_COLUMNS:
            return self._collate(_STRING_COLUMNS[key])
        if key == "time":
            return nodes.c.time
        return self.value(key)


def bool_expr(expr: Any) -> Expr:
    result: Expr = expr
    return result
