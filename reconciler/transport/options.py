"""User rsync options by scope: global parameters, then the hub, then the volume.

Purely computational. `rsync_args` / `rsync_env` are read from each scope in that order and
concatenated (later scopes win where rsync lets the last value win, architecture.md#the-loop). Only
what `reconciler.core.rsync_options` allows reaches a command: values that reached the store without
the manifest validation (the API, an older version) are screened again here, right before a command
is built, and the refused ones are returned for the log.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.config import HubConfig, SyncConfig, VolumeConfig
from reconciler.core.kinds import GlobalParameters
from reconciler.core.rsync_options import screen

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class MergedOptions:
    args: tuple[str, ...]
    env: Mapping[str, str]
    dropped: tuple[str, ...]  # refused user options, for the log


NO_OPTIONS = MergedOptions((), {}, ())


def _split(text: str, scope: str, dropped: list[str]) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        dropped.append(f"{scope}: cannot parse {text!r} ({exc})")
        return []


def _filter_args(tokens: list[str], scope: str, dropped: list[str]) -> list[str]:
    screened = screen(tokens)
    dropped += [f"{scope}: {shlex.join(r.tokens)} ({r.reason})" for r in screened.refused]
    return list(screened.kept)


def merge_options(scopes: Sequence[tuple[str, str, str]]) -> MergedOptions:
    """Merge `(scope, rsync_args, rsync_env)` in order (global, hub, volume)."""
    args: list[str] = []
    env: dict[str, str] = {}
    dropped: list[str] = []
    for scope, arg_text, env_text in scopes:
        args += _filter_args(_split(arg_text, scope, dropped), scope, dropped)
        for pair in _split(env_text, scope, dropped):
            key, eq, value = pair.partition("=")
            if eq and _ENV_NAME.fullmatch(key):
                env[key] = value
            else:
                dropped.append(f"{scope}: environment entry {pair!r} is not KEY=VALUE")
    return MergedOptions(tuple(args), env, tuple(dropped))


def site_options(cfg: SyncConfig, volume: VolumeConfig) -> MergedOptions:
    """The options of every rsync run for `volume` (transfers and trash moves alike)."""
    scopes: list[tuple[str, GlobalParameters | HubConfig | VolumeConfig]] = [
        ("global", cfg.globals)
    ]
    if cfg.hub is not None:
        scopes.append((f"hub/{cfg.hub.name}", cfg.hub))
    scopes.append((f"volume/{volume.name}", volume))
    return merge_options([(name, v.rsync_args, v.rsync_env) for name, v in scopes])
