"""Notifiers: email and IM delivery of rectification notices (整改通知).

Nothing lives here yet; the notifiers arrive with the notices issue. A notifier
only sends and says whether a failure is worth retrying; retry, dedup and rate
limits belong to the outbox relay.
"""
