"""The API side of searches: the request's own JSON, and `QueryError` as a 400.

Queries compile and run in the store (`reconciler.store.search`: the grammar of
`/api/search/<query>`, `search_mongo`, the size caps); this module reads `queryobj` (a JSON
string inside the JSON body) with the API's strict JSON rules.
"""

from __future__ import annotations

from api.errors import check_strings, strict_loads
from reconciler.store.query import QueryError


def loads_queryobj(text: object) -> object:
    """The query a `queryobj` string holds; `QueryError` naming `queryobj` otherwise."""
    if not isinstance(text, str):
        raise QueryError("queryobj must be a JSON string", "queryobj")
    try:
        value = strict_loads(text)
    except (ValueError, RecursionError) as exc:
        raise QueryError(f"queryobj is not valid JSON: {exc}", "queryobj") from None
    check_strings(value, text)
    return value
