"""The notifier interface: send one message, say whether a failure is worth retrying.

Retry, deduplication, rate limits and the send log belong to the outbox relay, not to
a notifier (the Alertmanager split). A notifier never puts a secret — a token, a
webhook key, a signing secret, a password — into a result or an exception: results
name the channel, the HTTP status and the platform's own error code and message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol

from rightsizer.errors import ConfigError


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime: str = "application/octet-stream"


@dataclass(frozen=True)
class Message:
    """One notice to one channel. ``key`` is stable across retries (idempotency key)."""

    key: str
    subject: str
    text: str
    markdown: str = ""
    html: str = ""
    recipients: tuple[str, ...] = ()  # email addresses; IM robots post to their group
    message_id: str = ""  # email Message-ID, kept across retries
    attachments: tuple[Attachment, ...] = ()
    link: str = ""  # where the full notice can be read, for platforms with small limits
    document: dict | None = None  # the notice's structured fields (notifiers.document.NoticeDoc.to_json)
    notice: dict | None = None  # the notice as it stands when sent (rightsizer.jobs.views.NoticeView.to_json)


@dataclass
class SendResult:
    ok: bool
    recoverable: bool = False  # worth retrying (outage, rate limit); False = fix the configuration
    detail: str = ""
    retry_after_seconds: float | None = None
    refused: list[str] = field(default_factory=list)  # email recipients refused (retry only these)
    accepted: list[str] = field(default_factory=list)


class Notifier(Protocol):
    name: str
    # (sends, seconds) windows the relay keeps to for this channel; empty = no limit.
    rate_limits: list[tuple[int, float]]
    # the stored files a message to this channel carries ("pdf", "xlsx"), in order; empty = text and link only
    attaches: tuple[str, ...]
    # optional, False unless set: the message carries the notice as it stands (Message.notice), for OA systems
    # carries_notice: bool

    def send(self, msg: Message) -> SendResult: ...


class NotifierConfigError(ConfigError):
    """A notifier cannot be built from its configuration (message names no secret)."""

    def __init__(self, problems: list[str] | str):
        super().__init__("notifiers", problems)


def post_json(url: str, body: dict, timeout: float, headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> tuple[int, dict | None, str]:
    """POST JSON; returns (HTTP status, parsed body or None, a short safe description).

    Network errors come back as status 0. The URL (which may carry a token) is never
    part of the description.
    """
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read() if exc.fp else b""
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return 0, None, f"network error: {type(reason).__name__ if not isinstance(reason, str) else reason}"
    try:
        doc = json.loads(payload) if payload else None
    except ValueError:
        doc = None
    return status, doc if isinstance(doc, dict) else None, f"HTTP {status}"


def http_failure(channel: str, status: int, what: str) -> SendResult:
    """A failure without a platform error code: 5xx, 429 and network errors are worth retrying."""
    recoverable = status == 0 or status == 429 or status >= 500
    return SendResult(False, recoverable, f"{channel}: {what}")


def body_parts(msg: Message, max_bytes: int) -> list[str]:
    """The message for a platform with a size limit: whole if it fits, else split at line ends into
    numbered parts, each within ``max_bytes`` of UTF-8 and ending with the notice number — never cut."""
    text = msg.markdown or msg.text
    if len(text.encode("utf-8")) <= max_bytes:
        return [text]
    number = msg.subject.split(" ")[0]
    tail = "\n\n（第{i}/{n}部分，" + number + (f"，完整通知见 {msg.link}" if msg.link else "") + "）"
    room = max_bytes - len(tail.format(i=999, n=999).encode("utf-8"))
    if room < 100:
        raise ValueError("max_bytes leaves no room for the text")
    chunks, cur = [], ""
    for line in text.splitlines(keepends=True):
        while len(line.encode("utf-8")) > room:  # a line longer than a part: split it where it must
            head = line.encode("utf-8")[:room].decode("utf-8", "ignore")  # never half a character
            if cur:
                chunks.append(cur)
                cur = ""
            chunks.append(head)
            line = line[len(head):]
        if cur and len((cur + line).encode("utf-8")) > room:
            chunks.append(cur)
            cur = ""
        cur += line
    if cur:
        chunks.append(cur)
    return [c.rstrip("\n") + tail.format(i=i, n=len(chunks)) for i, c in enumerate(chunks, 1)]


def classify(channel: str, status: int, doc: dict | None, what: str, code_key: str, msg_key: str,
              rate_codes: set[int], config_codes: set[int], window: float) -> SendResult:
    if status == 200 and doc is not None and code_key in doc:
        code = doc.get(code_key)
        text = str(doc.get(msg_key, ""))[:200]
        if code == 0:
            return SendResult(True, detail=f"{channel}: ok")
        if code in rate_codes:
            return SendResult(False, True, f"{channel}: rate limited ({code_key} {code}: {text})",
                              retry_after_seconds=window)
        if code in config_codes:
            return SendResult(False, False, f"{channel}: configuration error ({code_key} {code}: {text})")
        # unknown platform codes: retry (bounded by the relay), the operator sees the detail
        return SendResult(False, True, f"{channel}: {code_key} {code}: {text}")
    if status == 200:
        return SendResult(False, True, f"{channel}: HTTP 200 without {code_key}")
    return http_failure(channel, status, what)
