"""Notifiers: email and IM delivery of rectification notices (整改通知).

A notifier only sends one message and says whether a failure is worth retrying
(:class:`notifiers.base.SendResult`); retry, deduplication and rate limits belong to the
outbox relay. ``REGISTRY`` maps the configuration's ``type`` to the settings model and
the class; :func:`build` validates a ``[[notifiers]]`` block and builds the notifier.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from .base import Message, Notifier, NotifierConfigError, SendResult
from .console import ConsoleNotifier, ConsoleSettings
from .dingtalk import DingTalkNotifier, DingTalkSettings
from .email import EmailNotifier, EmailSettings
from .feishu import FeishuNotifier, FeishuSettings
from .webhook import WebhookNotifier, WebhookSettings
from .wecom import WeComNotifier, WeComSettings

REGISTRY: dict[str, tuple[type[BaseModel], type]] = {
    "console": (ConsoleSettings, ConsoleNotifier),
    "email": (EmailSettings, EmailNotifier),
    "dingtalk": (DingTalkSettings, DingTalkNotifier),
    "wecom": (WeComSettings, WeComNotifier),
    "feishu": (FeishuSettings, FeishuNotifier),
    "webhook": (WebhookSettings, WebhookNotifier),
}

__all__ = ["REGISTRY", "Message", "Notifier", "NotifierConfigError", "SendResult", "build"]


def build(block: dict) -> Notifier:
    kind = block.get("type")
    if kind not in REGISTRY:
        raise NotifierConfigError(f"notifier {block.get('name', '?')}: unknown type {kind!r} "
                                  f"(one of {', '.join(REGISTRY)})")
    model, cls = REGISTRY[kind]
    try:
        cfg = model.model_validate(block)
    except ValidationError as exc:
        lines = [f"notifier {block.get('name', '?')}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
                 for e in exc.errors()]
        raise NotifierConfigError("\n".join(lines)) from None
    return cls(cfg)
