"""The configuration kinds: one pydantic model per kind, and the one registry of kinds.

Purely computational. A kind's model is the one place where each of its keys is written:
its type, default, limits (the check of `reconciler.core.checks` attached to it) and
meaning (`Field(description=...)`, which the docs generator prints). Python attributes are
snake_case; the SyncPlanet key names are their aliases, and stored documents and manifests
keep those (`syncAmountReception`, `rsync_args`).

Every model key is **spec**: what a manifest declares and `get -o yaml` shows under
`spec`. Whatever else a configuration document holds is **status**, written by the
reconciler (scan results, connection state, notifications, ...), shown under `status` and
never declared. A spec key flagged `desired` is read by the desired-state rules
(`reconciler.core.desired`): only those keys, and the ids of the objects, make the
configuration fingerprint, so neither status keys nor spec keys the rules never read
(rsync options, batch sizes) cause a re-derivation of every file's rows. Other flags: `shown`
(password material is accepted, never shown), `expand` (path keys whose `${SPCTL_HOME}` the
loader expands), `secret` (read as `***` below admin).

`KINDS` is the registry: kind name, words, id prefix, name pattern, model and `spctl get`
columns. The manifest loader, the validation, `SyncConfig.from_docs`, `spctl get`, the
declarative routes and the docs generator all read it, so a new key is one model field
(plus its tests) and a new kind one model and one registry entry.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from reconciler.core import checks as ck
from reconciler.core.domain import (
    CONFIG_GLOBAL_ID,
    HUB_PREFIX,
    SITE_NAME_RE,
    SYNCTARGET_NAME_RE,
    SYNCTARGET_PREFIX,
    USER_NAME_RE,
    USER_PREFIX,
    VOLUME_PREFIX,
)

# ---- how a key is declared ----------------------------------------------------------------

STORED_CONTEXT = {"stored": True}


def _rule(check: ck.Check) -> BeforeValidator:
    """Run `check` on a manifest value; its reason becomes the pydantic error message.

    Stored documents are read with `STORED_CONTEXT`: the generic API writes them without
    these checks, so reading them only converts types (see `KindModel.from_stored`)."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        if info.context is not None and info.context.get("stored"):
            return value
        reason = check(value)
        if reason:
            raise PydanticCustomError("syncplanet", "{reason}", {"reason": reason})
        return value

    return BeforeValidator(validate)


def key(
    default: Any,
    description: str,
    *,
    desired: bool = False,
    shown: bool = True,
    expand: bool = False,
    secret: bool = False,
    alias: str | None = None,
) -> Any:
    """A spec key: its `default` (`REQUIRED`: none), `description` for the docs;
    `desired`: read by the desired-state rules (part of the fingerprint); `shown=False`:
    accepted in manifests, never stored as such nor shown (password material); `expand`: a
    path where `${SPCTL_HOME}`-style variables are expanded where spctl runs; `secret`: a
    credential or where one is, shown as `***` below admin (`api.secrets`)."""
    extra: dict[str, Any] = {
        "desired": desired,
        "shown": shown,
        "expand": expand,
        "secret": secret,
    }
    if isinstance(default, list):
        return Field(
            default_factory=lambda: list(default),
            description=description,
            alias=alias,
            json_schema_extra=extra,
        )
    return Field(default, description=description, alias=alias, json_schema_extra=extra)


Bool = Annotated[bool, _rule(ck.is_bool)]
Str = Annotated[str, _rule(ck.is_str)]
Natural = Annotated[int, _rule(ck.integer(0))]
Positive = Annotated[int, _rule(ck.integer(1))]
Url = Annotated[str, _rule(ck.url)]
RsyncArgs = Annotated[str, _rule(ck.rsync_args)]
RsyncEnv = Annotated[str, _rule(ck.rsync_env)]
Globs = Annotated[list[str], _rule(ck.list_of(ck.glob))]
Sites = Annotated[list[str], _rule(ck.list_of(ck.site))]


