"""Manifest heads of the wrong JSON type get a field error, not a crash (found by the fuzz run).

`spctl --server` sends manifests as JSON; `kind: {}` or `kind: []` used to raise TypeError
(unhashable) while looking the kind up: a 500 from `/api/declarative/apply` and `/diff`.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.services.manifests import ManifestError, from_wire


@pytest.mark.parametrize("kind", [{}, [], {"a": 1}, ["Volume"], 3, None, True])
def test_a_kind_that_is_not_a_string_is_a_field_error(kind: Any) -> None:
    manifest = {"apiVersion": "syncplanet.io/v1", "kind": kind, "metadata": {"name": "paris"}}
    with pytest.raises(ManifestError) as refused:
        from_wire({"manifests": [manifest]})
    assert "kind" in str(refused.value)
