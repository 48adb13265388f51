"""Every plugin's docstring example and the agent's example file are valid configuration."""
import re
import tomllib
from pathlib import Path

import pytest

import collectors.gnocchi
import collectors.influxdb
import collectors.openstack
import collectors.prometheus
import collectors.psutil_local
from collectors.psutil_local import AgentSettings, load_agent_settings
from rightsizer.settings import parse_settings

ROOT = Path(__file__).resolve().parent.parent


def _example(module) -> str:
    doc = module.__doc__
    block = doc.split("Configuration example", 1)[1].split("::", 1)[1]
    lines = [line[4:] for line in block.splitlines()[1:] if line.startswith("    ") or not line.strip()]
    return "\n".join(lines).strip()


@pytest.mark.parametrize("module", [collectors.prometheus, collectors.influxdb, collectors.openstack,
                                    collectors.gnocchi])
def test_docstring_example_is_valid(module):
    data = tomllib.loads(re.sub(r'"[^"\n]*…[^"\n]*"', '"x"', _example(module)))
    parse_settings(data, module.__name__)


def test_agent_docstring_and_example_file_are_valid():
    text = re.sub(r"#.*", "", _example(collectors.psutil_local)).replace('"3f6c…"', '"x"')
    AgentSettings.model_validate(tomllib.loads(text))
    assert load_agent_settings(str(ROOT / "config" / "agent.example.toml")) == AgentSettings()


@pytest.mark.parametrize("name", ["console", "email", "dingtalk", "wecom", "feishu", "webhook"])
def test_notifier_docstring_example_is_valid_configuration(name):
    import importlib

    module = importlib.import_module(f"notifiers.{name}")
    settings = parse_settings(tomllib.loads(_example(module)), module.__name__)
    assert [b["type"] for b in settings.notifiers] == [name]
