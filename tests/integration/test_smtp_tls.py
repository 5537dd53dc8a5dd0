"""Email over TLS against a real SMTP server (aiosmtpd) with a certificate made in the test.

STARTTLS and implicit TLS, with a login; the server's certificate is signed by
a CA the test creates and the mailer trusts through ``smtp_ca_file``. Without
that trust the send fails (no silent downgrade), and turning verification off
takes an explicit setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from smtp_server import server_context, smtp_server
from tls_certs import Pki, make_pki

from telepresence.notifications.domain import MailFailed
from telepresence.notifications.smtp import SmtpMailer
from telepresence.platform.settings import Settings

LOGIN = ("classbridge", "s3cret-Passw0rd")
# aiosmtpd warns that AUTH is allowed without STARTTLS: on implicit TLS it is TLS all along.
AUTH_ON_IMPLICIT_TLS = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def starttls_server(pki: Pki) -> Iterator[tuple[int, object]]:
    context = server_context(str(pki.cert_file), str(pki.key_file))
    with smtp_server(starttls=context, credentials=LOGIN) as server:
        yield server


@pytest.fixture
def implicit_server(pki: Pki) -> Iterator[tuple[int, object]]:
    context = server_context(str(pki.cert_file), str(pki.key_file))
    with smtp_server(implicit_tls=context, credentials=LOGIN) as server:
        yield server


def message(subject: str = "Robbie to Lab 3 by 10:05") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Classbridge <noreply@classbridge.example>"
    mail["To"] = "ann@school.example"
    mail["Subject"] = subject
    mail.set_content("Robot 'Robbie' · from S12 to Lab 3 · by 10:05 · for Sam K.")
    return mail


def mailer(port: int, tls: str, ca_file: Path | None, **kwargs) -> SmtpMailer | None:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls=tls,
        smtp_username=LOGIN[0],
        smtp_password=LOGIN[1],
        smtp_ca_file=ca_file,
        smtp_timeout_seconds=5,
        **kwargs,
    )
    return SmtpMailer.from_settings(settings)


async def test_starttls_with_a_login_trusting_the_configured_ca(pki, starttls_server):
    port, mailbox = starttls_server
    smtp = mailer(port, "starttls", pki.ca_file)
    assert smtp is not None
    await smtp.send(message())
    await mailbox.all_closed()
    assert [m["Subject"] for m in mailbox.messages] == ["Robbie to Lab 3 by 10:05"]
    assert mailbox.logins == [LOGIN[0]]
    assert mailbox.tls_seen == [True]


@AUTH_ON_IMPLICIT_TLS
async def test_implicit_tls_with_a_login_trusting_the_configured_ca(pki, implicit_server):
    port, mailbox = implicit_server
    smtp = mailer(port, "tls", pki.ca_file)
    assert smtp is not None
    await smtp.send(message("implicit"))
    await mailbox.all_closed()
    assert [m["Subject"] for m in mailbox.messages] == ["implicit"]
    assert mailbox.logins == [LOGIN[0]]
    assert mailbox.tls_seen == [True]


@AUTH_ON_IMPLICIT_TLS
@pytest.mark.parametrize("tls", ["starttls", "tls"])
async def test_a_certificate_nobody_trusts_is_refused(tls, starttls_server, implicit_server):
    port, mailbox = starttls_server if tls == "starttls" else implicit_server
    smtp = mailer(port, tls, None)
    assert smtp is not None
    with pytest.raises(MailFailed, match=r"(?i)certificate"):
        await smtp.send(message())
    await mailbox.all_closed()
    assert mailbox.messages == []
    assert mailbox.logins == []  # the password never went to an unverified server


async def test_a_wrong_password_is_a_failure_not_a_send(pki, starttls_server):
    port, mailbox = starttls_server
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_username=LOGIN[0],
        smtp_password="wrong",
        smtp_ca_file=pki.ca_file,
        smtp_timeout_seconds=5,
    )
    smtp = SmtpMailer.from_settings(settings)
    assert smtp is not None
    with pytest.raises(MailFailed, match="535"):
        await smtp.send(message())
    await mailbox.all_closed()
    assert mailbox.messages == []


async def test_verification_is_off_only_when_a_setting_says_so(starttls_server):
    port, mailbox = starttls_server
    smtp = mailer(port, "starttls", None, smtp_verify_certificate=False)
    assert smtp is not None
    await smtp.send(message("unverified"))
    await mailbox.all_closed()
    assert [m["Subject"] for m in mailbox.messages] == ["unverified"]


def test_a_ca_file_that_does_not_exist_is_a_settings_error(tmp_path):
    with pytest.raises(ValueError, match="smtp_ca_file"):
        Settings(smtp_host="mail.example", smtp_ca_file=tmp_path / "missing.pem")


async def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(pki):
    with smtp_server() as (port, mailbox):
        smtp = SmtpMailer.from_settings(
            Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_ca_file=pki.ca_file)
        )
        assert smtp is not None
        with pytest.raises(MailFailed, match="STARTTLS"):
            await smtp.send(message())
        await mailbox.all_closed()
        assert mailbox.messages == []
