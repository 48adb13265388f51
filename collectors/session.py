"""The OpenStack connection (openstacksdk, ``clouds.yaml``), shared by the inventory and Gnocchi.

``connect`` reads a ``clouds.yaml`` entry (``cloud``, else ``OS_CLOUD``); a missing SDK or
a broken entry is an :class:`OpenStackError` that names no credential.
"""

from __future__ import annotations

import warnings

from rightsizer.errors import SourceError

from .config import OpenStackSettings


class OpenStackError(SourceError):
    """The cloud could not be read; the message never carries credentials."""


def connect(cfg: OpenStackSettings):
    try:
        import openstack
        from openstack import exceptions as osexc
    except ImportError:  # pragma: no cover - the extra is not installed
        raise OpenStackError("openstacksdk is not installed: pip install 'rightsizer[openstack]'") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return openstack.connect(cloud=cfg.cloud or None, api_timeout=cfg.timeout_seconds)
    except osexc.ConfigException as exc:
        raise OpenStackError(f"clouds.yaml: {exc}") from None
