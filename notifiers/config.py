"""Settings of every notifier: pydantic models only (no sending code, no heavy imports).

``rightsizer.settings`` validates each ``[[notifiers]]`` block against the model its
``type`` names in :data:`notifiers.REGISTRY`. Secrets are ``{ env = … }`` / ``{ file = … }``
(:class:`rightsizer.secrets.SecretRef`), read when the notifier is built.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rightsizer.secrets import SecretRef

__all__ = ["ConsoleSettings", "DingTalkSettings", "EmailSettings", "FeishuSettings", "IMSettings", "SecretRef",
           "WebhookSettings", "WeComSettings"]


class IMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)  # a secret may be the input

    name: str
    timeout_seconds: float = Field(10, gt=0)


class ConsoleSettings(IMSettings):
    type: Literal["console"] = "console"


class EmailSettings(IMSettings):
    type: Literal["email"] = "email"
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: SecretRef | None = None
    sender: str
    timeout_seconds: float = Field(30, gt=0)
    # a CA bundle for a private CA; empty = the system's
    ca_file: str = ""
    # The channel's own recipients, for messages that name none: the centre's copy (cc_channels),
    # escalations of departments without head_emails, operator alerts (operator_channels).
    to: list[str] = []


class DingTalkSettings(IMSettings):
    type: Literal["dingtalk"] = "dingtalk"
    url: str = "https://oapi.dingtalk.com/robot/send"
    access_token: SecretRef
    secret: SecretRef | None = None  # 加签; without it the robot must use keywords or IP allow-lists
    max_bytes: int = Field(18000, ge=500, le=20000)


class WeComSettings(IMSettings):
    type: Literal["wecom"] = "wecom"
    url: str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    key: SecretRef
    max_bytes: int = Field(4096, ge=500, le=4096)  # markdown content limit, UTF-8 bytes


class FeishuSettings(IMSettings):
    type: Literal["feishu"] = "feishu"
    url: str = "https://open.feishu.cn/open-apis/bot/v2/hook"
    hook: SecretRef  # the last part of the webhook URL
    secret: SecretRef | None = None  # 签名校验
    max_bytes: int = Field(18000, ge=500, le=19000)  # the request body is limited to 20 KB


class WebhookSettings(IMSettings):
    type: Literal["webhook"] = "webhook"
    url: str
    secret: SecretRef | None = None
