"""Manifests: YAML files and documents turned into validated `Manifest` values.

First stage of `spctl apply/diff`: read a file or a directory tree (`*.yaml`/`*.yml`,
recursive, sorted, hidden entries skipped), parse every YAML document, check each against
`manifest_schema` and the tree against itself (duplicates, one hub, hub/volume names,
sites named by SyncTargets). Nothing here touches the store: the checks that need live
objects take them as arguments. Errors are collected and reported kubectl-style:
`manifests/volumes.yaml: Volume "paris" is invalid: spec.url: Required value`.

Values taken from where spctl runs are resolved here, so the server side of `--server`
mode never reads its own environment for them: `passwordFromEnv` (read from `env`) and
`${SPCTL_HOME}`-style variables in the path keys of Hub and Volume (from `variables`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.core.kinds import KINDS, Kind, KindInfo
from reconciler.core.manifest_schema import API_VERSION, Problem, check_spec, show

_TOP_KEYS = ("apiVersion", "kind", "metadata", "spec", "status")
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ManifestError(ValueError):
    """Invalid manifests; `str()` is one line naming file, object and field path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        more = len(self.problems) - 1
        suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        super().__init__(self.problems[0] + suffix)


@dataclass(frozen=True)
class Manifest:
    kind: Kind
    name: str
    spec: Mapping[str, Any]  # as written, variables expanded, `null` values dropped
    source: str  # the file (or request) it came from, for messages
    document: Mapping[str, Any]  # what `--server` mode sends: no status, variables expanded
    password: str | None = field(default=None, repr=False)  # the value of passwordFromEnv
    warnings: tuple[str, ...] = ()  # said on stderr, nothing refused (see `parse_document`)

    @property
    def info(self) -> KindInfo:
        return KINDS[self.kind]

    @property
    def ref(self) -> str:
        return self.info.ref(self.name)

    @property
    def doc_id(self) -> str:
        return self.info.doc_id(self.name)

    def problem(self, path: str, reason: str) -> str:
        return f'{self.source}: {self.kind.value} "{self.name}" is invalid: {path}: {reason}'


@dataclass(frozen=True)
class RawDocument:
    source: str
    position: str  # `document 2 (line 14)`: names a document that has no kind or name yet
    body: Any


