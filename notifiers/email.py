"""Email over SMTP: text + HTML, attachments, a Message-ID kept across retries.

``security`` is ``starttls`` (port 587), ``ssl`` (implicit TLS, port 465) or ``none``
(a relay on the local network only). Authentication is optional; the password comes
from the environment or a file. The result is per recipient: when the server refuses
some recipients and accepts others, the refused are reported (and only they are
retried by the relay); 4xx refusals are recoverable, 5xx are not.

Configuration example::

    [[notifiers]]
    name = "mail"
    type = "email"
    host = "smtp.example.gov.cn"
    port = 587
    security = "starttls"
    username = "rightsizer@example.gov.cn"
    password = { env = "RS_SMTP_PASSWORD" }
    sender = "平度市大数据发展中心 <rightsizer@example.gov.cn>"
    # the channel's own recipients, for messages that name none: the centre's copy
    # (cc_channels), escalations and operator alerts; checked when the configuration loads
    to = ["ops@example.gov.cn"]
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import replace
from email.message import EmailMessage
from email.utils import formatdate

from .base import Message, SendResult
from .config import EmailSettings


class EmailNotifier:
    attaches = ("pdf", "xlsx")  # the notice as signed, then the server list

    def __init__(self, cfg: EmailSettings):
        self.cfg, self.name = cfg, cfg.name
        self._password = cfg.password.reveal(f"notifiers.{cfg.name}.password") if cfg.password else None

    def build(self, msg: Message) -> EmailMessage:
        m = EmailMessage()
        m["Subject"] = msg.subject
        m["From"] = self.cfg.sender
        m["To"] = ", ".join(msg.recipients)
        m["Date"] = formatdate(localtime=True)
        m["Message-ID"] = msg.message_id
        m["X-Rightsizer-Key"] = msg.key
        m.set_content(msg.text)
        if msg.html:
            m.add_alternative(msg.html, subtype="html")
        for a in msg.attachments:
            main, _, sub = a.mime.partition("/")
            m.add_attachment(a.content, maintype=main, subtype=sub or "octet-stream", filename=a.filename)
        return m

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cfg.ca_file or None)

    def send(self, msg: Message) -> SendResult:
        c = self.cfg
        where = f"email {self.name}"
        if not msg.recipients and c.to:  # the centre's copy, an escalation or an alert: the channel's own list
            msg = replace(msg, recipients=tuple(c.to))
        if not msg.recipients:
            return SendResult(False, False, f"{where}: no recipients (give the channel a `to` list)")
        try:
            if c.security == "ssl":
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_seconds, context=self._context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=self._context())
                if c.username and self._password is not None:
                    smtp.login(c.username, self._password)
                refused = smtp.send_message(self.build(msg), to_addrs=list(msg.recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {r: code for r, (code, _text) in exc.recipients.items()}
            return SendResult(False, any(400 <= code < 500 for code in codes.values()),
                              f"{where}: all recipients refused ({_codes(codes)})", refused=sorted(codes))
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult(False, False, f"{where}: authentication failed (SMTP {exc.smtp_code})")
        except smtplib.SMTPResponseException as exc:
            return SendResult(False, 400 <= exc.smtp_code < 500 or exc.smtp_code == 421,
                              f"{where}: SMTP {exc.smtp_code}")
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(False, True, f"{where}: {type(exc).__name__}")
        accepted = [r for r in msg.recipients if r not in refused]
        if refused:
            codes = {r: code for r, (code, _text) in refused.items()}
            return SendResult(False, any(400 <= code < 500 for code in codes.values()),
                              f"{where}: {len(refused)} of {len(msg.recipients)} recipients refused ({_codes(codes)})",
                              refused=sorted(refused), accepted=accepted)
        return SendResult(True, detail=f"{where}: accepted by {c.host}", accepted=accepted)


def _codes(codes: dict[str, int]) -> str:
    return ", ".join(f"{r}: {code}" for r, code in sorted(codes.items()))
