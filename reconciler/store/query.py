"""Typed predicates on document keys, compiled to SQL for SQLite (JSON1) and PostgreSQL (JSONB).

`Predicates(dialect)` builds SQLAlchemy conditions with MongoDB's type bracketing: a number
matches numbers, a string matches strings, a boolean matches booleans. Keys held in promoted,
indexed columns (`_id`, `origin`, `author`, `#parent`, `time`) use the column, so that
`origin:paris` is an index lookup on a million files. `eq_any` tests many values of one key
with one extraction of the key (not one parse of the document per value: issue 11).

Secret keys (`reconciler.core.secret_keys`: password material of users, the credentials of
configuration objects) cannot be queried, compared or sorted on by anyone, and keys redacted
below admin cannot be by callers below admin (`admin=False`, the caller's class passed in as
data): `QueryError` naming the key, for every path through `Predicates`. The policy is the
pure core's; the API answers `QueryError` with a 400 whose message names the key (also in
`QueryError.field`).

Regexes use RE2 syntax and semantics (linear time, no backreferences or lookaround): they
run in RE2 on SQLite (a function registered on the connection, `register_sqlite_functions`)
and are checked by RE2 before running as `~`/`~*` on PostgreSQL, whose own engine is bounded
by the statement time limit.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import re2  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from reconciler.core.secret_keys import is_redacted_key, is_secret_key
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
_RE2_FLAGS = "ims"  # Mongo's i, m, s as RE2 inline flags
_IGNORED_FLAGS = "gyu"  # JavaScript's (damas-core RX_..._RX strings): no meaning for one test
_RE2_MAX_MEM = 8 << 20  # bytes for one compiled pattern; larger ones are refused


class QueryError(ValueError):
    """A query that cannot be compiled or run (bad key, regex, value, size): the caller's
    fault, which the API answers with a 400. `field` is the key path or request field it
    concerns when there is one (`tags.0`, `sort.time`, `queryobj`)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def refuse_secret(key: str) -> None:
    """`QueryError` naming `key` when it is secret: no class may match, compare or sort on it
    (sorting users by hash recovered a hash by binary search: issue 11)."""
    if is_secret_key(key):
        raise QueryError(
            f"the key {key!r} is secret: it cannot be searched, compared or sorted on", key
        )


def _re2_options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a client's bad pattern is its 400, not a line in our log
    options.max_mem = _RE2_MAX_MEM
    return options


@lru_cache(maxsize=512)
def compile_regex(pattern: str, flags: str) -> Any:
    """`pattern` in RE2 (linear time); `QueryError` for a pattern or option it cannot run."""
    inline = ""
    for flag in dict.fromkeys(flags):
        if flag in _RE2_FLAGS:
            inline += flag
        elif flag not in _IGNORED_FLAGS:
            raise QueryError(f"unsupported regular expression option {flag!r} (use i, m or s)")
    try:
        return re2.compile(f"(?{inline}){pattern}" if inline else pattern, _re2_options())
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise QueryError(
            f"invalid or unsupported regular expression /{pattern}/: {reason} "
            "(RE2 syntax: no backreferences or lookaround)"
        ) from None


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
    """Conditions on document keys. `admin=False` (every class below admin) also refuses the
    keys non-admins read redacted (`url`, `stderr_*`): matching them letter by letter would
    reveal what the reply hides."""

    def __init__(self, dialect: str, *, admin: bool = False) -> None:
        self.pg = dialect == "postgresql"
        self.admin = admin

    # ---- access to a key ------------------------------------------------------------------

    def _path(self, key: str) -> list[str]:
        parts = key.split(".")
        if not key or any(p == "" for p in parts) or any('"' in p or "\\" in p for p in parts):
            raise QueryError(f"unsupported key {key!r}", key)
        refuse_secret(key)
        if not self.admin and any(is_redacted_key(p) for p in parts):
            raise QueryError(
                f"the key {key!r} is redacted below admin: it cannot be searched on", key
            )
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
        return self._json_eq(key, value)

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

    def eq_any(self, key: str, values: list[Scalar]) -> Expr:
        """`key` equals one of `values` (typed, `None` = JSON null), extracting `key` once
        per type of value instead of once per value (SQLite parsed the document per value)."""
        values = [_bounded(v) for v in values]
        column = _STRING_COLUMNS.get(key)
        strings = [v for v in values if isinstance(v, str)]
        numbers = [v for v in values if _is_number(v)]
        others = [v for v in values if not isinstance(v, str) and not _is_number(v)]
        parts: list[Expr] = [self.eq(key, v) for v in dict.fromkeys(others)]
        if column is not None:
            parts.append(bool_expr(column.in_(strings)) if strings else sa.false())
            parts.extend(self.eq(key, v) for v in numbers)
            return sa.or_(sa.false(), *parts)
        for kind, group in (("string", strings), ("number", numbers)):
            if group:
                parts.append(self._json_in(key, kind, group))
        return sa.or_(sa.false(), *parts)

    def _json_in(self, key: str, kind: str, values: list[Any]) -> Expr:
        if self.pg:
            found = bool_expr(self.value(key).in_([_jsonb(v) for v in values]))
        else:
            found = sa.and_(self._is(key, kind), self.value(key).in_(values))
        if key == "time" and kind == "number":
            return sa.and_(self._time_window(min(values), max(values)), found)
        return found

    def eq_or_missing(self, key: str) -> Expr:
        if key == "_id":
            return sa.false()
        return sa.or_(self._type(key).is_(None), self._is(key, "null"))

    def exists(self, key: str) -> Expr:
        if key == "_id":
            return _true()
        return bool_expr(self._type(key).isnot(None))

    def compare(self, key: str, op: str, value: Scalar) -> Expr:
        """`op` in gt/gte/lt/lte; numbers compare with numbers, strings with strings."""
        value = _bounded(value)
        method = _OPS[op]
        if isinstance(value, str):
            column = _STRING_COLUMNS.get(key)
            if column is not None:
                return bool_expr(getattr(self._collate(column), method)(value))
            text = self._collate(self._text(key))
            return sa.and_(self._is(key, "string"), getattr(text, method)(value))
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise QueryError(f"{key}: comparisons need a number or a string, not {value!r}", key)
        if key == "_id":
            return sa.false()
        if self.pg:
            raw = self.value(key)
            test = getattr(raw, method)(_jsonb(value))
        else:
            test = getattr(self.value(key), method)(value)
        exact = sa.and_(self._is(key, "number"), test)
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
        test: Expr
        if self.pg:
            # PostgreSQL ARE embedded option w: ^/$ at line breaks (Mongo's m).
            pattern = f"(?w){pattern}" if "m" in flags else pattern
            test = target.op("~*" if "i" in flags else "~")(pattern)
        else:
            test = sa.func.sp_regexp(pattern, flags, target) == 1
        return sa.and_(expr_guard, test)

    def sort_key(self, key: str) -> Any:
        if key in _STRING_COLUMNS:
            return self._collate(_STRING_COLUMNS[key])
        if key == "time":
            return nodes.c.time
        return self.value(key)


def bool_expr(expr: Any) -> Expr:
    result: Expr = expr
    return result
