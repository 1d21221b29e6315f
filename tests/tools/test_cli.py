"""`parley tools`, `parley audit` and `parley doctor`'s server check, run as the real command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.store.base import ToolCallRecord
from bot.store.sqlite import SqliteStore
from tests.support.cli import run_parley
from tests.tools.conftest import ROOT


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "parley.toml"
    path.write_text(
        f"""
[mcp.servers.jira]
command = {json.dumps(sys.executable)}
args = ["-m", "tests.tools.mcp_server", "stdio"]
env = {{PYTHONPATH = {json.dumps(str(ROOT))}}}

[tools]
allow = {{"console" = ["jira.*", "time.now"], "slack:T1:C1" = ["time.*"]}}
{extra}"""
    )
    return path


def env(tmp_path: Path) -> dict[str, str]:
    return {"PARLEY_DATA_DIR": str(tmp_path), "PARLEY_DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}


def test_parley_tools_lists_each_tool_with_its_server_and_places(tmp_path: Path) -> None:
    run = run_parley("tools", "--json", "--config", str(config_file(tmp_path)), env=env(tmp_path))
    assert run.returncode == 0, run.stderr
    listed = {row["name"]: row for row in json.loads(run.stdout)["tools"]}
    assert set(listed) == {
        "time.now",
        "place.recent",
        "jira.lookup",
        "jira.create_ticket",
        "jira.big",
        "jira.crash",
        "jira.reveal",
    }
    assert listed["jira.lookup"]["server"] == "jira" and not listed["jira.lookup"]["acting"]
    assert listed["jira.create_ticket"]["acting"]
    assert listed["place.recent"]["server"] == "place" and not listed["place.recent"]["acting"]
    assert listed["jira.lookup"]["where"] == ["console"]
    assert listed["time.now"]["where"] == ["console", "slack:T1:C1"]
    plain = run_parley("tools", "--config", str(config_file(tmp_path)), env=env(tmp_path))
    assert "jira.create_ticket\tjira\tacting (asks approval)\tconsole" in plain.stdout.splitlines()


def test_a_server_table_with_command_and_url_is_one_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[mcp.servers.x]\ncommand = "x"\nurl = "http://127.0.0.1:9/mcp"\n')
    run = run_parley("tools", "--config", str(path), env=env(tmp_path))
    assert run.returncode == 2
    assert run.lines == [
        "parley: mcp.servers.x: give either command (stdio) or url (streamable HTTP)"
    ]


async def test_parley_audit_prints_one_line_per_call_filtered(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "p.db")
    await store.open()
    digest = "0" * 64
    for at, tool, user in ((1e9, "jira.lookup", "dana"), (2e9, "time.now", "eli")):
        record = ToolCallRecord(at, "console", "local", "s", user, tool, digest, "ok", 7, 70)
        await store.record_tool_call(record)
    await store.close()
    run = run_parley("audit", "--since", "2000-01-01", env=env(tmp_path))
    assert run.returncode == 0, run.stderr
    tail = "ok  7ms  70B  sha256:000000000000"
    assert run.stdout.splitlines() == [
        f"2001-09-09T01:46:40Z  console:local:s  dana  jira.lookup  {tail}",
        f"2033-05-18T03:33:20Z  console:local:s  eli  time.now  {tail}",
    ]
    only = run_parley(
        "audit", "--since", "2000-01-01", "--tool", "time.now", "--json", env=env(tmp_path)
    )
    assert [json.loads(line)["user"] for line in only.stdout.splitlines()] == ["eli"]
