"""The admin page: off without its token, behind it otherwise, the store's figures, real charts."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.prices import ModelPrice, dollars
from bot.store.base import UsageQuery
from bot.wiring import open_runtime
from tests.support.events import message
from tests.support.png import pixels
from tests.support.sinks import RecordingSink

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "admin-token-for-tests"
PRICES = {"peer-model": ModelPrice(input=10_000, output=20_000)}
BAR_BLUE = (0x3B, 0x6F, 0xD8)


async def turns(runtime) -> None:
    for user, text in (("u1", "the secret plan is xyzzy"), ("u1", "more"), ("u2", "hello")):
        sink = RecordingSink()
        await runtime.dialogue.handle(message(text, user=user), sink)
        assert sink.final


@pytest.fixture
def admin_settings(peer_settings):
    return peer_settings.model_copy(update={"prices": PRICES, "admin_token": SecretStr(TOKEN)})


async def test_the_page_is_off_without_its_setting(peer_settings):
    async with open_runtime(peer_settings) as runtime, aiohttp.ClientSession() as session:
        await runtime.ops.start("127.0.0.1", 0)
        async with session.get(f"http://127.0.0.1:{runtime.ops.port}/admin") as response:
            assert response.status == 404


async def test_the_page_needs_the_token_and_shows_the_stores_figures(admin_settings):
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies from an IP address like a browser does
    async with (
        open_runtime(admin_settings) as runtime,
        aiohttp.ClientSession(cookie_jar=jar) as session,
    ):
        await turns(runtime)
        await runtime.store.count_moderated("test", "space", "input", int(time.time() // 86_400))
        total = sum(r.cost_micros for r in await runtime.store.usage_report(UsageQuery(0)))
        await runtime.ops.start("127.0.0.1", 0)
        page = f"http://127.0.0.1:{runtime.ops.port}/admin"
        async with session.get(page) as response:
            assert response.status == 401 and 'name="token"' in await response.text()
        wrong = {"Authorization": "Bearer not-it"}
        async with session.get(page, headers=wrong) as response:
            assert response.status == 401
        async with session.get(page, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200
            shown = await response.text()
        login = f"{page}/login"
        async with session.post(login, data={"token": "nope"}, allow_redirects=False) as response:
            assert response.status == 401
        async with session.post(login, data={"token": TOKEN}, allow_redirects=False) as response:
            assert response.status == 303
            cookie = response.headers["Set-Cookie"]
        async with session.get(page) as response:  # the session's cookie now
            assert response.status == 200
    assert "HttpOnly" in cookie and TOKEN not in cookie
    assert f"<b>{dollars(total)}</b>" in shown and total > 0
    assert "test:u1" in shown and "test:u2" in shown and "peer-model" in shown
    assert '<table id="moderation">' in shown and "<td>test:space</td><td>1</td><td>0</td>" in shown
    assert "xyzzy" not in shown and "hello" not in shown  # never message content


def chromium() -> Path:
    """Debian's chromium, installed here when missing (Playwright's own download fails offline)."""
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, timeout=600)
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing and could not be installed with apt-get")
    return CHROMIUM


async def test_the_page_in_a_real_browser_signs_in_and_draws_its_charts(admin_settings, tmp_path):
    from playwright.async_api import async_playwright

    executable = chromium()
    async with open_runtime(admin_settings) as runtime:
        await turns(runtime)
        total = sum(r.cost_micros for r in await runtime.store.usage_report(UsageQuery(0)))
        await runtime.ops.start("127.0.0.1", 0)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(executable),
                args=[
                    "--no-sandbox",
                    "--headless",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                ],
            )
            try:
                page = await browser.new_page()
                await page.goto(f"http://127.0.0.1:{runtime.ops.port}/admin")
                await page.fill("input[name=token]", TOKEN)
                await page.click("button[type=submit]")
                await page.wait_for_selector("#total-cost")
                shown_cost = await page.inner_text("#total-cost b")
                bars = await page.locator("#cost-per-model rect").count()
                users = await page.inner_text("#by-user")
                shot = await page.locator("#cost-per-model").screenshot()
                await page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
            finally:
                await browser.close()
    assert shown_cost == dollars(total)
    assert bars == 1 and "test:u1" in users
    colours = pixels(shot)
    assert BAR_BLUE in colours and len(colours) > 3, "the chart rendered, not a blank box"
