"""Mail servers on loopback for tests and demos: a throwaway Dovecot (IMAP) and an aiosmtpd sink.

``DovecotServer`` runs Debian's real ``dovecot`` (package ``dovecot-imapd``, installed by
``ensure_dovecot()`` when missing) with its own configuration in a temporary directory: plain
IMAP on ``127.0.0.1:<free port>``, any user name with the one static password, one Maildir per
user. It needs root (Dovecot switches to its own system users). ``SmtpSink`` wraps aiosmtpd's
``Controller``: it keeps every accepted message and can be told to refuse recipients, to fail
authentication or to answer 4xx, so that every error class of the SMTP client can be provoked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from emulators.loopback import LOOPBACK, free_port

INSTALL_COMMAND = "apt-get install -y dovecot-imapd"
logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-connection chatter


class MailServerError(RuntimeError):
    """A test mail server could not be installed or started; the message says what to run."""


def ensure_dovecot(timeout_s: float = 600.0) -> str:
    """The path of the ``dovecot`` binary, installing ``dovecot-imapd`` with apt when missing.

    Raises ``MailServerError`` naming the install command when that fails.
    """
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-o", "DPkg::Lock::Timeout=300", "dovecot-imapd"]
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument list
            command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MailServerError(f"could not run `{INSTALL_COMMAND}`: {exc}") from exc
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
    if done.returncode != 0 or not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise MailServerError(
            f"dovecot is missing and `{INSTALL_COMMAND}` failed "
            f"(exit {done.returncode}: {tail[0]}); run it as root"
        )
    return found


_CONFIG = """\
protocols = imap
listen = {host}
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
base_dir = {root}/run
log_path = {root}/dovecot.log
instance_name = {instance}
default_internal_user = {internal_user}
default_login_user = {login_user}
default_internal_group = {internal_group}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
mail_uid = {mail_uid}
mail_gid = {mail_gid}
passdb {{
  driver = static
  args = password={password} nodelay=yes
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
  # no growing delays after failed logins: tests provoke them on purpose
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  chroot =
}}
"""


class DovecotServer:
    """A private Dovecot on ``127.0.0.1:port``: every user name logs in with ``password``.

    ``start()``/``stop()``/``restart()`` (same port, same mail) and ``close()`` (also removes the
    directory). ``append(user, raw)`` puts a message into a user's folder over IMAP.
    With ``tls=(cert_chain_pem_path, key_pem_path)`` the plain port also offers STARTTLS and
    ``tls_port`` serves IMAP over implicit TLS (IMAPS).
    """

    def __init__(
        self,
        *,
        password: str | None = None,
        port: int | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        if os.geteuid() != 0:
            raise MailServerError("the Dovecot test server must run as root")
        self.binary = ensure_dovecot()
        self.host = LOOPBACK
        self.port = port or free_port()
        self.password = password or secrets.token_urlsafe(12)
        self.tls_port = free_port() if tls else 0
        ssl_lines = "ssl = no"
        if tls is not None:
            ssl_lines = f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}"
        self.root = Path(tempfile.mkdtemp(prefix="sb-dovecot-"))
        # mkdtemp makes the directory 0700; the mail user needs +x on every parent of a Maildir.
        self.root.chmod(0o711)
        internal = pwd.getpwnam("dovecot")
        login = pwd.getpwnam("dovenull")
        self.mail_uid, self.mail_gid = internal.pw_uid, internal.pw_gid
        for sub in ("run", "mail", "home"):
            (self.root / sub).mkdir()
        for sub in ("mail", "home"):
            os.chown(self.root / sub, self.mail_uid, self.mail_gid)
        self.config_path = self.root / "dovecot.conf"
        self.config_path.write_text(
            _CONFIG.format(
                host=self.host,
                port=self.port,
                tls_port=self.tls_port,
                ssl=ssl_lines,
                root=self.root,
                instance=f"sb-{secrets.token_hex(4)}",
                internal_user=internal.pw_name,
                internal_group=internal.pw_name,
                login_user=login.pw_name,
                mail_uid=self.mail_uid,
                mail_gid=self.mail_gid,
                password=self.password,
            ),
            encoding="utf-8",
        )
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start in the foreground (``dovecot -F``) and wait until the port accepts connections."""
        if self._process is not None:
            return
        self._process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [self.binary, "-c", str(self.config_path), "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() ends master and children
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = (self._process.stderr.read() if self._process.stderr else b"").decode()
                self._process = None
                raise MailServerError(f"dovecot exited at start: {err.strip() or self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.5),
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise MailServerError(f"dovecot did not listen on {self.host}:{self.port}: {self.log()}")

    def stop(self) -> None:
        """Kill the server and every process it started (SIGKILL to its process group), the way
        a crash or a pulled cable ends it: connected clients see their sockets close at once.
        (A graceful SIGTERM makes Dovecot wait seconds for its children; tests need not wait.)
        """
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.02)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user

    def create_folder(self, user: str, folder: str) -> None:
        """Create ``user``'s ``folder``, named as IMAP writes it (modified UTF-7: a client's
        encoding is what a test checks, so the server side takes the wire form as given)."""
        with imaplib.IMAP4(self.host, self.port, timeout=10) as imap:
            imap.login(user, self.password)
            status, data = imap.create(_quoted(folder))
            if status != "OK":
                raise MailServerError(f"CREATE {folder!r} failed: {data!r}")

    def append(
        self, user: str, raw: bytes, folder: str = "INBOX", received: dt.datetime | None = None
    ) -> int:
        """Put ``raw`` into ``user``'s ``folder`` (its wire name) with IMAP APPEND; returns
        the new UID. ``received`` (aware): the server's arrival time (INTERNALDATE), now if
        None."""
        when = imaplib.Time2Internaldate(received) if received is not None else None
        with imaplib.IMAP4(self.host, self.port, timeout=10) as imap:
            imap.login(user, self.password)
            status, data = imap.append(_quoted(folder), "", when, raw)
            if status != "OK":
                raise MailServerError(f"APPEND failed: {data!r}; log: {self.log()}")
            match = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            return int(match.group(1)) if match else 0

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with imaplib.IMAP4(self.host, self.port, timeout=10) as imap:
            imap.login(user, self.password)
            _, data = imap.status(folder, "(UIDVALIDITY)")
            match = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            if match is None:
                raise MailServerError(f"no UIDVALIDITY in {data!r}")
            return int(match.group(1))

    def change_uidvalidity(self, user: str) -> int:
        """Give ``user``'s INBOX a new UIDVALIDITY, as a server does after rebuilding a mailbox.

        Stops the server, rewrites the ``V`` field of the Maildir's ``dovecot-uidlist``, drops
        the indexes and starts again. Returns the new value. The messages stay (same UIDs).
        """
        self.stop()
        box = self.maildir(user)
        uidlist = box / "dovecot-uidlist"
        text = uidlist.read_text(encoding="ascii")
        header, _, rest = text.partition("\n")
        old = int(re.search(r"\bV(\d+)", header).group(1))  # type: ignore[union-attr]
        new = old + 1000
        uidlist.write_text(re.sub(r"\bV\d+", f"V{new}", header, count=1) + "\n" + rest)
        for index in box.glob("dovecot.index*"):
            index.unlink()
        self.start()
        return new


def _quoted(folder: str) -> str:
    # imaplib sends mailbox names as they are: a name with a space needs the quotes.
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class SmtpBehaviour:
    """What the sink answers: refuse these recipients (code, text), fail AUTH, or 4xx on DATA."""

    refuse_recipients: dict[str, tuple[int, str]] = field(default_factory=dict)
    data_reply: str | None = None  # e.g. "451 4.3.0 try again later"


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refused = self.sink.behaviour.refuse_recipients.get(address.lower())
        if refused is not None:
            return f"{refused[0]} {refused[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.sink.behaviour.data_reply is not None:
            return self.sink.behaviour.data_reply
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.sink.messages.append(
            SinkMessage(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                raw=content,
                message=message,
            )
        )
        return "250 Message accepted for delivery"


@dataclass
class SinkMessage:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class _QuietController(Controller):
    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # AUTH without TLS is what a loopback test server wants; aiosmtpd warns each time.
            warnings.simplefilter("ignore", UserWarning)
            return super().factory()


class SmtpSink:
    """An SMTP server on ``127.0.0.1:port`` that keeps what it accepts in ``messages``.

    With ``user``/``password`` it requires AUTH (PLAIN/LOGIN, allowed without TLS on loopback);
    ``behaviour`` changes the answers while it runs. With ``tls`` (a server ``SSLContext``) it
    offers STARTTLS, or with ``implicit_tls`` speaks TLS from the first byte (SMTPS).
    """

    def __init__(
        self,
        *,
        user: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.host = LOOPBACK
        self.port = free_port()
        self.user = user
        self.password = password
        self.messages: list[SinkMessage] = []
        self.behaviour = SmtpBehaviour()
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=False
            )
        if tls is not None and implicit_tls:
            kwargs["ssl_context"] = tls
        elif tls is not None:
            kwargs["tls_context"] = tls
        self._controller = _QuietController(
            _SinkHandler(self), hostname=self.host, port=self.port, **kwargs
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
