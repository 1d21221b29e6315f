"""Readers for the deployment files, and the environment names Parley understands."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main as parley_main
from bot.config import Settings, known_env_names, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

SETTING_ENV_NAMES = known_env_names()
"""Every variable Parley reads: one per setting (the core's and each door's), plus PARLEY_CONFIG."""

OTHER_PROGRAMS_ENV = {
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "HF_HOME",  # Hugging Face cache, for local models
    "HF_TOKEN",  # Hugging Face hub token, for gated models
    "TIKTOKEN_CACHE_DIR",  # where tiktoken keeps its encodings
}
"""Variables that belong to the tools Parley runs on, not to Parley."""

OUR_NAME = re.compile(r"\b(?:PARLEY|OPENAI|DISCORD|SLACK)_[A-Z0-9_]+\b")
"""What looks like one of Parley's variables wherever it is written, comments included."""

COMPOSE_DEFAULT = re.compile(r"\$\{(\w+):?-([^}]*)\}")


def mentioned_setting_names(text: str) -> set[str]:
    return set(OUR_NAME.findall(text))


def unknown_names(names: set[str]) -> set[str]:
    """Names that are neither Parley's variables nor another program's known ones."""
    return names - SETTING_ENV_NAMES - OTHER_PROGRAMS_ENV


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings Parley would run with in this environment (other programs' names ignored)."""
    for name, value in env.items():
        if name in SETTING_ENV_NAMES:
            monkeypatch.setenv(name, value)
    return load_settings()


def is_parley_command(argv: list[str]) -> bool:
    """Whether `parley <argv>` names a real command (asked through the real CLI's --help)."""
    try:
        parley_main([*argv, "--help"])
    except SystemExit as stop:
        return stop.code == 0
    return False


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def with_compose_defaults(value: str) -> str:
    """A Compose value as it is when the variables it names are unset: `${X:-d}` -> `d`."""
    return COMPOSE_DEFAULT.sub(lambda match: match.group(2), value)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for word, args in self.instructions if word == keyword]

    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                found[name] = value
        return found


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: dict[str, Stage]

    def lineage(self, name: str) -> list[Stage]:
        """The stage and the stages it is built FROM, nearest first."""
        chain = [self.stages[name]]
        while chain[-1].base in self.stages:
            chain.append(self.stages[chain[-1].base])
        return chain

    def image_env(self, name: str) -> dict[str, str]:
        """The ENV a container of this target starts with (ours; not the base image's)."""
        env: dict[str, str] = {}
        for stage in reversed(self.lineage(name)):
            env.update(stage.env())
        return env

    def last(self, name: str, keyword: str) -> str | None:
        for stage in self.lineage(name):
            if found := stage.all(keyword):
                return found[-1]
        return None


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    found = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        found.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return found


def dockerfile(path: Path = DEPLOY / "Dockerfile") -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in instructions(path.read_text()):
        if keyword == "FROM":
            words = args.split()
            image = words[0]
            for name, value in global_args.items():
                image = image.replace("${" + name + "}", value)
            assert [word.upper() for word in words[1:2]] == ["AS"], f"unnamed stage: FROM {args}"
            current = Stage(name=words[2], base=image)
            stages[current.name] = current
        elif current is None and keyword == "ARG":
            name, _, value = args.partition("=")
            global_args[name] = value
        elif current is not None:
            current.instructions.append((keyword, args))
    return Dockerfile(global_args, stages)


def systemd_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Section -> (key, value) in order; systemd allows a key many times (Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path}: {line!r} before any section"
        key, separator, value = line.partition("=")
        assert separator, f"{path}: {line!r} is not key=value"
        current.append((key.strip(), value.strip()))
    return sections
