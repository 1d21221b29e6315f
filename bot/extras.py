"""Optional libraries come in extras: a missing one stops Parley with the line that installs it."""

from __future__ import annotations

import importlib.util

from bot.config import ConfigError


class MissingExtra(ConfigError):
    """A feature the settings ask for needs an extra that is not installed; str() is one line."""


def install_command(extra: str) -> str:
    """How to install an extra (from the checkout: the distribution is not on PyPI yet)."""
    return f'pip install -e ".[{extra}]" in the Parley checkout'


def is_installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing, or a broken half-import
        return False


def require(modules: str | tuple[str, ...], extra: str, feature: str, how: str = "") -> None:
    """Raise MissingExtra naming `feature`, the missing modules and the install line.

    `how` replaces the default install line (e.g. to take a CPU build of a large library).
    """
    wanted = (modules,) if isinstance(modules, str) else modules
    missing = [module for module in wanted if not is_installed(module)]
    if missing:
        names = ", ".join(missing[:-1]) + (" and " if len(missing) > 1 else "") + missing[-1]
        raise MissingExtra(
            f"{feature} needs {names}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: "
            f"{how or install_command(extra)}"
        )
