"""Server-rendered HTML of the web page (stdlib `string.Template`, no template engine).

The page is rendered for the signed-in user: the controls a class may use are in the HTML
only for that class (user and above: publish, comment, lock/unlock; editor and above: change
priority), so a guest's page holds no write buttons at all. Values are HTML-escaped here;
the templates and static files ship as package data in `api/web/`.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache
from importlib import resources
from string import Template

from api.deps import User, UserClass

STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


def _read(folder: str, name: str) -> bytes:
    return resources.files("api").joinpath("web", folder, name).read_bytes()


@cache
def template(name: str) -> Template:
    return Template(_read("templates", name).decode())


@cache
def static_file(name: str) -> tuple[bytes, str] | None:
    """A shipped static asset and its media type; None for anything else."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or "\\" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        return None
    try:
        return _read("static", name), STATIC_TYPES[suffix]
    except (FileNotFoundError, IsADirectoryError):
        return None


@cache
def asset_version() -> str:
    """Changes when the assets change, so browsers never run a stale script."""
    digest = hashlib.sha256()
    for name in ("app.js", "style.css", "favicon.svg"):
        found = static_file(name)
        digest.update(found[0] if found else b"")
    return digest.hexdigest()[:12]


def _layout(*, title: str, page: str, body: str, viewer: User | None) -> str:
    return template("layout.html").substitute(
        title=html.escape(title),
        page=page,
        version=asset_version(),
        user=html.escape(viewer.username if viewer else ""),
        user_class=viewer.cls.label if viewer else "",
        body=body,
    )


def signin_page() -> str:
    return _layout(
        title="Sign in", page="signin", body=template("signin.html").template, viewer=None
    )


def app_page(viewer: User) -> str:
    writer = viewer.cls >= UserClass.USER
    editor = viewer.cls >= UserClass.EDITOR
    actions = template("actions.html").template if writer else ""
    if editor:
        actions += template("priority.html").template
    body = template("app.html").substitute(
        user=html.escape(viewer.username),
        user_class=viewer.cls.label,
        publish=template("publish.html").template if writer else "",
        actions=actions,
    )
    return _layout(title="Files and sites", page="app", body=body, viewer=viewer)
