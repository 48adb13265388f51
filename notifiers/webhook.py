"""Generic webhook: the notice as JSON, signed with HMAC-SHA256.

Body ``{key, subject, text, markdown, recipients, link}``; for every message about a notice
``notice`` (the notice as it stands when sent: state, due date, items, events — the same JSON as
``rightsizer notices show --format json`` and ``/api/v1/notices/{id}``); for the notice itself
``document`` (number, department, issued and due dates, legal basis, items, totals: see the README)
and ``pdf`` (``{filename, base64}``, when there is no ``link``); headers ``Idempotency-Key`` (the
key percent-encoded),
``X-Rightsizer-Timestamp`` and ``X-Rightsizer-Signature: sha256=<hex HMAC(secret,
"<timestamp>.<body>")>``. Any 2xx is success; 5xx, 429 and network errors retry; other
4xx are configuration errors.

Configuration example::

    [[notifiers]]
    name = "centre-hook"
    type = "webhook"
    url = "https://ops.example/rightsizer"
    secret = { file = "/etc/rightsizer/webhook-secret" }
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse

from .base import Message, SendResult, http_failure, post_json
from .config import WebhookSettings




class WebhookNotifier:
    """Generic JSON: ``{key, subject, text, markdown, recipients, link}``, signed with HMAC-SHA256."""
    attaches = ("pdf",)  # for OA systems: the signed PDF (inline, unless there is a link)
    carries_notice = True  # and the notice as it stands (Message.notice)

    def __init__(self, cfg: WebhookSettings):
        self.cfg, self.name = cfg, cfg.name
        self._secret = cfg.secret.reveal(f"notifiers.{cfg.name}.secret") if cfg.secret else None

    def send(self, msg: Message) -> SendResult:
        payload = {"key": msg.key, "subject": msg.subject, "text": msg.text, "markdown": msg.markdown,
                   "recipients": list(msg.recipients), "link": msg.link}
        if msg.notice is not None:  # the notice as it stands: the same JSON as the CLI, the API and the console
            payload["notice"] = msg.notice
        if msg.document is not None:  # for OA systems: the notice's fields
            payload["document"] = msg.document
        pdf = next((a for a in msg.attachments if a.mime == "application/pdf"), None)
        if pdf is not None and not msg.link:  # the notice as signed (an escalation's, a date now known), or its link
            payload["pdf"] = {"filename": pdf.filename, "base64": base64.b64encode(pdf.content).decode()}
        raw = json.dumps(payload, ensure_ascii=False).encode()
        ts = str(int(time.time()))
        # HTTP headers are ASCII: the key (a notice number in Chinese) is percent-encoded
        headers = {"X-Rightsizer-Timestamp": ts, "Idempotency-Key": urllib.parse.quote(msg.key, safe=":")}
        if self._secret:
            mac = hmac.new(self._secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
            headers["X-Rightsizer-Signature"] = f"sha256={mac}"
        status, _doc, what = post_json(self.cfg.url, {}, self.cfg.timeout_seconds, headers, raw=raw)
        if 200 <= status < 300:
            return SendResult(True, detail=f"webhook {self.name}: {what}")
        return http_failure(f"webhook {self.name}", status, what)
