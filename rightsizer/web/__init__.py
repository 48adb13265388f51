"""The web console (``rightsizer web``): :func:`.app.create_app` and :func:`run`."""

from __future__ import annotations


def run(settings, listen: str | None = None, now=None) -> int:
    """Serve the console with uvicorn on ``[web] listen`` until SIGINT/SIGTERM."""
    import uvicorn

    from ..db import Store
    from .app import create_app

    store = Store.open(settings.store.resolved_url(), settings.store.busy_seconds)
    host, port = (listen or settings.web.listen).rpartition(":")[::2]
    app = create_app(settings, store, (lambda: now) if now is not None else None)
    uvicorn.run(app, host=host.strip("[]"), port=int(port), log_level="warning", access_log=False,
                proxy_headers=False, server_header=False)
    return 0
