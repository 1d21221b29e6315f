"""deploy/Dockerfile and .dockerignore: targets, extras, user, ports, environment, health check."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.wiring import Runtime
from tests.deploy.files import (
    REPO,
    dockerfile,
    is_parley_command,
    mentioned_setting_names,
    pyproject,
    settings_from,
    unknown_names,
)

DOCKERFILE = dockerfile()
EXTRAS = pyproject()["project"]["optional-dependencies"]


def _exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"use the exec form: {args}"
    return json.loads(args)


def test_api_is_the_default_target_and_local_a_separate_one():
    names = list(DOCKERFILE.stages)
    assert names[-1] == "api", "the last stage is what a plain `docker build` produces"
    assert "local" in names
    assert DOCKERFILE.stages["api"].base == DOCKERFILE.stages["local"].base == "runtime"
    assert DOCKERFILE.stages["runtime"].base == "python:3.11-slim"


def test_every_extra_installed_exists_in_pyproject():
    chosen = DOCKERFILE.global_args["EXTRAS"].split(",")
    assert chosen == ["discord", "slack", "postgres", "tiktoken"]
    installs = " ".join(args for stage in DOCKERFILE.stages.values() for args in stage.all("RUN"))
    used = set(chosen)
    for group in re.findall(r'"\.\[([^\]]*)\]"', installs):
        used |= {extra for extra in group.split(",") if not extra.startswith("$")}
    assert used <= set(EXTRAS), f"no such extra: {used - set(EXTRAS)}"


def test_only_the_local_target_carries_torch():
    copied = {stage: DOCKERFILE.last(stage, "COPY") for stage in ("api", "local")}
    assert copied["api"].startswith("--from=builder ")
    assert copied["local"].startswith("--from=builder-local ")
    local_runs = " ".join(DOCKERFILE.stages["builder-local"].all("RUN"))
    assert "--index-url" in local_runs and "${EXTRAS},local]" in local_runs
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE.global_args["TORCH_INDEX_URL"]
    assert "local" not in " ".join(DOCKERFILE.stages["builder"].all("RUN"))


@pytest.mark.parametrize("target", ["api", "local"])
def test_runs_as_the_unprivileged_user_it_creates(target: str):
    user = DOCKERFILE.last(target, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric, so Kubernetes can check runAsNonRoot"
    created = " ".join(DOCKERFILE.stages["runtime"].all("RUN"))
    assert f"--uid {uid}" in created and f"--gid {gid}" in created


@pytest.mark.parametrize("target", ["api", "local"])
def test_the_image_environment_is_valid_parley_settings(
    target: str, monkeypatch: pytest.MonkeyPatch
):
    env = DOCKERFILE.image_env(target)
    assert not unknown_names(set(env))
    settings = settings_from(env, monkeypatch)
    assert settings.http_host == "0.0.0.0", "reachable from outside the container"
    assert str(settings.data_dir) == "/data"
    assert DOCKERFILE.last(target, "VOLUME") == "/data"
    assert DOCKERFILE.last(target, "EXPOSE") == str(Settings.model_fields["http_port"].default)
    for cache in ("TIKTOKEN_CACHE_DIR", "HF_HOME"):
        assert env.get(cache, "/data/").startswith("/data/"), f"{cache} outside the volume"


def test_every_name_written_in_the_dockerfile_is_a_setting():
    assert not unknown_names(mentioned_setting_names((REPO / "deploy/Dockerfile").read_text()))


def test_entrypoint_and_command_are_a_real_parley_command():
    entrypoint = _exec_form(DOCKERFILE.last("api", "ENTRYPOINT"))
    command = _exec_form(DOCKERFILE.last("api", "CMD"))
    assert entrypoint == ["parley"] and "parley" in pyproject()["project"]["scripts"]
    assert command == ["serve"]
    assert is_parley_command(command)


def test_the_build_context_holds_what_the_dockerfile_copies():
    lines = (REPO / ".dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "an allowlist: new files stay out of the image by default"
    readme = pyproject()["project"]["readme"]
    sources = {readme}
    for stage in DOCKERFILE.stages.values():
        for args in stage.all("COPY"):
            if not args.startswith("--from="):
                sources |= set(args.split()[:-1])
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
        assert f"!{source}" in ignore or f"!{source}/" in ignore, f".dockerignore drops {source}"


def _healthcheck_command() -> str:
    args = DOCKERFILE.last("api", "HEALTHCHECK")
    flags, _, command = args.partition(" CMD ")
    assert "--start-period=" in flags
    return command


async def _run_healthcheck(port: int) -> int:
    """The image's HEALTHCHECK command, run by a shell as Docker does, with this venv's python."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PARLEY_HTTP_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        "sh", "-c", _healthcheck_command(), env=env, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), 30)


async def test_the_healthcheck_passes_while_parley_serves_and_fails_after(parley_http: Runtime):
    port = parley_http.ops.port
    assert port is not None
    assert "/healthz" in shlex.split(_healthcheck_command())[-1]
    assert await _run_healthcheck(port) == 0
    await parley_http.ops.stop()
    assert await _run_healthcheck(port) != 0
