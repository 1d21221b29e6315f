"""What `parley doctor` asks Discord: does it accept the token (GET /users/@me)?"""

from __future__ import annotations

import aiohttp

from adapters.discord.settings import DiscordSettings

TIMEOUT = aiohttp.ClientTimeout(total=15)


async def check_token(settings: DiscordSettings) -> list[str]:
    """Problems with DISCORD_TOKEN or the API URL, each with its fix; empty when accepted."""
    assert settings.token is not None
    url = settings.api_url.rstrip("/") + "/users/@me"
    headers = {"Authorization": f"Bot {settings.token.get_secret_value()}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(url, headers=headers) as response,
        ):
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        return [f"cannot reach {url} ({type(error).__name__}): check PARLEY_DISCORD_API_URL"]
    if status == 401:
        return [
            "Discord rejected DISCORD_TOKEN (401): reset the token under Bot in the Developer "
            "Portal and set DISCORD_TOKEN to it"
        ]
    if status >= 400:
        return [f"GET /users/@me answered {status}: check DISCORD_TOKEN and PARLEY_DISCORD_API_URL"]
    return []
