"""DingTalk custom robot (自定义机器人): markdown, 加签 HMAC-SHA256 signing.

Signing: HMAC-SHA256 with the secret over "<timestamp ms>\n<secret>", base64, URL-encoded
into the ``timestamp`` and ``sign`` query parameters. errcode 0 is success; 130101 (more
than 20 a minute) retries after the window; 310000 (signature, keyword or IP) and 460101
(message too large) are configuration errors: no retry, the operator is alerted.

Configuration example::

    [[notifiers]]
    name = "edu-dingtalk"
    type = "dingtalk"
    access_token = { env = "RS_DINGTALK_EDU_TOKEN" }
    secret = { env = "RS_DINGTALK_EDU_SECRET" }
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse

from .base import Message, SendResult, body_parts, classify, post_json
from .config import DingTalkSettings




class DingTalkNotifier:
    attaches = ()  # markdown and the link: a robot carries no file
    # Sends per window (count, seconds), below the platform's own limit; the relay keeps to them.
    rate_limits = [(18, 60.0)]

    def __init__(self, cfg: DingTalkSettings):
        self.cfg, self.name = cfg, cfg.name
        self._token = cfg.access_token.reveal(f"notifiers.{cfg.name}.access_token")
        self._secret = cfg.secret.reveal(f"notifiers.{cfg.name}.secret") if cfg.secret else None

    def signed_url(self, now_ms: int) -> str:
        q = {"access_token": self._token}
        if self._secret:
            mac = hmac.new(self._secret.encode(), f"{now_ms}\n{self._secret}".encode(), hashlib.sha256).digest()
            q |= {"timestamp": str(now_ms), "sign": base64.b64encode(mac).decode()}
        return f"{self.cfg.url}?{urllib.parse.urlencode(q)}"

    def send(self, msg: Message) -> SendResult:
        result = SendResult(False, False, f"dingtalk {self.name}: nothing to send")
        for text in body_parts(msg, self.cfg.max_bytes):  # a long notice goes in numbered parts
            body = {"msgtype": "markdown", "markdown": {"title": msg.subject[:64], "text": text}}
            status, doc, what = post_json(self.signed_url(int(time.time() * 1000)), body, self.cfg.timeout_seconds)
            result = classify(f"dingtalk {self.name}", status, doc, what, "errcode", "errmsg", {130101},
                              {310000, 460101}, 60)
            if not result.ok:
                return result
        return result
