"""`parley doctor`: check config, platform tokens, model backend and store, one line each."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from bot.adapter import adapter_names, load_adapter
from bot.config import ConfigError, Settings, load_settings, mask_url
from bot.extras import MissingExtra
from bot.llm.base import BackendError, Capabilities
from bot.llm.plugins import BackendPlugin, choose_backend
from bot.settings_doc import configured
from bot.store.factory import store_for

CHECK_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    subject: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.subject}: {self.detail}"


async def check_store(settings: Settings) -> Finding:
    shown = mask_url(settings.effective_database_url)
    try:
        store = store_for(settings)
        await asyncio.wait_for(store.open(), CHECK_TIMEOUT)
        await store.close()
    except ConfigError as error:  # its message already names the setting to fix
        return Finding(False, "store", f"{shown}: {error}")
    except Exception as error:  # whatever else stops the store is the finding
        return Finding(False, "store", f"{shown}: {error}; fix {settings.database_setting}")
    return Finding(True, "store", f"{shown} reachable, schema up to date")


async def check_backend(settings: Settings) -> list[Finding]:
    """The chosen backend's settings as given, then whether it answers."""
    try:
        name, plugin = choose_backend(settings)
    except ConfigError as error:
        return [Finding(False, "model", str(error))]
    given = []
    if plugin.settings_model is not None:
        shown = configured(settings.of(plugin.settings_model))
        given.append(Finding(True, name, f"settings {shown}"))
    return [*given, await check_model(settings, name, plugin)]


async def check_model(settings: Settings, name: str, plugin: BackendPlugin) -> Finding:
    """Whether the backend builds, and its model answers a ping."""
    try:
        backend, model = await asyncio.wait_for(plugin.build(settings), CHECK_TIMEOUT * 6)
        try:
            await asyncio.wait_for(backend.ping(), CHECK_TIMEOUT)
        finally:
            await backend.aclose()
    except ConfigError as error:
        return Finding(False, "model", str(error))
    except (BackendError, TimeoutError) as error:
        return Finding(False, "model", plugin.problem(settings, error))
    detail = f"{name} backend answers, model {model} ({describe(backend.capabilities)})"
    if not (backend.capabilities.context_window_known or settings.context_window):
        window = backend.context_window(model)
        detail += f"; its context window is a guess ({window} tokens): set PARLEY_CONTEXT_WINDOW"
    return Finding(True, "model", detail)


def describe(capabilities: Capabilities) -> str:
    """What a backend can do, as the operator reads it in `parley doctor`."""
    named = {
        "streams": capabilities.streams,
        "reads images": capabilities.vision,
        "calls tools": capabilities.tools,
        "serves reasoning models": capabilities.reasoning,
        "switches models": capabilities.switches_models,
    }
    return ", ".join(name for name, able in named.items() if able)


async def check_platforms(settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    for name in adapter_names():
        plugin = load_adapter(name)
        try:
            if not plugin.is_configured(settings):
                continue
        except MissingExtra as error:
            findings.append(Finding(False, name, str(error)))
            continue
        if plugin.settings_model is not None:
            given = configured(settings.of(plugin.settings_model))
            findings.append(Finding(True, name, f"settings {given}"))
        problems = await plugin.diagnose(settings)
        if problems:
            findings.extend(Finding(False, name, problem) for problem in problems)
        else:
            findings.append(Finding(True, name, "checks passed"))
    if not findings:
        findings.append(Finding(True, "platforms", "none configured (console only)"))
    return findings


async def check_tool_servers(settings: Settings) -> list[Finding]:
    from bot.tools.cli import check_servers

    try:
        return [Finding(*found) for found in await check_servers(settings)]
    except ConfigError as error:  # a bad table, a missing secret, the mcp extra not installed
        return [Finding(False, "mcp", str(error))]


async def diagnose(settings: Settings) -> list[Finding]:
    store, backend, platforms, servers = await asyncio.gather(
        check_store(settings),
        check_backend(settings),
        check_platforms(settings),
        check_tool_servers(settings),
    )
    return [Finding(True, "config", "valid"), store, *backend, *platforms, *servers]


def run_doctor(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(Finding(False, "config", str(error)).line())
        return 2
    findings = asyncio.run(diagnose(settings))
    for finding in findings:
        print(finding.line())
    failed = sum(not finding.ok for finding in findings)
    print(f"{failed} problem(s) found" if failed else "all good", file=sys.stderr)
    return 1 if failed else 0
