"""FastAPI dependencies shared by every router: the store, the settings, the caller.

`require(UserClass.EDITOR)` is the class check of architecture.md#tracker-api: 401 without a valid
token (`Authorization: Bearer <jwt>` or cookie `token`), 403 when the caller's class is too low. The
caller's class is read from its user document on every request, so a class change or a password
change (which revokes tokens) takes effect at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Annotated, Any

from fastapi import Depends, Request

from api.auth import peek_user_id, public_doc, token_valid
from api.errors import ApiFailure
from api.settings import Settings
from reconciler.core.domain import USER_PREFIX
from reconciler.core.passwords import Passwords
from reconciler.store import Store

UNAUTHORIZED = "401 Unauthorized (invalid token and authentication is required)"


class UserClass(IntEnum):
    GUEST = 0
    USER = 1
    EDITOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: object) -> UserClass:
        """A user document's `class`; missing or unknown acts as guest (damas-core)."""
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        return cls.GUEST

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class User:
    username: str
    cls: UserClass
    doc: dict[str, Any] = field(default_factory=dict)  # without password material

    @property
    def is_admin(self) -> bool:
        return self.cls >= UserClass.ADMIN

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> User:
        name = doc.get("username")
        if not isinstance(name, str) or not name:
            name = str(doc["_id"])[len(USER_PREFIX) :]
        return cls(username=name, cls=UserClass.parse(doc.get("class")), doc=public_doc(doc))


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_passwords(request: Request) -> Passwords:
    passwords: Passwords = request.app.state.passwords
    return passwords


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]


def header_token(request: Request) -> str | None:
    """The token of `Authorization: <word> <token>` (clients send Bearer), or None."""
    header = request.headers.get("authorization")
    if header:
        parts = header.split(None, 1)
        if len(parts) == 2 and parts[1].strip():
            return parts[1].strip()
    return None


def token_of(request: Request) -> str | None:
    """The token of the Authorization header, else of the web page's session cookie `token`
    (`api.csrf` guards the requests authenticated by the cookie)."""
    return header_token(request) or request.cookies.get("token") or None


def user_for_token(token: str | None, secret: str, lookup: Callable[[str], Any]) -> User | None:
    """The user a token stands for, or None; `lookup(id)` returns the stored user document."""
    user_id = peek_user_id(token) if token else None
    if token is None or user_id is None:
        return None
    doc = lookup(user_id)
    if not isinstance(doc, dict) or not token_valid(token, secret, doc, now_s=time.time()):
        return None
    return User.from_doc(doc)


def authenticate(request: Request) -> User:
    """The signed-in caller; 401 otherwise. Cached on the request (one lookup per request)."""
    cached = getattr(request.state, "user", None)
    if isinstance(cached, User):
        return cached
    store = get_store(request)

    def lookup(user_id: str) -> Any:
        with store.read() as tx:
            return tx.get(user_id)

    user = user_for_token(token_of(request), get_settings(request).secret, lookup)
    if user is None:
        raise ApiFailure(401, UNAUTHORIZED)
    request.state.user = user
    return user


def forbidden(request: Request) -> ApiFailure:
    route = request.url.path.removeprefix("/api/").split("/", 1)[0] or request.url.path
    return ApiFailure(403, f"Access {route} error: Forbidden (permission required)")


def require(min_class: UserClass) -> Callable[..., User]:
    """A dependency giving the caller, who must hold at least `min_class`."""

    def dependency(request: Request) -> User:
        user = authenticate(request)
        if user.cls < min_class:
            raise forbidden(request)
        return user

    dependency.__name__ = f"require_{min_class.label}"
    return dependency


CurrentUser = Annotated[User, Depends(require(UserClass.GUEST))]
UserDep = Annotated[User, Depends(require(UserClass.USER))]
EditorDep = Annotated[User, Depends(require(UserClass.EDITOR))]
AdminDep = Annotated[User, Depends(require(UserClass.ADMIN))]
