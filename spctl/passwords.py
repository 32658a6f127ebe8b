"""Reading a password where spctl runs: a hidden prompt, or the first line of stdin.

Hashing and checking passwords is `reconciler.core.passwords`; the passwords of User
manifests come from the environment (`passwordFromEnv`, read by
`reconciler.services.manifests`). Decisions: never a flag value (the process list would show
it); `--password-stdin` takes one line without its line ending; an empty password is refused
here rather than sent.
"""

from __future__ import annotations

import sys

import typer

from spctl.common import fail


def read_password(*, from_stdin: bool) -> str:
    """The password from stdin's first line (`from_stdin`) or a hidden prompt; never empty."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    if not password:
        fail("an empty password was given")
    return password
