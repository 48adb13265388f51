"""Notifiers: email and IM delivery of rectification notices (整改通知).

A notifier only sends one message and says whether a failure is worth retrying
(:class:`notifiers.base.SendResult`); retry, deduplication and rate limits belong to the
outbox relay (each notifier states its platform's limits in ``rate_limits``).
``REGISTRY`` maps the configuration's ``type`` to its settings model in
:mod:`notifiers.config` and its class, named as ``module:attribute`` and imported only
when built; :func:`build` validates a ``[[notifiers]]`` block and builds the notifier.
A new channel is one module, its settings model and one line here.
"""

from __future__ import annotations

import importlib

from pydantic import ValidationError

REGISTRY: dict[str, tuple[str, str]] = {
    "console": ("notifiers.config:ConsoleSettings", "notifiers.console:ConsoleNotifier"),
    "email": ("notifiers.config:EmailSettings", "notifiers.email:EmailNotifier"),
    "dingtalk": ("notifiers.config:DingTalkSettings", "notifiers.dingtalk:DingTalkNotifier"),
    "wecom": ("notifiers.config:WeComSettings", "notifiers.wecom:WeComNotifier"),
    "feishu": ("notifiers.config:FeishuSettings", "notifiers.feishu:FeishuNotifier"),
    "webhook": ("notifiers.config:WebhookSettings", "notifiers.webhook:WebhookNotifier"),
}

__all__ = ["REGISTRY", "attaches", "build", "rate_limits", "settings_model"]


def _load(ref: str):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def settings_model(kind: str):
    return _load(REGISTRY[kind][0])


def rate_limits(kind: str) -> list[tuple[int, float]]:
    """The (sends, seconds) windows of a notifier type; the relay counts them per channel."""
    return list(getattr(_load(REGISTRY[kind][1]), "rate_limits", [])) if kind in REGISTRY else []


def attaches(kind: str | None) -> tuple[str, ...]:
    """The files a notifier type carries (``pdf``, ``xlsx``), in order; none: the text and the link only."""
    return tuple(getattr(_load(REGISTRY[kind][1]), "attaches", ())) if kind in REGISTRY else ()


def build(block: dict):
    """A notifier from one ``[[notifiers]]`` block; :class:`NotifierConfigError` if it cannot be."""
    from .base import NotifierConfigError

    kind = block.get("type")
    if kind not in REGISTRY:
        raise NotifierConfigError(f"notifier {block.get('name', '?')}: unknown type {kind!r} "
                                  f"(one of {', '.join(REGISTRY)})")
    try:
        cfg = settings_model(kind).model_validate(block)
    except ValidationError as exc:
        raise NotifierConfigError([f"notifier {block.get('name', '?')}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
                                   for e in exc.errors()]) from None
    return _load(REGISTRY[kind][1])(cfg)
