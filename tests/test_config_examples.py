"""Every plugin's docstring example and the agent's example file are valid configuration."""
import re
import tomllib
from pathlib import Path

import pytest

import importlib

import collectors
import collectors.openstack
import collectors.psutil_local
import notifiers
from collectors.psutil_local import AgentSettings, load_agent_settings
from rightsizer.settings import parse_settings

ROOT = Path(__file__).resolve().parent.parent


def _example(module) -> str:
    doc = module.__doc__
    block = doc.split("Configuration example", 1)[1].split("::", 1)[1]
    lines = [line[4:] for line in block.splitlines()[1:] if line.startswith("    ") or not line.strip()]
    return "\n".join(lines).strip()


USAGE_MODULES = [importlib.import_module(p.cls.partition(":")[0]) for p in collectors.REGISTRY.values()]


@pytest.mark.parametrize("module", [*USAGE_MODULES, collectors.openstack], ids=lambda m: m.__name__)
def test_docstring_example_is_valid(module):
    data = tomllib.loads(re.sub(r'"[^"\n]*…[^"\n]*"', '"x"', _example(module)))
    parse_settings(data, module.__name__)


def test_agent_docstring_and_example_file_are_valid():
    text = re.sub(r"#.*", "", _example(collectors.psutil_local)).replace('"3f6c…"', '"x"')
    AgentSettings.model_validate(tomllib.loads(text))
    assert load_agent_settings(str(ROOT / "config" / "agent.example.toml")) == AgentSettings()


@pytest.mark.parametrize("name", list(notifiers.REGISTRY))
def test_notifier_docstring_example_is_valid_configuration(name):
    module = importlib.import_module(notifiers.REGISTRY[name][1].partition(":")[0])
    settings = parse_settings(tomllib.loads(_example(module)), module.__name__)
    assert [b["type"] for b in settings.notifiers] == [name]


def test_the_shared_secret_docstring_example_is_valid():
    import rightsizer.secrets

    settings = parse_settings(tomllib.loads(re.sub(r"#.*", "", _example(rightsizer.secrets))), "secrets")
    assert settings.notifiers[0]["password"] == {"env": "RS_SMTP_PASSWORD"}


def test_every_registry_entry_loads_and_the_registries_agree_with_the_example_file():
    for name in collectors.REGISTRY:
        assert collectors.settings_model(name)().model_dump() is not None
        assert hasattr(collectors.collector_class(name), "summaries")
    for name in notifiers.REGISTRY:
        assert hasattr(notifiers._load(notifiers.REGISTRY[name][1]), "send")
    example = tomllib.loads((ROOT / "config" / "rightsizer.example.toml").read_text(encoding="utf-8"))
    assert set(example["metrics"]) - {"source"} == set(collectors.REGISTRY)
