"""What `parley doctor` asks Slack: does it accept the bot token (auth.test)?"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.settings import SlackSettings

TIMEOUT_SECONDS = 15


async def check_token(settings: SlackSettings) -> list[str]:
    """Problems with SLACK_BOT_TOKEN or the API URL, each with its fix; empty when accepted."""
    assert settings.bot_token is not None
    client = AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        timeout=TIMEOUT_SECONDS,
    )
    try:
        await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error")
        return [
            f"Slack rejected SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token (xoxb-...) "
            "from OAuth & Permissions and set SLACK_BOT_TOKEN"
        ]
    except (OSError, TimeoutError) as error:
        problem = type(error).__name__
        return [f"cannot reach {settings.api_url} ({problem}): check PARLEY_SLACK_API_URL"]
    return []
