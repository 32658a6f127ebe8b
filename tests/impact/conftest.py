"""The manifests tests' real tracker (uvicorn) serves `spctl --server` here too."""

from tests.manifests.conftest import tracker

__all__ = ["tracker"]
