"""signIn's brute-force limit, on each store: 429 with Retry-After past N failures in a window,
per account and per client address, shared by every API process on the store; the right
password is accepted again once the window has passed. Windows here are a second or two
(`signin_window` is a setting), so no test waits for a real one.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from reconciler.store.schema import signin_attempts
from tests.api.conftest import ADMIN_PASSWORD, Api, MakeApi


def attempt(api: Api, username: str, password: str) -> int:
    reply = api.http.post("/api/signIn", json={"username": username, "password": password})
    status: int = reply.status_code
    return status


def wrong(api: Api, username: str = "admin", times: int = 1) -> list[int]:
    return [attempt(api, username, "not-the-password") for _ in range(times)]


def test_past_the_limit_429_until_the_window_has_passed(make_api: MakeApi) -> None:
    window = 4.0  # seconds: room for a loaded machine, short enough to wait for
    api = make_api(signin_max_failures=3, signin_window=window)
    assert wrong(api, times=3) == [401, 401, 401]
    started = time.monotonic()  # after the last failure: each check is slow on a loaded machine
    blocked = api.http.post("/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert blocked.status_code == 429, blocked.text
    assert 1 <= int(blocked.headers["Retry-After"]) <= window
    assert "Too many failed sign-ins" in blocked.text
    assert wrong(api) == [429]  # blocked attempts are not even checked
    time.sleep(max(0.0, started + window + 0.2 - time.monotonic()))
    assert attempt(api, "admin", ADMIN_PASSWORD) == 200


def test_the_count_lives_in_the_store(make_api: MakeApi) -> None:
    api = make_api(signin_max_failures=3, signin_window=60.0)
    wrong(api, times=2)
    with api.store.read() as tx:
        rows: dict[str, int] = dict(
            tx.conn.execute(sa.select(signin_attempts.c.key, signin_attempts.c.failures)).all()
        )
    assert rows == {"account:@admin": 2, "address:testclient": 2}


def test_a_success_clears_the_account_count(make_api: MakeApi) -> None:
    api = make_api(signin_max_failures=3, signin_window=60.0)
    assert wrong(api, times=2) == [401, 401]
    assert attempt(api, "admin", ADMIN_PASSWORD) == 200
    assert wrong(api, times=2) == [401, 401]  # 4 failures in all, but 2 since the success


def test_unknown_users_and_e_mail_logins_are_counted_alike(make_api: MakeApi) -> None:
    api = make_api(signin_max_failures=2, signin_window=60.0)
    assert wrong(api, "nobody", times=3) == [401, 401, 429]  # the same reply as a real user
    api.call("POST", "/api/create/", {"_id": "@bob", "email": "bob@x.example", "password": "b"})
    assert wrong(api, "bob@x.example") == [401]
    assert wrong(api, "bob") == [401]  # the same account under its other name: 2nd failure
    assert attempt(api, "bob", "b") == 429


def test_the_address_limit_covers_many_accounts(make_api: MakeApi) -> None:
    api = make_api(signin_max_failures=100, signin_max_failures_per_address=4, signin_window=60.0)
    statuses = [wrong(api, f"user{i}")[0] for i in range(4)]
    assert statuses == [401] * 4
    reply = api.http.post("/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert reply.status_code == 429 and int(reply.headers["Retry-After"]) > 0


def test_two_api_processes_share_the_limit(make_api: MakeApi) -> None:
    first = make_api(signin_max_failures=3, signin_window=60.0)
    second = make_api(signin_max_failures=3, signin_window=60.0)  # same store, own engine
    assert wrong(first, times=2) == [401, 401]
    assert wrong(second) == [401]
    assert attempt(first, "admin", ADMIN_PASSWORD) == 429
    assert attempt(second, "admin", ADMIN_PASSWORD) == 429


def test_zero_turns_the_limit_off(make_api: MakeApi) -> None:
    api = make_api(signin_max_failures=0, signin_max_failures_per_address=0)
    assert set(wrong(api, times=8)) == {401}
    assert attempt(api, "admin", ADMIN_PASSWORD) == 200


def test_wrong_current_passwords_at_change_password_count_too(make_api: MakeApi) -> None:
    api = make_api(signin_max_failures=2, signin_window=60.0)
    headers = api.headers("carol", "user")
    change = {"password": "guess", "newPassword": "new-pw"}
    statuses = [
        api.http.post("/api/changePassword/", json=change, headers=headers).status_code
        for _ in range(3)
    ]
    assert statuses == [403, 403, 429]
    assert attempt(api, "carol", "carol-pw") == 429  # the same account's count
