"""The manifests tests' real tracker (uvicorn) serves `spctl --server` here too, and
`spctl_target` runs each case with `--db` and with `--server`."""

from tests.manifests.conftest import spctl_target, tracker

__all__ = ["spctl_target", "tracker"]
