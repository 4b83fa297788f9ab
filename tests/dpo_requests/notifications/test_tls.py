"""STARTTLS (RFC 3207) and SMTP AUTH (RFC 4954) against a real server that requires both, with
the server's certificate checked against the configured CA file."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dpo_requests.notifications.config import SmtpSettings
from dpo_requests.notifications.messages import one_time_code
from dpo_requests.notifications.sender import MailSender
from dpo_requests.notifications.service import email_sender, notify
from tests.dpo_requests.notifications.conftest import Mailbox
from vigie_shared.kit.clock import utcnow
from vigie_shared.kit.embedded import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bytes, bool]] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.seen.append((data.login, data.password, session.ssl is not None))
        ok = (data.login, data.password) == (b"vigie", b"s3cret-pass")
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Mailbox, Logins, int, Path]]:
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    handler, logins, port = Mailbox(), Logins(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=logins,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield handler, logins, port, cert_file
    finally:
        controller.stop()


def settings(port: int, ca_file: Path | None, password: str) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="starttls",
        ca_file=ca_file,
        username="vigie",
        password=password,
        from_address="rgpd@univ.example",
        timeout_seconds=5,
    )


async def test_starttls_then_auth_delivers_and_bad_credentials_or_certificate_wait(
    pool: asyncpg.Pool, tls_server: tuple[Mailbox, Logins, int, Path]
) -> None:
    server, logins, port, cert_file = tls_server
    async with pool.acquire() as conn, conn.transaction():
        await notify(email_sender, conn, to="tls@example.org", notice=one_time_code("135790", 5))

    now = utcnow()
    untrusted = await MailSender(settings(port, None, "s3cret-pass")).deliver_due(pool, now=now)
    assert untrusted.retried == 1  # the certificate is not trusted: nothing is sent
    assert logins.seen == []
    wrong = MailSender(settings(port, cert_file, "wrong-password"))
    refused = await wrong.deliver_due(pool, now=now + timedelta(hours=1))
    assert refused.retried == 1  # refused credentials: the operator fixes them, mail waits
    assert server.received == []
    right = MailSender(settings(port, cert_file, "s3cret-pass"))
    done = await right.deliver_due(pool, now=now + timedelta(hours=2))
    assert done.delivered == 1
    assert [m["To"] for m in server.messages()] == ["tls@example.org"]
    assert {password for _, password, _ in logins.seen} == {b"wrong-password", b"s3cret-pass"}
    assert logins.seen[-1] == (b"vigie", b"s3cret-pass", True)
    assert all(over_tls for _, _, over_tls in logins.seen)
