"""docs/operations.md names only real settings, files, commands and metrics."""

from __future__ import annotations

import re

from bot.metrics import Metrics
from tests.deploy.files import REPO, is_parley_command, mentioned_setting_names, unknown_names

DOC = (REPO / "docs" / "operations.md").read_text()


def test_every_setting_named_exists():
    named = mentioned_setting_names(DOC)
    assert len(named) > 20
    assert not unknown_names(named)


def test_every_deploy_file_named_exists():
    paths = set(re.findall(r"`(deploy/[\w./-]+)`", DOC)) - {"deploy/.env"}  # the operator's own
    assert {"deploy/Dockerfile", "deploy/compose.yaml", "deploy/parley.service"} <= paths
    for path in paths:
        assert (REPO / path).exists(), path


def test_every_parley_command_shown_exists():
    commands = set(re.findall(r"\bparley (?!parley\b)(\w+)", DOC))
    assert {"serve", "discord", "slack", "console", "export", "doctor"} <= commands
    for command in commands:
        assert is_parley_command([command]), command


def test_the_metrics_table_is_exactly_what_parley_exports():
    exported = set(re.findall(r"^# TYPE (\w+) ", Metrics().render().decode(), re.MULTILINE))
    documented = set(re.findall(r"^\| `(parley_\w+)[`{]", DOC, re.MULTILINE))
    assert documented == exported
