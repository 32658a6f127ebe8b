"""User objects (`@name`): their validation, sign-in, password change and the first admin.

A user document is `{_id: "@alice", username, class, email?, fullname?, disable?, password}`
where `password` holds the argon2id hash (architecture.md#tracker-api). An admin sends the plaintext
in `password` (hashed here) or an existing hash in `passwordHash` (argon2 or damas' md5/sha1, stored
as is and upgraded at the next sign-in).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from api.auth import (
    PASSWORD_KEY,
    BadLifetime,
    issue_token,
    lifetime_seconds,
    password_hash,
    public_doc,
)
from api.deps import UserClass
from api.errors import ApiFailure
from api.settings import Settings
from api.signin_limits import SigninLimits
from reconciler.core.domain import USER_NAME_RE, USER_PREFIX
from reconciler.core.passwords import Passwords, generate_password, is_stored_hash
from reconciler.store import Store, Tx
from reconciler.store.errors import DuplicateKey
from reconciler.store.lookups import any_user, user_id_by_email

CLASSES = ("guest", "user", "editor", "admin")
INVALID_CREDENTIALS = "Invalid username or password"


def user_changes(doc: Mapping[str, Any], passwords: Passwords, label: str) -> dict[str, Any]:
    """Validate the keys an admin writes on a user document; hash a plaintext password."""
    node_id = str(doc["_id"])
    name = node_id[len(USER_PREFIX) :]
    if not USER_NAME_RE.match(name):
        raise ApiFailure(
            400,
            f"{label} error: Bad request: user _id must be @<name> with "
            f"name matching {USER_NAME_RE.pattern}: {node_id!r}",
        )
    out = dict(doc)
    if "username" in out and out["username"] not in (None, name):
        raise ApiFailure(400, f"{label} error: Bad request: username must be {name!r}")
    out["username"] = name
    if out.get("class") is not None and out["class"] not in CLASSES:
        raise ApiFailure(
            400, f"{label} error: Bad request: class must be one of {', '.join(CLASSES)}"
        )
    if "passwordHash" in out:
        stored = out.pop("passwordHash")
        if stored is not None and not is_stored_hash(stored):
            raise ApiFailure(
                400, f"{label} error: Bad request: passwordHash must be an argon2, md5 or sha1 hash"
            )
        out[PASSWORD_KEY] = stored
    elif PASSWORD_KEY in out and out[PASSWORD_KEY] is not None:
        plain = out[PASSWORD_KEY]
        if not isinstance(plain, str) or not plain:
            raise ApiFailure(
                400, f"{label} error: Bad request: password must be a non-empty string"
            )
        out[PASSWORD_KEY] = passwords.hash(plain)
    return out


def new_user_doc(name: str, password_hash: str, cls: str) -> dict[str, Any]:
    return {"_id": USER_PREFIX + name, "username": name, "class": cls, PASSWORD_KEY: password_hash}


def find_user(tx: Tx, login: str) -> dict[str, Any] | None:
    """By username, else by e-mail address (damas-core accepts either at sign-in)."""
    doc = tx.get(USER_PREFIX + login) if login else None
    if doc is not None or "@" not in login:
        return doc
    found = user_id_by_email(tx, login)
    return tx.get(found) if found else None


def _lifetime(value: object, default: str) -> float | None:
    try:
        return lifetime_seconds(default if value is None else value)
    except BadLifetime as exc:
        raise ApiFailure(400, f"Bad request: expiresIn: {exc}") from None


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str
    lifetime: float | None  # None: a token that never expires (admins only)


def credentials(body: Mapping[str, Any], settings: Settings) -> Credentials:
    """The signIn request, checked: 400 on missing or malformed fields."""
    login, plain = body.get("username"), body.get("password")
    if not isinstance(login, str) or not isinstance(plain, str) or not login or not plain:
        raise ApiFailure(400, "Bad request: signIn needs the fields username and password")
    if "\x00" in login or "\x00" in plain:
        raise ApiFailure(400, "Bad request: username and password must not contain NUL")
    return Credentials(login, plain, _lifetime(body.get("expiresIn"), settings.token_lifetime))


def _limits(settings: Settings) -> SigninLimits:
    return SigninLimits(
        max_per_account=settings.signin_max_failures,
        max_per_address=settings.signin_max_failures_per_address,
        window=settings.signin_window,
    )


def _too_many(wait: int) -> ApiFailure:
    return ApiFailure(
        429, f"Too many failed sign-ins: try again in {wait} s", headers={"Retry-After": str(wait)}
    )


def _check_lifetime(doc: Mapping[str, Any], lifetime: float | None) -> None:
    if lifetime is None and UserClass.parse(doc.get("class")) < UserClass.ADMIN:
        raise ApiFailure(403, "Forbidden: a token that never expires (expiresIn 0) is for admins")


def sign_in(
    store: Store,
    passwords: Passwords,
    settings: Settings,
    body: Mapping[str, Any],
    *,
    address: str | None,
    now_ms: int,
) -> dict[str, Any]:
    """Check the credentials; reply `{_id, user, token}` (damas-core), store `lastlogin`.

    The password is checked outside any transaction (argon2 is slow on purpose: inside the
    SQLite write lock it would serialise every write of the server). Unknown users are
    checked against a dummy hash, so that the reply time does not tell whether they exist;
    a disabled user gets the same reply whether the password was right or not. Failures
    count towards the brute-force limit (`api.signin_limits`): past it, 429.
    """
    creds = credentials(body, settings)
    limits, now = _limits(settings), now_ms / 1000
    with store.read() as tx:
        doc = find_user(tx, creds.login)
        account = str(doc["_id"]) if doc else creds.login
        keys = limits.limits(account, address)
        wait = limits.retry_after(tx, keys, now)
    if wait:
        raise _too_many(wait)
    stored = password_hash(doc) if doc else ""
    right = passwords.verify(stored or passwords.dummy_hash, creds.password) and bool(stored)
    if doc is None or not right or doc.get("disable"):
        with store.write() as tx:
            limits.count_failure(tx, keys, now)
        disabled = doc is not None and doc.get("disable")
        raise ApiFailure(401, "Unauthorized connection" if disabled else INVALID_CREDENTIALS)
    _check_lifetime(doc, creds.lifetime)
    upgraded = passwords.hash(creds.password) if passwords.needs_upgrade(stored) else None
    with store.write() as tx:
        current = tx.get(account)
        if current is None or password_hash(current) != stored or current.get("disable"):
            raise ApiFailure(401, INVALID_CREDENTIALS)  # changed while we were checking
        changes: dict[str, Any] = {"lastlogin": now_ms}
        if upgraded is not None:
            changes[PASSWORD_KEY] = upgraded
        doc = tx.patch(account, changes) or current
        limits.clear_account(tx, account)
    token = issue_token(settings.secret, doc, lifetime=creds.lifetime, now_s=now)
    return {"_id": doc["_id"], "user": public_doc(doc), "token": token}


def create_token(tx: Tx, settings: Settings, user_id: str, body: Any, now_ms: int) -> str:
    """A new token for the caller; one that never expires (`expiresIn` 0) for admins only."""
    expires = body.get("expiresIn") if isinstance(body, dict) else None
    lifetime = _lifetime(expires, settings.token_lifetime)
    doc = tx.get(user_id)
    if doc is None:
        raise ApiFailure(401, INVALID_CREDENTIALS)
    _check_lifetime(doc, lifetime)
    return issue_token(settings.secret, doc, lifetime=lifetime, now_s=now_ms / 1000)


def change_password(
    store: Store,
    passwords: Passwords,
    settings: Settings,
    user_id: str,
    body: Any,
    *,
    now_ms: int,
) -> dict[str, Any]:
    """Replace the caller's password; every earlier token stops working. Reply as signIn.

    As at sign-in, argon2 runs outside any transaction, and wrong current passwords count
    towards the account's brute-force limit (a stolen token must not make a fast oracle).
    """
    old = body.get("password") if isinstance(body, dict) else None
    new = body.get("newPassword") if isinstance(body, dict) else None
    if not isinstance(old, str) or not isinstance(new, str) or not new:
        raise ApiFailure(
            400,
            "Bad request: changePassword needs the fields password and "
            "newPassword (non-empty strings)",
        )
    limits, now = _limits(settings), now_ms / 1000
    keys = limits.limits(user_id, None)
    with store.read() as tx:
        doc = tx.get(user_id)
        wait = limits.retry_after(tx, keys, now)
    if wait:
        raise _too_many(wait)
    stored = password_hash(doc) if doc else ""
    if doc is None or not passwords.verify(stored, old):
        with store.write() as tx:
            limits.count_failure(tx, keys, now)
        raise ApiFailure(403, "ChangePassword error: the current password is wrong")
    fresh = passwords.hash(new)
    with store.write() as tx:
        current = tx.get(user_id)
        if current is None or password_hash(current) != stored:
            raise ApiFailure(409, "ChangePassword error: Conflict (the password changed meanwhile)")
        doc = tx.patch(user_id, {PASSWORD_KEY: fresh}) or current
    lifetime = _lifetime(None, settings.token_lifetime)
    token = issue_token(settings.secret, doc, lifetime=lifetime, now_s=now)
    return {"_id": doc["_id"], "user": public_doc(doc), "token": token}


def ensure_admin(
    store: Store,
    settings: Settings,
    passwords: Passwords,
    announce: Callable[[str], None] | None = None,
) -> str | None:
    """On a store without users, create `admin`; return the password if it was generated.

    The password is SPCTL_ADMIN_PASSWORD when set; otherwise a random one is announced once
    (on stderr by default) and never stored in clear.
    """
    generated = None if settings.admin_password else generate_password()
    plain = settings.admin_password or generated or ""
    try:
        with store.write() as tx:
            if any_user(tx):
                return None
            tx.insert(new_user_doc("admin", passwords.hash(plain), "admin"))
    except DuplicateKey:  # another process started at the same time and won
        return None
    if generated is not None:
        say = announce or (lambda text: print(text, file=sys.stderr, flush=True))
        say(
            f"spctl: created user 'admin' with password {generated} (shown once; "
            "set SPCTL_ADMIN_PASSWORD to choose it)"
        )
    return generated
