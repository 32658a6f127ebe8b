"""The SyncPlanet version: written once in pyproject.toml, read back from the installed metadata.

`spctl --version` and the tracker's `/healthz` reply show it. Reading the metadata costs a
few milliseconds, so it is done on demand (and once per process), never at import time.
"""

from __future__ import annotations

from functools import cache

DISTRIBUTION = "syncplanet"
UNKNOWN = "0+unknown"  # running from a source tree that was never installed


@cache
def version() -> str:
    """The installed distribution's version (`0.1.0`), or `0+unknown` when not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as distribution_version

    try:
        return distribution_version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN
