"""The corpus of invalid manifests: each is refused with its field path, nothing written.

Every file under `invalid/` starts with `# expect: <text>`; loading and applying it must
fail with a message containing that text and naming the file, on a store that already
holds a hub `central` and a volume `lyon` created through the API (as `tx.put` does), and
must leave every row of the store as it was. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.services.manifests import ManifestError
from reconciler.store import Store
from tests.manifests.helpers import apply, snapshot
from tests.support import pg

CORPUS = sorted((Path(__file__).parent / "invalid").glob("*.yaml"))
SEED: list[dict[str, Any]] = [
    {"_id": "hub/central", "name": "central", "url": "/srv/hub/"},
    {"_id": "volume/lyon", "name": "lyon", "url": "/srv/lyon/"},
    {"_id": "/shots/a.exr", "origin": "lyon", "time": 5, "file_size": 3},
]


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} has no '# expect:' line"
    return first.removeprefix("# expect: ")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """One seeded store per backend for the whole corpus (nothing is ever written to it)."""
    if request.param == "sqlite":
        store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'store.db'}")
        url = None
    else:
        if not pg.server_url():
            pytest.skip(f"PostgreSQL half skipped: {pg.ENV} is not set (CI sets it)")
        cm = pg.scratch_database()
        url = cm.__enter__()
        store = Store.open(url)
    with store.write() as tx:
        tx.put_many(SEED)
    yield store
    store.close()
    if url is not None:
        cm.__exit__(None, None, None)


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_invalid_manifest_is_refused_and_nothing_is_written(seeded: Store, path: Path) -> None:
    before = snapshot(seeded)
    with pytest.raises(ManifestError) as caught:
        apply(seeded, path)
    message = str(caught.value)
    assert any(expected(path) in p for p in caught.value.problems), message
    assert message.startswith(str(path)), message
    assert "\n" not in message
    assert snapshot(seeded) == before