class KindModel(BaseModel):
    """The keys of one kind. Manifests validate strictly by SyncPlanet key name only."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )

    @classmethod
    def from_stored(cls, doc: Mapping[str, Any]) -> Self:
        """The typed values of a stored document: unset and `null` keys take the default,
        status keys are ignored, and a value that does not fit its type (the generic API
        does not validate) reads as the default, or as empty for a required key. Never
        raises: the reconciler keeps running on what it can read."""
        values = {
            f.alias: doc[f.alias]
            for f in cls.model_fields.values()
            if f.alias and doc.get(f.alias) is not None and f.alias in _stored_keys(cls)
        }
        for _ in range(len(cls.model_fields) + 1):  # each round drops or fills a key
            try:
                return cls.model_validate(values, strict=False, context=STORED_CONTEXT)
            except ValidationError as exc:
                errors = exc.errors()
            for error in errors:
                alias = str(error["loc"][0])
                if error["type"] == "missing":
                    values[alias] = _empty(cls.model_fields[_name_of(cls, alias)])
                else:
                    values.pop(alias, None)
        return cls.model_validate(values, strict=False, context=STORED_CONTEXT)


def _flag(field: FieldInfo, name: str) -> bool:
    extra = field.json_schema_extra
    return bool(extra.get(name)) if isinstance(extra, dict) else False


@cache
def _stored_keys(model: type[KindModel]) -> frozenset[str]:
    return frozenset(f.alias for f in model.model_fields.values() if f.alias and _flag(f, "shown"))


def _name_of(model: type[KindModel], alias: str) -> str:
    return next(n for n, f in model.model_fields.items() if f.alias == alias)


def _empty(field: FieldInfo) -> Any:
    return [] if typing.get_origin(field.annotation) is list else ""


# ---- the models ---------------------------------------------------------------------------
# Field order is the order `get -o yaml` prints the keys and the docs list them.

REQUIRED: Any = ...


class GlobalParameters(KindModel):
    """The one `rsyncGlobalParameters` object; keys named as in the original API document."""

    enable_scans: Bool = key(True, "master switch of volume scans")
    sleep_between_scans: Positive = key(60, "seconds between two scans of a volume (≥ 1)")
    include_pattern_rules: Str = key(
        "", "scan: only paths matching these globs (comma or newline separated)"
    )
    exclude_pattern_rules: Str = key("", "scan: paths matching these globs are ignored")
    excluded_files: Str = key(
        "", "scan: further excluded names/globs, at any depth (`Thumbs.db, .DS_Store`)"
    )
    ignore_existing_files: Bool = key(
        False, "first scan of a volume records files as synced there instead of publishing them"
    )
    package_pattern_rules: Str = key(
        "", "files matching these (e.g. `*.exr`) are tracked as their parent folder package"
    )
    rsa_public_key: Str = key("", "the hub's public key, to install in volumes' `authorized_keys`")
    sync_everywhere: Bool = key(
        True, "destination default when no per-file key or SyncTarget decides", desired=True
    )
    rsync_args: RsyncArgs = key(
        "", "rsync options for every transfer (shell-quoted string)", alias="rsync_args"
    )
    rsync_env: RsyncEnv = key(
        "", "environment for rsync: `NAME=value` items", alias="rsync_env", secret=True
    )
    retry_backoff_base: Positive = key(
        30,
        "seconds before the first retry of a failed (file, site); doubles each time (≥ 1)",
        desired=True,
    )
    retry_backoff_max: Positive = key(3600, "cap of that backoff, in seconds (≥ 1)", desired=True)
    trash_max_age_days: Natural = key(
        30, "trash under `.syncplanet/trash/` older than this is purged"
    )
    lease_seconds: Positive = key(
        30,
        "how long a worker's claim on a batch lasts without a heartbeat (default 30; ≥ 1): "
        "a worker on another host that dies holds its files this long",
    )
    heartbeat_seconds: Positive = key(
        10,
        "how often a worker renews its row in `workers` and its leases (default 10; ≥ 1; "
        "keep it below leaseSeconds)",
    )
    # over a long link one SSH stream is capped by its channel window (about window / RTT),
    # each stream has its own (issue 15)
    parallel_streams: Annotated[int, _rule(ck.streams(1))] = key(
        4,
        "concurrent rsync runs per batch and leg (1–8): each is its own SSH channel, hence "  # noqa: RUF001
        "its own window; a batch's files are split with balanced bytes",
    )
    smtp_host: Str = key("", "SMTP server of the notifications (empty: no mail)")
    smtp_port: Positive = key(
        25, "SMTP port (≥ 1; 465 = implicit TLS, otherwise STARTTLS when offered)"
    )
    smtp_from: Str = key("syncplanet@localhost", "sender address of the notifications")
    smtp_user: Str = key("", "SMTP login (empty = no login)", secret=True)
    smtp_password_from_env: Annotated[str, _rule(ck.optional_env_name)] = key(
        "",
        "the environment variable holding the SMTP password, where the reconciler runs",
        secret=True,
    )
    smtp_allow_plaintext: Bool = key(
        False,
        "allow the SMTP login without TLS (no STARTTLS, not port 465); off: such a server "
        "gets no mail and each waiting volume records `notifyError`",
    )
    notify_min_interval_seconds: Natural = key(900, "at most one digest per volume per interval")
    max_deletions_per_scan: Natural = key(
        1000,
        "deletion guard: a scan that would mark more files deleted than this marks none and "
        "waits for `spctl scan VOLUME --confirm-deletions`",
    )
    max_deletions_percent: Annotated[int, _rule(ck.percent(0))] = key(
        10,
        "deletion guard: the same, for more than this percentage (0–100) of the files the "  # noqa: RUF001
        "volume is the origin of",
    )


class Hub(KindModel):
    """`hub/<name>`: the one hub; its site name is the object's name."""

    url: Url = key(
        REQUIRED,
        "the hub root, a local path, or `ssh://` when the hub host is not the reconciler host",
        expand=True,
    )
    identity_file: Str = key(
        "",
        "private key (path on the hub host) used to reach the volumes",
        expand=True,
        secret=True,
    )
    known_hosts: Str = key(
        "",
        "known_hosts file (path on the hub host); host keys are always checked",
        expand=True,
        secret=True,
    )
    rsync_args: RsyncArgs = key("", "rsync options, after the global ones", alias="rsync_args")
    rsync_env: RsyncEnv = key(
        "",
        "`NAME=value` environment for rsync, after the global one",
        alias="rsync_env",
        secret=True,
    )


