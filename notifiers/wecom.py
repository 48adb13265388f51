"""WeCom (企业微信) group robot: markdown, the key in the URL.

errcode 0 is success; 45009 (more than 20 a minute) retries after the window; 93000
(invalid webhook URL) is a configuration error. Markdown content is limited to 4,096
bytes of UTF-8: longer notices are cut and end with the notice number and link.

Configuration example::

    [[notifiers]]
    name = "edu-wecom"
    type = "wecom"
    key = { env = "RS_WECOM_EDU_KEY" }
"""

from __future__ import annotations

import urllib.parse

from .base import Message, SendResult, body_parts, classify, post_json
from .config import WeComSettings




class WeComNotifier:
    attaches = ()  # markdown and the link: a robot carries no file
    # Sends per window (count, seconds), below the platform's own limit; the relay keeps to them.
    rate_limits = [(18, 60.0)]

    def __init__(self, cfg: WeComSettings):
        self.cfg, self.name = cfg, cfg.name
        self._key = cfg.key.reveal(f"notifiers.{cfg.name}.key")

    def send(self, msg: Message) -> SendResult:
        url = f"{self.cfg.url}?{urllib.parse.urlencode({'key': self._key})}"
        result = SendResult(False, False, f"wecom {self.name}: nothing to send")
        for text in body_parts(msg, self.cfg.max_bytes):  # a long notice goes in numbered parts
            body = {"msgtype": "markdown", "markdown": {"content": text}}
            status, doc, what = post_json(url, body, self.cfg.timeout_seconds)
            result = classify(f"wecom {self.name}", status, doc, what, "errcode", "errmsg", {45009}, {93000}, 60)
            if not result.ok:
                return result
        return result
