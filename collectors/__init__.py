"""Collectors: each turns one metric or inventory source into servers and summaries.

``REGISTRY`` maps a usage source's ``type`` name (``[metrics] source``, or the
``evaluate --<name>`` option) to its settings model in :mod:`collectors.config` and its
class, both named as ``module:attribute`` and imported only when asked for — so the
agent, which imports :mod:`collectors.config`, never loads numpy or an SDK. A new
source is one module plus one line here.

A usage collector is built as ``cls(cfg, settings)`` and offers
``summaries(servers, at, settings) -> [UsageSummary]`` (one per server, in order; a
failing shard gives its servers ``insufficient_data``, never idle), ``stats``
(:class:`collectors.tsdb.RequestStats`) and ``where`` (what it reads, for the run's source).

Sources without aggregation (CSV import, the demo simulation) produce a
:class:`rightsizer.summaries.SampleGrid` that is summarised with numpy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Plugin:
    settings: str  # "module:Class" of the pydantic settings model
    cls: str  # "module:Class" of the implementation
    help: str
    takes_url: bool = False  # `--<name> URL` overrides the configured url


REGISTRY: dict[str, Plugin] = {
    "prometheus": Plugin("collectors.config:PrometheusSettings", "collectors.prometheus:PrometheusCollector",
                         "Prometheus/VictoriaMetrics (statistics pushed down); URL default from "
                         "[metrics.prometheus]", takes_url=True),
    "influxdb": Plugin("collectors.config:InfluxDBSettings", "collectors.influxdb:InfluxDBCollector",
                       "InfluxDB 2 / 1.8 (Flux pushed down); URL default from [metrics.influxdb]", takes_url=True),
    "gnocchi": Plugin("collectors.config:GnocchiSettings", "collectors.gnocchi:GnocchiCollector",
                      "CPU and memory from OpenStack's Gnocchi (clouds.yaml, --cloud); no disk"),
    "local": Plugin("collectors.config:LocalSettings", "collectors.localstore:LocalStoreCollector",
                    "the local sample store (numpy blocks under [metrics.local] dir; the demo's simulated city)"),
}


def load(ref: str) -> Any:
    """The object named ``module:attribute``."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def settings_model(name: str) -> type:
    return load(REGISTRY[name].settings)


def collector_class(name: str) -> type:
    return load(REGISTRY[name].cls)
