"""deploy/compose.yaml: Parley on PostgreSQL, the database URL, ports, grace, model profiles."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from bot.config import Settings
from tests.deploy.files import (
    DEPLOY,
    dockerfile,
    is_parley_command,
    mentioned_setting_names,
    settings_from,
    unknown_names,
    with_compose_defaults,
    yaml_file,
)

COMPOSE_PATH = DEPLOY / "compose.yaml"
COMPOSE = yaml_file(COMPOSE_PATH)
SERVICES = COMPOSE["services"]
PARLEY = SERVICES["parley"]


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, f"write durations in seconds: {duration}"
    return float(match.group(1))


def _parley_env() -> dict[str, str]:
    return {
        name: with_compose_defaults(str(value)) for name, value in PARLEY["environment"].items()
    }


def test_parley_is_built_from_the_dockerfile_target():
    build = PARLEY["build"]
    assert (COMPOSE_PATH.parent / build["context"] / build["dockerfile"]).resolve() == (
        DEPLOY / "Dockerfile"
    )
    assert build["target"] in dockerfile().stages
    assert is_parley_command(PARLEY["command"])


def test_secrets_come_from_an_env_file_not_the_compose_file():
    assert PARLEY["env_file"] == ".env"
    secret_names = {"OPENAI_API_KEY", "DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}
    assert not secret_names & set(PARLEY["environment"])


def test_the_database_url_names_the_postgres_service_and_its_database(
    monkeypatch: pytest.MonkeyPatch,
):
    settings = settings_from(_parley_env(), monkeypatch)
    url = urlsplit(settings.effective_database_url)
    postgres = SERVICES["postgres"]
    credentials = {k: with_compose_defaults(v) for k, v in postgres["environment"].items()}
    assert url.scheme == "postgresql"
    assert url.hostname == "postgres" and url.hostname in SERVICES
    assert url.port == 5432
    assert url.username == credentials["POSTGRES_USER"]
    assert url.password == credentials["POSTGRES_PASSWORD"]
    assert url.path == "/" + credentials["POSTGRES_DB"]
    assert PARLEY["environment"]["PARLEY_DATABASE_URL"].count("${POSTGRES_PASSWORD") == 1
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_parley_waits_for_a_healthy_postgres():
    assert PARLEY["depends_on"]["postgres"]["condition"] == "service_healthy"
    test = SERVICES["postgres"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"]
    assert "--dbname=parley" in test and "--username=parley" in test
    assert "postgres-data" in COMPOSE["volumes"]


def test_the_published_port_is_the_one_parley_listens_on(monkeypatch: pytest.MonkeyPatch):
    settings = settings_from(_parley_env(), monkeypatch)
    (mapping,) = PARLEY["ports"]
    container_port = int(mapping.rsplit(":", 1)[1])
    assert container_port == settings.http_port == Settings.model_fields["http_port"].default
    assert dockerfile().last(PARLEY["build"]["target"], "EXPOSE") == str(container_port)
    assert settings.log_format == "json"


def test_docker_waits_longer_than_parley_finishes_answers():
    grace = Settings.model_fields["shutdown_grace_seconds"].default
    assert _seconds(PARLEY["stop_grace_period"]) > grace


def test_every_named_volume_is_declared():
    for service in SERVICES.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in COMPOSE["volumes"], f"volume {source} is not declared"


@pytest.mark.parametrize("profile", ["ollama", "vllm"])
def test_each_model_server_profile_has_its_server_and_a_health_check(profile: str):
    (name,) = [name for name, s in SERVICES.items() if profile in s.get("profiles", [])]
    assert name == profile
    assert SERVICES[name]["healthcheck"]["test"][0] == "CMD"
    assert "profiles" not in PARLEY and "profiles" not in SERVICES["postgres"]


def test_the_documented_base_urls_point_at_services_of_this_file():
    text = COMPOSE_PATH.read_text()
    urls = re.findall(r"OPENAI_BASE_URL=(\S+)", text)
    assert len(urls) == 2
    for url in map(urlsplit, urls):
        assert url.hostname in SERVICES and url.path == "/v1"
    assert {urlsplit(url).port for url in urls} == {11434, 8000}


def test_every_name_written_in_the_compose_file_is_a_setting():
    assert not unknown_names(set(PARLEY["environment"]))
    assert not unknown_names(mentioned_setting_names(COMPOSE_PATH.read_text()))