class Volume(KindModel):
    """`volume/<name>`: one site. -1 in the stream and deletion-guard keys: the global value."""

    url: Url = key(REQUIRED, "the volume root", expand=True)
    enabled: Bool = key(True, "off: no scan, no transfer for this volume", desired=True)
    enable_discovery: Bool = key(False, "scan this volume for new, modified and deleted files")
    enable_discovery_packages: Bool = key(
        False, "apply the global `packagePatternRules` when scanning"
    )
    enable_discovery_updated_files: Bool = key(True, "a changed size/mtime is a new version")
    enable_discovery_deleted_files: Bool = key(
        True, "a file gone from its origin is marked `deleted`"
    )
    enable_emission: Bool = key(True, "send files published here to the hub")
    enable_reception: Bool = key(True, "receive files wanted here from the hub", desired=True)
    propagate_deletions: Bool = key(
        False, "move copies of deleted files to this volume's trash", desired=True
    )
    sync_amount_emission: Positive = key(1000, "files per emission rsync batch (≥ 1)")
    sync_amount_reception: Positive = key(1000, "files per reception rsync batch (≥ 1)")
    sync_bytes_emission: Positive = key(
        4 * 1024**3, "an emission batch also stops at this many bytes (≥ 1)"
    )
    sync_bytes_reception: Positive = key(
        4 * 1024**3, "a reception batch also stops at this many bytes (≥ 1)"
    )
    parallel_streams: Annotated[int, _rule(ck.streams(-1))] = key(
        -1,
        "this volume's concurrent rsync runs per batch (1–8; -1: the global value)",  # noqa: RUF001
    )
    rsync_args: RsyncArgs = key(
        "", "rsync options, after the global and hub ones", alias="rsync_args"
    )
    rsync_env: RsyncEnv = key(
        "",
        "`NAME=value` environment for rsync, after the global and hub ones",
        alias="rsync_env",
        secret=True,
    )
    notified_emails: Annotated[str, _rule(ck.emails)] = key(
        "",
        "comma-separated addresses told when the volume goes down/up or files fail",
        secret=True,
    )
    max_deletions_per_scan: Annotated[int, _rule(ck.integer(-1))] = key(
        -1, "this volume's deletion guard, files per scan (-1: the global value)"
    )
    max_deletions_percent: Annotated[int, _rule(ck.percent(-1))] = key(
        -1, "this volume's deletion guard, percentage of its files (-1: the global value)"
    )

    @property
    def receives(self) -> bool:
        return self.enabled and self.enable_reception

    @property
    def emits(self) -> bool:
        return self.enabled and self.enable_emission


