"""Local robot endpoints for DingTalk, WeCom, Feishu and a generic webhook on 127.0.0.1.

Each checks what the real platform checks — DingTalk's ``timestamp``/``sign`` query
(HMAC-SHA256 over "ts_ms\\nsecret", within an hour), WeCom's ``key``, Feishu's body
``timestamp``/``sign``, the webhook's ``X-Rightsizer-Signature`` — and answers in the
platform's shape (HTTP 200 with ``errcode``/``code``). ``force`` makes the next answers
a given code (rate limit, configuration error) or an HTTP status, to test classification.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse

from localserver import LocalServer, QuietHandler


class FakeIM(LocalServer):
    def __init__(self, dingtalk=("dt-token", "dt-secret"), wecom_key="wc-key", feishu=("fs-hook", "fs-secret"),
                 webhook_secret="wh-secret"):
        self.dingtalk, self.wecom_key, self.feishu, self.webhook_secret = dingtalk, wecom_key, feishu, webhook_secret
        self.received: list[tuple[str, dict]] = []  # (platform, body) of accepted messages
        self.force: list[tuple[str, int | dict]] = []  # queued (platform, code or {"http": status})
        self.lock = threading.Lock()
        fake = self

        class Handler(QuietHandler):
            def do_POST(self):
                url = urllib.parse.urlparse(self.path)
                q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, doc = fake.handle(url.path, q, dict(self.headers), raw)
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(Handler)

    def _forced(self, platform: str):
        with self.lock:
            for i, (p, what) in enumerate(self.force):
                if p == platform:
                    return self.force.pop(i)[1]
        return None

    def handle(self, path: str, q: dict, headers: dict, raw: bytes) -> tuple[int, dict]:
        platform = path.strip("/").split("/")[0]
        forced = self._forced(platform)
        if isinstance(forced, dict):
            return forced["http"], {"error": "forced"}
        body = json.loads(raw or b"{}") if platform != "webhook" else None
        if platform == "dingtalk":
            token, secret = self.dingtalk
            ts = q.get("timestamp", "0")
            want = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest())
            if q.get("access_token") != token:
                return 200, {"errcode": 300001, "errmsg": "token is not exist"}
            if q.get("sign", "").encode() != want or abs(time.time() * 1000 - int(ts)) > 3600_000:
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
            code = forced if forced is not None else 0
            if code == 0 and len(json.dumps(body, ensure_ascii=False).encode()) > 20000:
                code = 460101
            if code == 0:
                self.received.append((platform, body))
            return 200, {"errcode": code, "errmsg": "ok" if code == 0 else f"error {code}"}
        if platform == "wecom":
            if q.get("key") != self.wecom_key:
                return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
            code = forced if forced is not None else 0
            if code == 0 and len(body["markdown"]["content"].encode()) > 4096:
                code = 40058
            if code == 0:
                self.received.append((platform, body))
            return 200, {"errcode": code, "errmsg": "ok" if code == 0 else f"error {code}"}
        if platform == "feishu":
            hook, secret = self.feishu
            if path.rstrip("/").split("/")[-1] != hook:
                return 404, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
            ts = body.get("timestamp", "0")
            want = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
            if body.get("sign") != want or abs(time.time() - int(ts)) > 3600:
                return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
            code = forced if forced is not None else 0
            if code == 0:
                self.received.append((platform, body))
            return 200, {"code": code, "msg": "success" if code == 0 else f"error {code}", "data": {}}
        if platform == "webhook":
            ts = headers.get("X-Rightsizer-Timestamp", "")
            want = "sha256=" + hmac.new(self.webhook_secret.encode(), ts.encode() + b"." + raw,
                                        hashlib.sha256).hexdigest()
            if headers.get("X-Rightsizer-Signature") != want:
                return 401, {"error": "bad signature"}
            self.received.append((platform, json.loads(raw)))
            return 202, {"accepted": True}
        return 404, {"error": "not found"}
