"""deploy/parley.example.toml: each commented setting is valid TOML and a valid value as is."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot.config import load_settings
from tests.deploy.files import REPO

SETTING_LINES = re.findall(
    r"^# (\w+ = .*)$", (REPO / "deploy" / "parley.example.toml").read_text(), re.MULTILINE
)


def test_the_example_has_every_setting_line():
    assert len(SETTING_LINES) > 50


@pytest.mark.parametrize("line", SETTING_LINES)
def test_uncommenting_a_line_gives_a_config_parley_accepts(line: str, tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(line + "\n")
    name = line.split(" = ")[0]
    assert name in tomllib.loads(config.read_text())
    load_settings(config)