class User(KindModel):
    """`@<name>`: a tracker user. The password keys are accepted, never stored as such: the
    hash lands in `password`, which `get` never shows; a new User needs one of them."""

    user_class: Annotated[str, _rule(ck.user_class)] = key(
        "user", "`guest`, `user`, `editor` or `admin`", alias="class"
    )
    email: Annotated[str, _rule(ck.email)] = key("", "e-mail address (also accepted at sign-in)")
    fullname: Str = key("", "display name")
    password_hash: Annotated[str | None, _rule(ck.password_hash)] = key(
        None,
        "an argon2id hash, or a legacy damas md5/sha1 hex digest (upgraded at next sign-in)",
        shown=False,
    )
    password_from_env: Annotated[str | None, _rule(ck.env_name)] = key(
        None,
        "name of an environment variable holding the password, read **where spctl runs**",
        shown=False,
    )


class SyncTarget(KindModel):
    """`synctarget/<name>`: which sites must (or must not) hold the files its globs match."""

    paths: Annotated[list[str], _rule(ck.list_of(ck.glob, required=True))] = key(
        REQUIRED,
        "globs of file ids: `/renders/**` (anchored), `*.exr` (any depth), `cache/` "
        "(folders); at least one",
        desired=True,
    )
    exclude: Globs = key([], "globs removed from `paths`", desired=True)
    sites: Sites = key([], "volumes that must hold the matching files", desired=True)
    everywhere: Bool = key(False, "every volume (exclusive with `sites`)", desired=True)
    exclude_sites: Sites = key(
        [], "volumes that must not get them (wins over every matching target)", desired=True
    )
    priority: Annotated[int, _rule(ck.integer(None))] = key(
        0, "work order of matching files (may be negative)", desired=True
    )


# ---- the registry -------------------------------------------------------------------------


class Kind(StrEnum):
    GLOBAL = "GlobalParameters"
    HUB = "Hub"
    VOLUME = "Volume"
    USER = "User"
    SYNCTARGET = "SyncTarget"


@dataclass(frozen=True)
class Column:
    """One column of `spctl get`: a spec key, or a status key (`status=True`).

    `show`: `value` as is; `time` an epoch-ms status as an ISO time; `list` a list joined
    with commas; `sites` a SyncTarget's sites (`*` when everywhere)."""

    header: str
    key: str
    status: bool = False
    show: Literal["value", "time", "list", "sites"] = "value"


@dataclass(frozen=True)
class KindInfo:
    kind: Kind
    word: str  # lower-case singular, as printed: `volume/paris`
    plural: str
    prefix: str  # tracker id = prefix + name (GlobalParameters: the fixed id)
    model: type[KindModel]
    name_re: re.Pattern[str]
    columns: tuple[Column, ...]  # `spctl get`
    wide: tuple[Column, ...]  # added by `-o wide`

    def doc_id(self, name: str) -> str:
        return CONFIG_GLOBAL_ID if self.kind is Kind.GLOBAL else self.prefix + name

    def ref(self, name: str) -> str:
        return f"{self.word}/{name}"

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """Every key a spec may hold, in the model's order (password keys included)."""
        return tuple(f.alias for f in self.model.model_fields.values() if f.alias)

    @cached_property
    def defaults(self) -> Mapping[str, Any]:
        """The stored (shown) keys and their defaults; None for a required key."""
        return {
            f.alias: None if f.is_required() else f.get_default(call_default_factory=True)
            for f in self.model.model_fields.values()
            if f.alias and _flag(f, "shown")
        }

    @cached_property
    def required(self) -> tuple[str, ...]:
        return tuple(
            f.alias for f in self.model.model_fields.values() if f.alias and f.is_required()
        )

    @cached_property
    def desired(self) -> tuple[str, ...]:
        """The keys the desired-state rules read: the fingerprint's."""
        return tuple(
            f.alias for f in self.model.model_fields.values() if f.alias and _flag(f, "desired")
        )

    @cached_property
    def expanded(self) -> tuple[str, ...]:
        """The path keys whose `${NAME}` variables the manifest loader expands."""
        return tuple(
            f.alias for f in self.model.model_fields.values() if f.alias and _flag(f, "expand")
        )

    @cached_property
    def secret(self) -> tuple[str, ...]:
        """The keys callers below admin read as `***`."""
        return tuple(
            f.alias for f in self.model.model_fields.values() if f.alias and _flag(f, "secret")
        )

    def field(self, alias: str) -> FieldInfo:
        return self.model.model_fields[_name_of(self.model, alias)]


