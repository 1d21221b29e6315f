"""A settings model described for people: `parley <door> --help`, `parley doctor` and the
README's settings table, all from the model itself.

`python -m bot.settings_doc` prints the README rows of every installed backend's and door's
settings."""

from __future__ import annotations

import textwrap
from typing import Any

from pydantic_core import PydanticUndefined

from bot.settings_base import MASK, SettingsModel, mask_url


def _default(model: type[SettingsModel], field: str) -> str:
    info = model.model_fields[field]
    value = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
    if field in model.secret_fields() or value in (None, PydanticUndefined, [], ""):
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _description(model: type[SettingsModel], field: str) -> str:
    return " ".join((model.model_fields[field].description or "").split())


def readme_rows(model: type[SettingsModel]) -> list[str]:
    """The model's rows of the README's settings table."""
    rows = []
    for field, variable in model.env_names().items():
        default = _default(model, field)
        shown = f" `{default}`" if default else ""
        rows.append(f"| `{variable}` |{shown} | {_description(model, field)} |")
    return rows


def help_epilog(name: str, model: type[SettingsModel], whose: str = "settings") -> str:
    """The settings section of `parley <name> --help` (and, `whose` named, of `parley --help`)."""
    lines = [f"{whose} (environment variables, or the [{name}] table of the config file):"]
    for field, variable in model.env_names().items():
        default = _default(model, field)
        lines.append(f"  {variable}" + (f" (default {default})" if default else ""))
        lines.append(
            textwrap.fill(
                _description(model, field), 96, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
        )
    return "\n".join(lines)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return mask_url(value) if isinstance(value, str) else str(value)


def configured(model: SettingsModel) -> str:
    """The settings given (environment or file) as `VARIABLE=value`, secrets masked."""
    secrets = type(model).secret_fields()
    given = [
        f"{variable}={MASK if field in secrets else _shown(getattr(model, field))}"
        for field, variable in type(model).env_names().items()
        if field in model.model_fields_set
    ]
    return ", ".join(given) or "all defaults"


if __name__ == "__main__":
    from bot.config import plugin_settings_models

    for plugin_model in plugin_settings_models().values():
        print("\n".join(readme_rows(plugin_model)))
