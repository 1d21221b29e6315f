"""Slack on loopback: a Web API peer that records every call, and the Events API side that sends
correctly signed events and slash commands to an app."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

TEAM = "T0TEAM"
WORKSPACE_URL = "https://test.slack.com/"
BOT_USER = "U0PARLEY"
BOT_ID = "B0PARLEY"
UPDATE_LIMIT = 4_000


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float
    answer: dict[str, Any] = field(default_factory=dict)
    """What the peer answered (a new message's `ts`, say)."""
    connection: object = None
    """The client's address and port: calls over one kept-alive connection share it."""


@dataclass(slots=True)
class Message:
    channel: str
    ts: str
    text: str
    thread_ts: str | None = None
    markdown: bool = False
    streaming: bool = False
    edits: int = 0
    blocks: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Ephemeral:
    """A chat.postEphemeral message: only `user` sees it."""

    channel: str
    user: str
    text: str
    thread_ts: str | None = None


def _blocks(value: Any) -> list[dict[str, Any]] | None:
    """Blocks as sent: a JSON string in a form body, a list in a JSON one."""
    return json.loads(value) if isinstance(value, str) else value


@dataclass
class SlackPeer:
    """Answers `POST /api/<method>` like Slack; `POST /respond/<id>` is a response_url."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Each channel's earlier top-level messages, oldest first (conversations.history)."""
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """conversations.info's `channel` by id; unlisted: public (a DM if the id starts with D)."""
    members: dict[str, list[str]] = field(default_factory=dict)
    """conversations.members by channel id."""
    history_reads: Counter[tuple[str, str]] = field(default_factory=Counter)
    """How many times each (channel, ts) was sent in a conversations.history/replies page."""
    not_in_channel: set[str] = field(default_factory=set)
    streaming: bool = True
    users_stop_streams: bool = False
    rejects_tokens: bool = False
    """Answer auth.test with invalid_auth, as Slack does for a revoked token."""
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    responses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    rate_limited: dict[str, int] = field(default_factory=dict)
    """How many next calls of a method get HTTP 429 `ratelimited` with Retry-After: 1."""
    bot_token: str = "xoxb-test"
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    """Shared files by id: (content, mimetype), served at /files-pri/<id>/<name> to the bot."""
    redirects: dict[str, str] = field(default_factory=dict)
    """File ids whose download answers 302 to this Location instead."""
    downloads: list[tuple[str, str, str]] = field(default_factory=list)
    """Each file request as (Host header, path, Authorization header)."""

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/respond/{name or uuid.uuid4().hex}"

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def called(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def thread(self, channel: str, thread_ts: str | None) -> list[Message]:
        return [
            m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts
        ]

    async def wait_for(self, condition: Callable[[], object], within: float = 10.0) -> None:
        """Poll until condition() is truthy (listeners run after the ack)."""
        deadline = asyncio.get_running_loop().time() + within
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; calls: {[c.method for c in self.calls]}")
            await asyncio.sleep(0.02)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_get("/link", self._socket_mode)
        app.router.add_get("/files-pri/{id}/{name}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def socket_connected(self) -> bool:
        return any(not socket.closed for socket in self._sockets)

    async def push(self, body: dict[str, Any], kind: str = "events_api") -> str:
        """Deliver a payload over Socket Mode, as Slack does; returns its envelope id."""
        envelope_id = uuid.uuid4().hex
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": body,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        for socket in self._sockets:
            if not socket.closed:
                await socket.send_str(json.dumps(envelope))
        return envelope_id

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(frame.data))
        return socket

    def share(self, file_id: str, name: str, mimetype: str, content: bytes) -> dict[str, Any]:
        """Store a file and return its object as a `message` event's `files` carries it."""
        self.files[file_id] = (content, mimetype)
        url = f"http://127.0.0.1:{self.port}/files-pri/{file_id}/{name}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2],
            "size": len(content),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }

    async def _file(self, request: web.Request) -> web.Response:
        """A private file: only with the bot token in the Authorization header, as on Slack."""
        auth = request.headers.get("Authorization", "")
        self.downloads.append((request.host, request.path, auth))
        file_id = request.match_info["id"]
        if file_id in self.redirects:
            raise web.HTTPFound(self.redirects[file_id])
        if auth != f"Bearer {self.bot_token}" or file_id not in self.files:
            return web.Response(status=404, text="<html>sign in</html>", content_type="text/html")
        content, mimetype = self.files[file_id]
        return web.Response(body=content, content_type=mimetype)

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append((request.match_info["name"], await request.json()))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        body = await request.read()
        if request.content_type == "application/json" and body:
            params.update(json.loads(body))
        elif body:
            params.update(parse_qsl(body.decode()))
        peer = request.transport.get_extra_info("peername") if request.transport else None
        call = Call(method, params, asyncio.get_running_loop().time(), connection=peer)
        self.calls.append(call)
        if self.rate_limited.get(method, 0) > 0:
            self.rate_limited[method] -= 1
            refusal = {"ok": False, "error": "ratelimited"}
            return web.json_response(refusal, status=429, headers={"Retry-After": "1"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        call.answer.update(handler(params) if handler else {"ok": True})
        return web.json_response(call.answer)

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.rejects_tokens:
            return {"ok": False, "error": "invalid_auth"}
        return {
            "ok": True,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "team_id": TEAM,
            "team": "Test",
            "user": "parley",
            "url": WORKSPACE_URL,
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params["user"]
        user = self.users.get(user_id, {"id": user_id, "name": user_id.lower()})
        if str(params.get("include_locale")).lower() not in ("1", "true"):
            user = {k: v for k, v in user.items() if k != "locale"}  # only when asked for
        return {"ok": True, "user": user}

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params["channel"]
        if channel in self.not_in_channel:
            return {"ok": False, "error": "not_in_channel"}
        ts = self.next_ts()
        markdown = "markdown_text" in params
        text = params.get("markdown_text") if markdown else params.get("text", "")
        self.messages[(channel, ts)] = Message(
            channel,
            ts,
            text or "",
            params.get("thread_ts"),
            markdown=markdown,
            blocks=_blocks(params.get("blocks")),
        )
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        """Shown to `user` alone; Slack answers with a `message_ts` and keeps no message."""
        if not (params.get("channel") and params.get("user")):
            return {"ok": False, "error": "invalid_arguments"}
        if not (params.get("text") or params.get("blocks")):
            return {"ok": False, "error": "no_text"}
        if params["channel"] in self.not_in_channel:
            return {"ok": False, "error": "not_in_channel"}
        channel, user = params["channel"], params["user"]
        told = Ephemeral(channel, user, params.get("text", ""), params.get("thread_ts"))
        self.ephemerals.append(told)
        return {"ok": True, "message_ts": self.next_ts()}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get((params["channel"], params["ts"]))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if len(params.get("text", "")) > UPDATE_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        message.blocks = _blocks(params.get("blocks"))
        # With blocks Slack shows them (`text` is the notification); a markdown block as Markdown.
        shown = [b["text"] for b in message.blocks or [] if b.get("type") == "markdown"]
        message.text = shown[0] if shown else params.get("text", "")
        message.markdown = bool(shown)
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _chat_startStream(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": "unknown_method"}
        channel = params["channel"]
        if not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if channel.startswith("C") and not (
            params.get("recipient_user_id") and params.get("recipient_team_id")
        ):
            return {"ok": False, "error": "missing_recipient_user_id"}
        ts = self.next_ts()
        self.messages[(channel, ts)] = Message(
            channel,
            ts,
            params.get("markdown_text", ""),
            params["thread_ts"],
            markdown=True,
            streaming=True,
        )
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_appendStream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self.messages[(params["channel"], params["ts"])]
        if self.users_stop_streams:
            message.streaming = False
            return {"ok": False, "error": "stopped_by_user"}
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message.text += params.get("markdown_text", "")
        message.edits += 1
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _chat_stopStream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self.messages[(params["channel"], params["ts"])]
        if not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message.text += params.get("markdown_text", "")
        message.streaming = False
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread, oldest first, paged by cursor."""
        messages = self.threads.get((params["channel"], params["ts"]), [])
        oldest = float(params.get("oldest", 0))
        messages = [m for m in messages if float(m["ts"]) >= oldest]
        return self._page(params, "messages", messages, limit=1000)

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's top-level messages, newest first, after `oldest`, paged by cursor."""
        channel = params["channel"]
        if channel in self.not_in_channel:
            return {"ok": False, "error": "not_in_channel"}
        oldest = float(params.get("oldest", 0))
        messages = [m for m in reversed(self.history.get(channel, [])) if float(m["ts"]) > oldest]
        return self._page(params, "messages", messages, limit=100)

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params["channel"]
        direct = channel.startswith("D")
        default = {
            "id": channel,
            "is_channel": not direct,
            "is_im": direct,
            "is_private": False,
            "is_member": channel not in self.not_in_channel,
        }
        return {"ok": True, "channel": self.conversations.get(channel, default)}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._page(params, "members", self.members.get(params["channel"], []), limit=100)

    def _page(
        self, params: dict[str, Any], name: str, items: list[Any], *, limit: int
    ) -> dict[str, Any]:
        """One page as Slack's cursor pagination gives it (the cursor is an opaque offset)."""
        start = int(params.get("cursor") or 0)
        end = start + min(int(params.get("limit") or limit), 999)
        page = items[start:end]
        if name == "messages":
            for message in page:
                self.history_reads[(params["channel"], message["ts"])] += 1
        more = end < len(items)
        return {
            "ok": True,
            name: page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(end) if more else ""},
        }


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
            "api_app_id": "A0PARLEY",
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
            "api_app_id": "A0PARLEY",
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
            "api_app_id": "A0PARLEY",
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
