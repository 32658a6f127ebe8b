"""A real SMTP sink (aiosmtpd) on 127.0.0.1 that keeps every message it receives.

Plain SMTP, no STARTTLS. With `login=(user, password)` it also offers AUTH over that plain
connection and records each login it accepts (as a careless server would: the client
must be the one refusing to send credentials in clear text).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.servers import free_port


class Sink:
    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.login = login
        self.logins: list[str] = []  # user names of the accepted logins

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and self.login is not None:
            user, password = data.login.decode(), data.password.decode()
            if (user, password) == self.login:
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@contextmanager
def smtp_sink(login: tuple[str, str] | None = None) -> Iterator[tuple[Sink, int]]:
    """Start a sink on a free port; yield it and the port."""
    sink = Sink(login)
    port = free_port()
    auth: dict[str, Any] = {}
    if login is not None:
        auth = {"authenticator": sink.authenticate, "auth_require_tls": False}
    controller = Controller(sink, hostname="127.0.0.1", port=port, **auth)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
