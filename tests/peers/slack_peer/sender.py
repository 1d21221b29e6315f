"""Slack's side of the Events API: signed events, slash commands and interactions posted to an
app over HTTP, as Slack posts them."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.peers.slack_peer.recorded import Message
from tests.peers.slack_peer.workspace import APP_ID, BOT_USER, TEAM


@dataclass
class SlackSender:
    """Slack's side of the Events API: posts signed events and slash commands to an app."""

    url: str
    signing_secret: str
    session: aiohttp.ClientSession
    team: str = TEAM

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        age: float = 0.0,
        secret: str | None = None,
    ) -> tuple[int, str]:
        envelope = {
            "token": "legacy",
            "team_id": self.team,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": self.team, "user_id": BOT_USER, "is_bot": True}],
        }
        headers = {"Content-Type": "application/json"}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "timeout"}
        return await self._post(json.dumps(envelope), headers, age=age, secret=secret)

    async def command(
        self, command: str, text: str, *, user: str, channel: str, response_url: str
    ) -> tuple[int, str]:
        form = {
            "token": "legacy",
            "team_id": self.team,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": response_url,
            "trigger_id": uuid.uuid4().hex,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return await self._post(urlencode(form), headers)

    async def feedback(self, *, user: str, channel: str, message_ts: str, value: str) -> int:
        """A click on a feedback_buttons element, as the block_actions payload Slack posts."""
        action = {"type": "feedback_buttons", "action_id": "parley_feedback", "value": value}
        return await self.block_action(
            action, user=user, channel=channel, message_ts=message_ts, block_id="feedback"
        )

    async def click(self, message: Message, action_id: str, *, user: str) -> int:
        """A click on the button `action_id` of a message the app posted (a `button` element),
        as Slack posts it: the block_actions payload with the button's value and block."""
        for block in message.blocks or []:
            for element in block.get("elements", []):
                if element.get("type") == "button" and element.get("action_id") == action_id:
                    action = {
                        "type": "button",
                        "action_id": action_id,
                        "text": element["text"],
                        "value": element.get("value", ""),
                        "style": element.get("style"),
                    }
                    return await self.block_action(
                        action,
                        user=user,
                        channel=message.channel,
                        message_ts=message.ts,
                        thread_ts=message.thread_ts,
                        block_id=block.get("block_id", "actions"),
                    )
        raise AssertionError(f"no button {action_id} on the message")

    async def block_action(
        self,
        action: dict[str, Any],
        *,
        user: str,
        channel: str,
        message_ts: str,
        block_id: str,
        thread_ts: str | None = None,
    ) -> int:
        """One interaction with a block element, posted form-encoded and signed like Slack."""
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        message: dict[str, Any] = {"type": "message", "ts": message_ts}
        if thread_ts:
            container["thread_ts"] = message["thread_ts"] = thread_ts
        payload = {
            "type": "block_actions",
            "team": {"id": self.team, "domain": "test"},
            "user": {"id": user, "team_id": self.team},
            "api_app_id": APP_ID,
            "container": container,
            "channel": {"id": channel},
            "message": message,
            "trigger_id": uuid.uuid4().hex,
            "actions": [{**action, "block_id": block_id, "action_ts": str(time.time())}],
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _ = await self._post(urlencode({"payload": json.dumps(payload)}), headers)
        return status

    async def shortcut(
        self,
        callback_id: str,
        *,
        user: str,
        channel: str,
        message: dict[str, Any],
        response_url: str,
    ) -> int:
        """A message shortcut used on `message`: the message_action payload Slack posts."""
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "trigger_id": uuid.uuid4().hex,
            "message_ts": message["ts"],
            "response_url": response_url,
            "team": {"id": self.team, "domain": "test"},
            "user": {"id": user, "name": user.lower(), "team_id": self.team},
            "channel": {"id": channel, "name": "general"},
            "message": {"type": "message", **message},
            "action_ts": str(time.time()),
            "token": "legacy",
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _ = await self._post(urlencode({"payload": json.dumps(payload)}), headers)
        return status

    async def _post(
        self, body: str, headers: dict[str, str], *, age: float = 0.0, secret: str | None = None
    ) -> tuple[int, str]:
        timestamp = str(int(time.time() - age))
        signer = SignatureVerifier(secret or self.signing_secret)
        headers = headers | {
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signer.generate_signature(timestamp=timestamp, body=body),
        }
        async with self.session.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.text()