def _spec(*columns: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(header, k) for header, k in columns)


def _when(*columns: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(header, k, status=True, show="time") for header, k in columns)


KINDS: dict[Kind, KindInfo] = {
    info.kind: info
    for info in (
        KindInfo(
            Kind.GLOBAL, "globalparameters", "globalparameters", CONFIG_GLOBAL_ID,
            GlobalParameters, re.compile(f"^{CONFIG_GLOBAL_ID}$"),
            _spec(("SCANS", "enableScans"), ("SLEEP", "sleepBetweenScans"),
                  ("SYNC-EVERYWHERE", "syncEverywhere")),
            _spec(("BACKOFF-BASE", "retryBackoffBase"), ("BACKOFF-MAX", "retryBackoffMax"),
                  ("TRASH-DAYS", "trashMaxAgeDays"), ("SMTP", "smtpHost")),
        ),
        KindInfo(
            Kind.HUB, "hub", "hubs", HUB_PREFIX, Hub, SITE_NAME_RE,
            _spec(("URL", "url")),
            _spec(("IDENTITY", "identityFile"), ("KNOWN-HOSTS", "knownHosts")),
        ),
        KindInfo(
            Kind.VOLUME, "volume", "volumes", VOLUME_PREFIX, Volume, SITE_NAME_RE,
            _spec(("URL", "url"), ("ENABLED", "enabled"), ("EMISSION", "enableEmission"),
                  ("RECEPTION", "enableReception"), ("DISCOVERY", "enableDiscovery")),
            (Column("STATUS", "agentStatus", status=True),
             *_when(("LAST-SCAN", "last_scan"), ("LAST-EMISSION", "last_emission"),
                    ("LAST-RECEPTION", "last_reception"))),
        ),
        KindInfo(
            Kind.USER, "user", "users", USER_PREFIX, User, USER_NAME_RE,
            _spec(("CLASS", "class"), ("EMAIL", "email")),
            (*_spec(("FULLNAME", "fullname")), *_when(("LAST-LOGIN", "lastlogin"))),
        ),
        KindInfo(
            Kind.SYNCTARGET, "synctarget", "synctargets", SYNCTARGET_PREFIX, SyncTarget,
            SYNCTARGET_NAME_RE,
            (Column("PATHS", "paths", show="list"), Column("SITES", "sites", show="sites"),
             Column("PRIORITY", "priority")),
            (Column("EXCLUDE", "exclude", show="list"),
             Column("EXCLUDE-SITES", "excludeSites", show="list")),
        ),
    )
}  # fmt: skip


def kind_of_id(doc_id: str) -> tuple[KindInfo, str] | None:
    """The kind and name of a tracker id, or None for files and plain nodes."""
    if doc_id == CONFIG_GLOBAL_ID:
        return KINDS[Kind.GLOBAL], CONFIG_GLOBAL_ID
    for info in KINDS.values():
        if info.kind is not Kind.GLOBAL and doc_id.startswith(info.prefix):
            return info, doc_id[len(info.prefix) :]
    return None


def lookup_kind(word: str) -> KindInfo | None:
    """`volume`, `volumes`, `Volume`: what `get` and `delete` accept."""
    low = word.lower()
    for info in KINDS.values():
        if low in (info.word, info.plural, info.kind.value.lower()):
            return info
    return None
