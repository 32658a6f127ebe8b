"""Generated parts of the documentation site, read from the code at build time.

A MkDocs hook (`hooks:` in mkdocs.yml) and a small command. Hand-written pages hold markers
such as `<!-- generated: spctl -->`; `on_page_markdown` replaces each marker with text
rendered from the code itself, so the reference cannot drift from what ships:

- `spctl`: every command of the Typer app `spctl.app`, from its command tree
  (usage, arguments and options as `--help` prints them);
- `metrics`: every series of the Prometheus registry built by `reconciler.services.metrics.Metrics`,
  with the store collector registered (name, type, labels, help);
- `manifest-keys KIND`: the keys of one manifest kind in `get -o yaml` order, their type,
  default and meaning, all from the kind's model in `reconciler.core.kinds` (the build
  fails when a key has no description);
- `api-routes`: the routes of the OpenAPI document of the app `api.app.create_app` builds
  on a throwaway SQLite store (method, path, group, description);

and `on_files` adds `changelog.md` (the repository's CHANGELOG.md as a page) and
`openapi.json` (the tracker's OpenAPI document, as the running tracker serves it).

`python scripts/gen_docs.py NAME [ARG]` prints one generated part (for a look, or a diff).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- generated: ([a-z-]+)(?: ([A-Za-z]+))? -->$", re.MULTILINE)


# --- spctl --------------------------------------------------------------------------------


def _commands(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    """(command, context) for every visible command below `command`, depth first."""
    context_class = type(ctx)
    for name, sub in getattr(command, "commands", {}).items():
        if getattr(sub, "hidden", False):
            continue
        sub_ctx = context_class(sub, info_name=name, parent=ctx)
        if getattr(sub, "commands", None):
            yield from _commands(sub, sub_ctx)
        else:
            yield sub, sub_ctx


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_spctl() -> str:
    """Markdown for every `spctl` command: help text, usage, arguments and options."""
    import typer.main

    from spctl import app

    root = typer.main.get_command(app)
    # Typer may vendor click: take the Context class from the command's own module.
    context_class = sys.modules[type(root).__mro__[1].__module__].Context
    root_ctx = context_class(root, info_name="spctl")
    commands = list(_commands(root, root_ctx))
    out = ["| command | what it does |", "|---|---|"]
    for command, ctx in commands:
        anchor = ctx.command_path.replace(" ", "-")
        summary = command.get_short_help_str(limit=120)
        out.append(f"| [`{ctx.command_path}`](#{anchor}) | {_cell(summary)} |")
    out += ["", *_options(root, root_ctx, "## `spctl` (global options)")]
    for command, ctx in commands:
        path = ctx.command_path
        out += [f"## `{path}`", ""]
        help_text = (command.help or "").strip()
        if help_text:
            out += [help_text.replace("\b\n", ""), ""]
        usage = command.get_usage(ctx).removeprefix("Usage: ")
        out += ["```text", usage, "```", "", *_options(command, ctx)]
    return "\n".join(out)


def _options(command: Any, ctx: Any, title: str | None = None) -> list[str]:
    """The arguments and options of one command as a table (none: nothing)."""
    rows = []
    for param in command.params:
        record = None if getattr(param, "hidden", False) else param.get_help_record(ctx)
        if record:
            rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
    if not rows:
        return []
    head = [title, ""] if title else []
    return [*head, "| argument / option | meaning |", "|---|---|", *rows, ""]


# --- metrics ------------------------------------------------------------------------------


def _series_name(name: str, kind: str) -> str:
    return {"counter": f"{name}_total", "info": f"{name}_info"}.get(kind, name)


def render_metrics() -> str:
    """A table of every series the registry exports (the store collector included)."""
    from prometheus_client import CollectorRegistry

    from reconciler.services.metrics import Metrics
    from reconciler.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/metrics.db")
        try:
            metrics = Metrics(CollectorRegistry())
            metrics.register_store_collector(store)
            rows = sorted(_metric_rows(metrics.registry))
        finally:
            store.close()
    lines = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for name, kind, labels, doc in rows:
        shown = ", ".join(f"`{label}`" for label in labels) or "-"
        lines.append(f"| `{name}` | {kind} | {shown} | {_cell(doc)} |")
    return "\n".join(lines)


def _metric_rows(registry: Any) -> Iterator[tuple[str, str, tuple[str, ...], str]]:
    # Label names are not in describe() for client_python's own metrics: read them from the
    # collector (or the family a custom collector describes), and from samples for Info.
    for collector in list(registry._collector_to_names):
        # A collector without describe() (the process collector) is asked for its families.
        describe = getattr(collector, "describe", None)
        for family in describe() if describe else collector.collect():
            labels = tuple(
                getattr(family, "_labelnames", ()) or getattr(collector, "_labelnames", ())
            )
            if family.type == "info":
                sampled = {k for f in collector.collect() for s in f.samples for k in s.labels}
                labels = tuple(sorted(sampled))
            kind = "gauge" if family.type == "info" else family.type
            yield _series_name(family.name, family.type), kind, labels, family.documentation


# --- manifests ----------------------------------------------------------------------------


def _type_of(annotation: Any) -> str:
    """The type a key takes, from its model field (pydantic keeps the checks apart)."""
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    return "list" if typing.get_origin(annotation) is list else "string"


def _default(default: Any, required: bool) -> str:
    if required:
        return "— (required)"
    if default is None:
        return "—"
    return f"`{json.dumps(default)}`"


def render_manifest_keys(kind_name: str) -> str:
    """The key table of one kind, from its model in the registry (`reconciler.core.kinds`):
    key, type, default and meaning (the field's description; the build fails without one)."""
    from reconciler.core.kinds import KINDS, Kind

    info = KINDS[Kind(kind_name)]
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in info.keys:
        field = info.field(key)
        if not field.description:
            raise ValueError(f"{info.model.__name__}: key {key} has no description")
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        shown = _default(default, field.is_required())
        lines.append(
            f"| `{key}` | {_type_of(field.annotation)} | {shown} | {_cell(field.description)} |"
        )
    return "\n".join(lines)


# --- API routes ---------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app `api.app.create_app` builds on a throwaway store."""
    if "openapi" not in _documents:
        from api.app import create_app
        from api.settings import Settings
        from reconciler.store import Store

        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/api.db"
            store = Store.open(url)
            try:
                settings = Settings(db_url=url, secret="docs", admin_password="docs-only")
                _documents["openapi"] = create_app(settings, store=store).openapi()
            finally:
                store.close()
    return _documents["openapi"]


def render_api_routes() -> str:
    """Method, path, group and description of every route in the app's OpenAPI document."""
    document = openapi_document()
    lines = ["| method | path | group | notes |", "|---|---|---|---|"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            group = ", ".join(operation.get("tags") or []) or "sync"
            notes = (operation.get("description") or "").strip().split("\n")[0]
            lines.append(f"| {method.upper()} | `{path}` | {group} | {_cell(notes)} |")
    return "\n".join(lines)


# --- the hook -----------------------------------------------------------------------------

RENDERERS: dict[str, Callable[..., str]] = {
    "spctl": render_spctl,
    "metrics": render_metrics,
    "manifest-keys": render_manifest_keys,
    "api-routes": render_api_routes,
}
_cache: dict[tuple[str, str | None], str] = {}
_documents: dict[str, dict[str, Any]] = {}


def render(name: str, arg: str | None = None) -> str:
    if (name, arg) not in _cache:
        renderer = RENDERERS[name]
        _cache[(name, arg)] = renderer(arg) if arg else renderer()
    return _cache[(name, arg)]


def expand(markdown: str) -> str:
    """Replace every `<!-- generated: NAME [ARG] -->` marker with its rendered text."""
    return MARKER.sub(lambda m: render(m.group(1), m.group(2)), markdown)


def on_pre_build(config: Any) -> None:
    _cache.clear()  # `mkdocs serve` rebuilds: read the code again
    _documents.clear()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return expand(markdown)


def changelog_page() -> str:
    path = ROOT / "CHANGELOG.md"
    if path.is_file():
        return path.read_text()
    return "# Changelog\n\nNo CHANGELOG.md in the repository yet.\n"


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, "changelog.md", content=changelog_page()))
    openapi = json.dumps(openapi_document(), indent=2)
    files.append(File.generated(config, "openapi.json", content=openapi))
    return files


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if len(sys.argv) < 2 or sys.argv[1] not in RENDERERS:
        sys.exit(f"usage: gen_docs.py {{{','.join(RENDERERS)}}} [ARG]")
    print(render(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
