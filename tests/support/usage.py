"""Usage as an operator reads it: `parley usage --csv`, and the store once turns are recorded."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from bot.store.base import Store, UsageQuery, UsageRow


def parley_usage(data_dir: Path, *args: str) -> str:
    """`parley usage ...` as an operator runs it, on the database in data_dir; its stdout."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PARLEY_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "usage", *args],
        capture_output=True,
        text=True,
        env={**env, "PARLEY_DATA_DIR": str(data_dir)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def parley_usage_csv(data_dir: Path, by: str) -> dict[str, float]:
    """`parley usage --since 1d --by BY --csv`: label -> dollars."""
    out = parley_usage(data_dir, "--since", "1d", "--by", by, "--csv")
    return {row[by]: float(row["cost_usd"]) for row in csv.DictReader(io.StringIO(out))}


async def recorded(store: Store, turns: int) -> list[UsageRow]:
    """Usage by space once `turns` are recorded: a turn is stored just after it is shown."""
    async with asyncio.timeout(10):
        while True:
            spaces = await store.usage_report(UsageQuery(0, "space"))
            if sum(row.turns for row in spaces) >= turns:
                return spaces
            await asyncio.sleep(0.02)


async def fetch_admin_page(port: int, token: str) -> str:
    """The ops server's /admin page, signed in with the admin token."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{port}/admin", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status == 200
        return await response.text()
