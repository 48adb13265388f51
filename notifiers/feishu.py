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
from typing import Literal

from pydantic import Field

from .base import IMSettings, Message, SecretRef, SendResult, body_text, classify, post_json


class FeishuSettings(IMSettings):
    type: Literal["feishu"] = "feishu"
    url: str = "https://open.feishu.cn/open-apis/bot/v2/hook"
    hook: SecretRef  # the last part of the webhook URL
    secret: SecretRef | None = None  # 签名校验
    max_bytes: int = Field(18000, ge=500, le=19000)  # the request body is limited to 20 KB


def feishu_sign(secret: str, ts: int) -> str:
    mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class FeishuNotifier:
    def __init__(self, cfg: FeishuSettings):
        self.cfg, self.name = cfg, cfg.name
        self._hook = cfg.hook.value()
        self._secret = cfg.secret.value() if cfg.secret else None

    def send(self, msg: Message) -> SendResult:
        body: dict = {"msg_type": "post", "content": {"post": {"zh_cn": {
            "title": msg.subject, "content": [[{"tag": "text", "text": body_text(msg, self.cfg.max_bytes)}]]}}}}
        if self._secret:
            ts = int(time.time())
            body = {"timestamp": str(ts), "sign": feishu_sign(self._secret, ts), **body}
        status, doc, what = post_json(f"{self.cfg.url}/{urllib.parse.quote(self._hook)}", body,
                                      self.cfg.timeout_seconds)
        return classify(f"feishu {self.name}", status, doc, what, "code", "msg", {11232}, {19021, 19024}, 60)
