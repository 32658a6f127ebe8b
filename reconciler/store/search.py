"""Searches: damas-core's text grammar and `search_mongo`, compiled to one SQL query each.

- `text_condition(query)`: the grammar of `/api/search/<query>` (damas-core §search language
  with architecture.md#tracker-api's decisions: every term must match; `k:3` matches 3 and "3";
  `k:true` matches true and "true"; `<`, `<=`, `>`, `>=` compare numbers when the value parses as
  one).
- `mongo_condition(query)`: the `search_mongo` subset `$eq $ne $gt $gte $lt $lte $in $nin
  $exists $regex $and $or $not` and `REGEX_…` / `RX_…_RX<flags>` strings at any depth.
- `find_ids` / `count` run a condition on a `Tx`; no document is loaded into Python.
Bad queries raise `QueryError` (the API answers 400), and so do queries over the size caps
below (issue 11: a few thousand terms cost seconds of database CPU or gigabytes of memory),
queries on a secret key (`reconciler.core.secret_keys`) and regexes RE2 cannot run. The
conditions and sort terms are opaque values to callers: they come from here and go back here
(`find_ids`, `count`, and the web grid's `reconciler.store.grid`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from reconciler.store.documents import Tx
from reconciler.store.query import (
    Expr,
    Predicates,
    QueryError,
    Scalar,
    negate,
    register_sqlite_functions,
)
from reconciler.store.schema import nodes

__all__ = ["Page", "QueryError", "count", "find_ids", "mongo_condition", "text_condition"]

_TEXT_OPS = ("<=", "<", ">=", ">", ":")
_OP_NAMES = {"<=": "lte", "<": "lt", ">=": "gte", ">": "gt"}
_REGEX_VALUE = re.compile(r"^/(.*)/([gimy]*)$", re.DOTALL)
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_RX = re.compile(r"^RX_(.*)_RX([a-z]*)$", re.DOTALL)

# Caps on one query (docs/security.md "Request limits"); over a cap -> 400 naming it.
MAX_TEXT_TERMS = 100  # terms of one text search (`/api/search/a:1 b:2 ...`)
MAX_IN_VALUES = 500  # values of one $in / $nin
MAX_BRANCHES = 200  # queries of one $and / $or
MAX_DEPTH = 20  # nesting of $and / $or / $not
MAX_CONDITIONS = 1000  # key conditions and $in values of one whole query
MAX_SORT_KEYS = 16
MAX_PAGE = 2**63 - 1  # limit / skip (SQL's BIGINT)


def too_big(what: str, cap: int, field: str | None = None) -> QueryError:
    return QueryError(f"{what} exceeds the limit of {cap}", field)


# ---- the text grammar --------------------------------------------------------------------


def parse_term(token: str) -> tuple[str, str, str] | None:
    """(key, operator, value) of one token, or None for a token without operator (ignored)."""
    for op in _TEXT_OPS:
        pos = token.find(op)
        if pos > 0:
            rest = token[pos + len(op) :]
            end = rest.find(op)
            return token[:pos], op, rest if end < 0 else rest[:end]
    return None


def _number(text: str) -> int | float | None:
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def term_condition(preds: Predicates, key: str, op: str, value: str) -> Expr:
    number = _number(value)
    if op != ":":
        return preds.compare(key, _OP_NAMES[op], value if number is None else number)
    regex = _REGEX_VALUE.match(value)
    if regex:
        return preds.regex(key, regex.group(1), regex.group(2))
    options: list[Scalar] = [value]
    if number is not None:
        options.append(number)
    if value in ("true", "false"):
        options.append(value == "true")
    if value == "null":
        options.append(None)
    return preds.eq_any(key, options)


def text_condition(query: str, dialect: str, *, admin: bool = False) -> Expr:
    tokens = query.split()
    if not tokens:
        raise QueryError("empty query")
    if len(tokens) > MAX_TEXT_TERMS:
        raise too_big(f"a search of {len(tokens)} terms", MAX_TEXT_TERMS)
    if "\x00" in query:
        raise QueryError("a query must not contain NUL")
    preds = Predicates(dialect, admin=admin)
    terms = [t for t in (parse_term(tok) for tok in tokens) if t is not None]
    return sa.and_(sa.true(), *(term_condition(preds, *t) for t in terms))


# ---- search_mongo ------------------------------------------------------------------------


def regex_of(value: object) -> tuple[str, str] | None:
    """damas-core's regex strings: `REGEX_<pattern>` and `RX_<pattern>_RX<flags>`."""
    if isinstance(value, str):
        if value.startswith("REGEX_"):
            return value[len("REGEX_") :], ""
        match = _RX.match(value)
        if match:
            return match.group(1), match.group(2)
    return None


def _scalar(key: str, value: object) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise QueryError(f"{key}: matching a whole object or array is not supported", key)


