"""`parley slack manifest` output is valid against Slack's own manifest schema, in every mode and
surface, and so is the manifest shipped in deploy/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from adapters.slack import manifest
from adapters.slack.settings import SlackSettings

SCHEMA = Path(__file__).parent / "manifest_schema" / "manifest.schema.1.0.0.json"
SHIPPED = Path(__file__).parents[2] / "deploy" / "slack-manifest.yaml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def problems(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("surface", ["agent", "assistant"])
@pytest.mark.parametrize("mode", ["socket", "http"])
def test_the_generated_manifest_is_valid_for_slack(
    validator: jsonschema.Draft7Validator, mode: manifest.Mode, surface: manifest.Surface
) -> None:
    url = "https://parley.example.com" if mode == "http" else None
    built = manifest.build_manifest(SlackSettings(), mode, url, surface=surface)
    assert problems(validator, built) == []
    # What the command prints (JSON and YAML) is the same document.
    assert problems(validator, json.loads(manifest.to_json(built))) == []
    assert yaml.safe_load(manifest.to_yaml(built)) == built


def test_the_shipped_manifest_is_valid_for_slack(validator: jsonschema.Draft7Validator) -> None:
    assert problems(validator, yaml.safe_load(SHIPPED.read_text())) == []


def test_the_schema_catches_what_slack_would_refuse(validator: jsonschema.Draft7Validator) -> None:
    built = manifest.build_manifest(SlackSettings(), "socket")
    built["features"]["agent_view"]["unknown_setting"] = True
    assert problems(validator, built), "the schema must reject fields Slack does not have"
