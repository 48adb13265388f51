"""Feishu (飞书) custom bot: rich-text post, signature in the body.

Signing: HMAC-SHA256 keyed with "<timestamp s>\n<secret>" over an empty message, base64,
sent as ``timestamp`` and ``sign`` in the JSON body. code 0 is success; 11232 (rate limit,
5/s and 100/min) retries; 19021 (bad signature) and 19024 (IP not allowed) are
configuration errors.

Configuration example::

    [[notifiers]]
    name = "edu-feishu"
    type = "feishu"
    hook = { env = "RS_FEISHU_EDU_HOOK" }
    secret = { env = "RS_FEISHU_EDU_SECRET" }
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse

from .base import Message, SendResult, body_parts, classify, post_json
from .config import FeishuSettings




def feishu_sign(secret: str, ts: int) -> str:
    mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class FeishuNotifier:
    attaches = ()  # a card and the link: a robot carries no file
    # Sends per window (count, seconds), below the platform's own limit; the relay keeps to them.
    rate_limits = [(4, 1.0), (90, 60.0)]

    def __init__(self, cfg: FeishuSettings):
        self.cfg, self.name = cfg, cfg.name
        self._hook = cfg.hook.reveal(f"notifiers.{cfg.name}.hook")
        self._secret = cfg.secret.reveal(f"notifiers.{cfg.name}.secret") if cfg.secret else None

    def send(self, msg: Message) -> SendResult:
        result = SendResult(False, False, f"feishu {self.name}: nothing to send")
        for text in body_parts(msg, self.cfg.max_bytes):  # a long notice goes in numbered parts
            body: dict = {"msg_type": "post", "content": {"post": {"zh_cn": {
                "title": msg.subject, "content": [[{"tag": "text", "text": text}]]}}}}
            if self._secret:
                ts = int(time.time())
                body = {"timestamp": str(ts), "sign": feishu_sign(self._secret, ts), **body}
            status, doc, what = post_json(f"{self.cfg.url}/{urllib.parse.quote(self._hook)}", body,
                                          self.cfg.timeout_seconds)
            result = classify(f"feishu {self.name}", status, doc, what, "code", "msg", {11232}, {19021, 19024}, 60)
            if not result.ok:
                return result
        return result