class MongoCompiler:
    """One query to one condition, counting its size against the caps as it goes."""

    def __init__(self, dialect: str, *, admin: bool = False) -> None:
        self.preds = Predicates(dialect, admin=admin)
        self.conditions = 0

    def _spend(self, count: int) -> None:
        self.conditions += count
        if self.conditions > MAX_CONDITIONS:
            raise too_big("the number of conditions in the query", MAX_CONDITIONS)

    def _nest(self, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise too_big("the nesting of $and / $or / $not", MAX_DEPTH)
        return depth + 1

    def query(self, query: object, depth: int = 0) -> Expr:
        if not isinstance(query, dict):
            raise QueryError("a query must be a JSON object")
        inner = self._nest(depth)
        parts: list[Expr] = []
        for key, cond in query.items():
            if key in ("$and", "$or"):
                if not isinstance(cond, list) or not cond:
                    raise QueryError(f"{key} needs a non-empty array of queries")
                if len(cond) > MAX_BRANCHES:
                    raise too_big(f"{key} with {len(cond)} queries", MAX_BRANCHES, key)
                subs = [self.query(q, inner) for q in cond]
                parts.append(sa.and_(*subs) if key == "$and" else sa.or_(*subs))
            elif key == "$not":
                parts.append(negate(self.query(cond, inner)))
            elif key.startswith("$"):
                raise QueryError(f"unsupported operator {key}")
            else:
                parts.append(self.field(key, cond, inner))
        return sa.and_(sa.true(), *parts)

    def field(self, key: str, cond: object, depth: int) -> Expr:
        self._spend(1)
        if isinstance(cond, dict) and cond and all(str(k).startswith("$") for k in cond):
            return self.operators(key, cond, self._nest(depth))
        return self.equals(key, cond)

    def equals(self, key: str, value: object) -> Expr:
        regex = regex_of(value)
        if regex:
            return self.preds.regex(key, *regex)
        if value is None:
            return self.preds.eq_or_missing(key)
        return self.preds.eq(key, _scalar(key, value))

    def operators(self, key: str, ops: Mapping[str, Any], depth: int) -> Expr:
        parts: list[Expr] = []
        for op, arg in ops.items():
            if op == "$eq":
                parts.append(self.equals(key, arg))
            elif op == "$ne":
                parts.append(negate(self.equals(key, arg)))
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                parts.append(self.preds.compare(key, op[1:], _scalar(key, arg)))
            elif op in ("$in", "$nin"):
                found = self.any_of(key, op, arg)
                parts.append(found if op == "$in" else negate(found))
            elif op == "$exists":
                exists = self.preds.exists(key)
                parts.append(exists if arg else negate(exists))
            elif op == "$regex":
                parts.append(self._regex(key, arg, ops.get("$options", "")))
            elif op == "$options":
                if "$regex" not in ops:
                    raise QueryError(f"{key}: $options needs $regex", key)
            elif op == "$not":
                parts.append(negate(self.field(key, arg, depth)))
            else:
                raise QueryError(f"unsupported operator {op}")
        return sa.and_(*parts)

    def any_of(self, key: str, op: str, values: object) -> Expr:
        """`$in`: regex strings and `null` one by one, the other values in one `eq_any`."""
        if not isinstance(values, list):
            raise QueryError(f"{key}: {op} needs an array", key)
        if len(values) > MAX_IN_VALUES:
            raise too_big(f"{key}: {op} with {len(values)} values", MAX_IN_VALUES, key)
        self._spend(len(values))
        special = [v for v in values if v is None or regex_of(v)]
        plain = [_scalar(key, v) for v in values if v is not None and not regex_of(v)]
        parts = [self.equals(key, v) for v in special]
        if plain:
            parts.append(self.preds.eq_any(key, plain))
        return sa.or_(sa.false(), *parts)

    def _regex(self, key: str, pattern: object, options: object) -> Expr:
        if not isinstance(options, str):
            raise QueryError(f"{key}: $options must be a string", key)
        regex = regex_of(pattern)
        if regex:
            return self.preds.regex(key, regex[0], regex[1] + options)
        if not isinstance(pattern, str):
            raise QueryError(f"{key}: $regex must be a string", key)
        return self.preds.regex(key, pattern, options)


def mongo_condition(query: object, dialect: str, *, admin: bool = False) -> Expr:
    return MongoCompiler(dialect, admin=admin).query(query if query is not None else {})


def parse_sort(sort: object, dialect: str, *, admin: bool = False) -> list[Any]:
    """A Mongo sort object (`{"time": -1}`) as ORDER BY terms, `_id` last for stability."""
    if sort is None:
        return [nodes.c.id]
    if not isinstance(sort, dict):
        raise QueryError('sort must be an object such as {"time": -1}', "sort")
    if len(sort) > MAX_SORT_KEYS:
        raise too_big(f"a sort on {len(sort)} keys", MAX_SORT_KEYS, "sort")
    preds = Predicates(dialect, admin=admin)
    terms: list[Any] = []
    for key, direction in sort.items():
        if direction not in (1, -1) or isinstance(direction, bool):
            raise QueryError(f"sort.{key} must be 1 or -1", f"sort.{key}")
        column = preds.sort_key(str(key))
        # Mongo order: a missing key sorts lowest in both dialects.
        terms.append(column.asc().nulls_first() if direction == 1 else column.desc().nulls_last())
    return [*terms, nodes.c.id]


# ---- running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    order: Sequence[Any] = ()  # from `parse_sort`; empty: by `_id`
    limit: int = 0  # 0 = no limit
    skip: int = 0


def run(tx: Tx, statement: sa.Select[Any]) -> Any:
    """Execute a statement holding search conditions: RE2 on SQLite, and `QueryError` for
    values the database refuses (a regex PostgreSQL's engine rejects)."""
    register_sqlite_functions(tx.conn)
    try:
        return tx.conn.execute(statement)
    except sa.exc.DataError as exc:  # e.g. a regex PostgreSQL refuses
        raise QueryError(str(exc.orig).splitlines()[0]) from None


def find_ids(tx: Tx, condition: Expr, page: Page | None = None) -> list[str]:
    page = page or Page()
    statement = sa.select(nodes.c.id).where(condition).order_by(*(page.order or [nodes.c.id]))
    if page.limit:
        statement = statement.limit(page.limit)
    if page.skip:
        statement = statement.offset(page.skip)
    return [row[0] for row in run(tx, statement)]


def count(tx: Tx, condition: Expr) -> int:
    return int(run(tx, sa.select(sa.func.count()).select_from(nodes).where(condition)).scalar())