# ---- YAML ---------------------------------------------------------------------------------


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that manifests do not accept (anchors and aliases)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one) and
    anchors and aliases: a few lines of aliases (billion laughs) expand into gigabytes the
    moment a value is copied or printed in an error message."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            name = f"*{event.anchor}"
        elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            name = f"&{event.anchor}"
        else:
            return super().compose_node(parent, index)
        reason = f"anchors and aliases are not allowed in manifests ({name})"
        raise _Refused(None, None, reason, event.start_mark)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {show(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> list[RawDocument]:
    """Every non-empty document of a YAML stream; a syntax error names file and line."""
    loader = _Loader(text)
    out: list[RawDocument] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            index += 1
            if node is None:
                continue
            body = loader.construct_document(node)
            position = f"document {index} (line {node.start_mark.line + 1})"
            if isinstance(body, list):  # `get -o json|yaml` of a kind is a list of manifests
                out += [RawDocument(source, f"{position} item {i}", b) for i, b in enumerate(body)]
            elif body is not None:
                out.append(RawDocument(source, position, body))
    except _Refused as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ManifestError([f"{source}: line {line}: YAML {exc.problem}"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise ManifestError([f"{source}: {where}YAML syntax error: {exc.problem}"]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([f"{source}: YAML syntax error: {exc}"]) from None
    finally:
        loader.dispose()
    return out


def manifest_files(path: Path) -> list[Path]:
    """`path` itself, or the `*.yaml`/`*.yml` files below it in a stable order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ManifestError([f"{path}: no such file or directory"])
    found = [
        p
        for p in path.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(path).as_posix())


def read_path(path: Path) -> list[RawDocument]:
    docs: list[RawDocument] = []
    for file in manifest_files(path):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError([f"{file}: cannot read: {exc}"]) from None
        docs += parse_yaml(text, str(file))
    return docs


# ---- documents -> manifests ---------------------------------------------------------------


def _expand(value: Any, variables: Mapping[str, str]) -> tuple[Any, str | None]:
    if not isinstance(value, str):
        return value, None
    unknown = [m for m in _VAR_RE.findall(value) if m not in variables]
    if unknown:
        known = ", ".join(f"${{{v}}}" for v in variables) or "none"
        return (
            value,
            f"Invalid value: {show(value)}: unknown variable ${{{unknown[0]}}} (expanded: {known})",
        )
    return _VAR_RE.sub(lambda m: variables[m.group(1)], value), None


def _head(raw: RawDocument) -> tuple[KindInfo | None, str | None, list[Problem]]:
    """Kind, name and the problems of everything outside `spec`."""
    body = raw.body
    if not isinstance(body, dict):
        return None, None, [("", f"Invalid value: a manifest must be a mapping, got {show(body)}")]
    problems: list[Problem] = []
    problems += [(str(k), "Unknown field") for k in body if k not in _TOP_KEYS]
    if body.get("apiVersion") != API_VERSION:
        reason = (
            "Required value"
            if "apiVersion" not in body
            else f"Unsupported value: {show(body.get('apiVersion'))}: "
            f'supported values: "{API_VERSION}"'
        )
        problems.append(("apiVersion", reason))
    kinds = {k.value: k for k in Kind}
    kind = body.get("kind")
    info = KINDS[kinds[kind]] if isinstance(kind, str) and kind in kinds else None
    if info is None:
        supported = ", ".join(f'"{k}"' for k in kinds)
        reason = (
            "Required value"
            if "kind" not in body
            else f"Unsupported value: {show(body.get('kind'))}: supported values: {supported}"
        )
        problems.append(("kind", reason))
    meta = body.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(meta, dict):
        problems.append(("metadata", "Required value" if meta is None else "must be a mapping"))
    else:
        problems += [(f"metadata.{k}", "Unknown field") for k in meta if k != "name"]
        if name is None:
            problems.append(("metadata.name", "Required value"))
        elif info is not None and (not isinstance(name, str) or not info.name_re.match(name)):
            problems.append(
                ("metadata.name", f"Invalid value: {show(name)}: must match {info.name_re.pattern}")
            )
    spec = body.get("spec", {})
    if spec is not None and not isinstance(spec, dict):
        problems.append(("spec", f"Invalid value: {show(spec)}: must be a mapping"))
    return info, name if isinstance(name, str) else None, problems


def parse_document(
    raw: RawDocument,
    *,
    env: Mapping[str, str],
    variables: Mapping[str, str],
    unset_passwords_ok: bool = False,
) -> Manifest | list[str]:
    """One manifest, or the messages of its problems.

    `unset_passwords_ok` (diff): an unset `passwordFromEnv` variable is a warning and the
    user's password compares as unchanged, since nothing will be written.
    """
    info, name, problems = _head(raw)
    warnings: list[str] = []
    spec_in = raw.body.get("spec") if isinstance(raw.body, dict) else None
    spec = (
        {k: v for k, v in (spec_in or {}).items() if v is not None}
        if isinstance(spec_in, dict)
        else {}
    )
    password = None
    if info is not None:
        for key in info.expanded:
            spec[key], reason = _expand(spec.get(key), variables)
            if reason:
                problems.append((f"spec.{key}", reason))
            if spec[key] is None:
                del spec[key]
        problems += check_spec(info.kind, spec)
        var = spec.get("passwordFromEnv")
        if info.kind is Kind.USER and isinstance(var, str):
            password = env.get(var) or None
            if password is None and unset_passwords_ok:
                warnings.append(
                    f'{raw.source}: {info.kind.value} "{name}": spec.passwordFromEnv: '
                    f"environment variable {show(var)} is not set (or empty) where spctl runs: "
                    "the password is compared as unchanged"
                )
            elif password is None:
                problems.append(
                    (
                        "spec.passwordFromEnv",
                        f"Invalid value: {show(var)}: "
                        "environment variable is not set (or empty) where spctl runs",
                    )
                )
    if problems:
        if info is not None and name is not None:
            who = f'{info.kind.value} "{name}" is invalid'
        else:
            who = f"{raw.position} is invalid"
        return [f"{raw.source}: {who}: " + (f"{p}: {r}" if p else r) for p, r in problems]
    assert info is not None and name is not None
    document = {k: v for k, v in raw.body.items() if k != "status"}
    document["spec"] = spec
    return Manifest(info.kind, name, spec, raw.source, document, password, tuple(warnings))


def password_variables(path: Path) -> dict[str, str]:
    """`passwordFromEnv` variable -> user name of the User manifests under `path`, read from
    the raw documents (before their variables are set: the demo sets them from this)."""
    out: dict[str, str] = {}
    for raw in read_path(path):
        body = raw.body if isinstance(raw.body, dict) else {}
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        var = spec.get("passwordFromEnv") if spec else None
        name = (body.get("metadata") or {}).get("name")
        if body.get("kind") == Kind.USER.value and isinstance(var, str):
            out[var] = str(name)
    return out


def parse_documents(
    raws: Iterable[RawDocument],
    *,
    env: Mapping[str, str],
    variables: Mapping[str, str],
    unset_passwords_ok: bool = False,
) -> list[Manifest]:
    """Validate every document and the tree as a whole; raise ManifestError on any problem."""
    manifests: list[Manifest] = []
    errors: list[str] = []
    for raw in raws:
        parsed = parse_document(
            raw, env=env, variables=variables, unset_passwords_ok=unset_passwords_ok
        )
        if isinstance(parsed, Manifest):
            manifests.append(parsed)
        else:
            errors += parsed
    errors += _duplicates(manifests)
    if errors:
        raise ManifestError(errors)
    return manifests


def load(
    path: Path,
    *,
    env: Mapping[str, str],
    variables: Mapping[str, str],
    unset_passwords_ok: bool = False,
) -> list[Manifest]:
    return parse_documents(
        read_path(path), env=env, variables=variables, unset_passwords_ok=unset_passwords_ok
    )


def _duplicates(manifests: Sequence[Manifest]) -> Iterator[str]:
    first: dict[tuple[Kind, str], Manifest] = {}
    for m in manifests:
        seen = first.setdefault((m.kind, m.name), m)
        if seen is not m:
            yield m.problem(
                "metadata.name", f"Duplicate value: {show(m.name)} (also in {seen.source})"
            )


def check_references(
    manifests: Sequence[Manifest],
    *,
    live_hubs: Iterable[str],
    live_volumes: Iterable[str],
    pruned_volumes: Iterable[str] = (),
) -> None:
    """Cross-object rules against the tree and the live objects that will remain.

    One hub in all; no volume named like the hub; SyncTargets name known sites.
    `live_*` are the names in the store that this apply keeps (not pruned, not redeclared);
    `pruned_volumes` are stored ones `--prune` would remove (named as such in messages).
    """
    hubs = [*dict.fromkeys([*(m.name for m in manifests if m.kind is Kind.HUB), *live_hubs])]
    volumes = {*(m.name for m in manifests if m.kind is Kind.VOLUME), *live_volumes}
    stored = set(live_volumes)
    pruned = set(pruned_volumes)
    errors = [
        m.problem(*p) for m in manifests for p in _references(m, hubs, volumes, stored, pruned)
    ]
    if errors:
        raise ManifestError(errors)


def _references(
    m: Manifest,
    hubs: Sequence[str],
    volumes: Set[str],
    stored_volumes: Set[str],
    pruned_volumes: Set[str],
) -> Iterator[Problem]:
    name = show(m.name)
    if m.kind is Kind.HUB:
        if m.name in stored_volumes:  # a clash inside the tree is reported on the Volume
            yield "metadata.name", f"Invalid value: {name}: a volume already has this name"
        others = [h for h in hubs if h != m.name]
        if others:
            yield (
                "metadata.name",
                (
                    f"Forbidden: only one Hub is allowed; hub {show(others[0])} is also declared "
                    "or stored"
                ),
            )
    elif m.kind is Kind.VOLUME and m.name in hubs:
        yield "metadata.name", f"Invalid value: {name}: a Volume cannot be named like the hub"
    elif m.kind is Kind.SYNCTARGET:
        for key in ("sites", "excludeSites"):
            for i, site in enumerate(m.spec.get(key) or []):
                if site in pruned_volumes:
                    yield (
                        f"spec.{key}[{i}]",
                        f"Not found: {show(site)}: volume/{site} is in the store but not in "
                        "the manifests, so --prune would prune it",
                    )
                elif site not in volumes:
                    yield (
                        f"spec.{key}[{i}]",
                        (f"Not found: {show(site)}: no such volume in the manifests or the store"),
                    )


# ---- the wire format of `--server` mode ---------------------------------------------------


def wire_body(manifests: Sequence[Manifest]) -> dict[str, Any]:
    """What spctl sends: documents, their files, and the env values they refer to."""
    env = {
        str(m.spec["passwordFromEnv"]): m.password
        for m in manifests
        if m.kind is Kind.USER and m.password is not None
    }
    return {
        "manifests": [dict(m.document) for m in manifests],
        "sources": [m.source for m in manifests],
        "env": env,
    }


def from_wire(body: Any, *, unset_passwords_ok: bool = False) -> list[Manifest]:
    """The server side of `wire_body`: validate again, with the caller's env values."""
    if not isinstance(body, dict) or not isinstance(body.get("manifests"), list):
        raise ManifestError(["request: manifests: Required value: a list of manifests"])
    docs: list[Any] = body["manifests"]
    sources = body.get("sources") or ["request"] * len(docs)
    env = body.get("env") or {}
    if (
        not isinstance(sources, list)
        or len(sources) != len(docs)
        or not all(isinstance(s, str) for s in sources)
    ):
        raise ManifestError(["request: sources: Invalid value: one file name per manifest"])
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ManifestError(["request: env: Invalid value: a mapping of names to strings"])
    raws = [
        RawDocument(source, f"manifest {i + 1}", doc)
        for i, (source, doc) in enumerate(zip(sources, docs, strict=True))
    ]
    return parse_documents(raws, env=env, variables={}, unset_passwords_ok=unset_passwords_ok)
