"""DialogueManager: the one place a turn happens."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot import commands, context
from bot.access import AccessPolicy
from bot.limits import LimitPolicy, Limits
from bot.llm.base import Backend, GenerationOptions
from bot.logs import bind_turn
from bot.metrics import Metrics
from bot.replies import Outcome, RelayResult, ReplySink, relay
from bot.store.base import Store
from bot.types import Attachment, ChatMessage, ConversationKey, Incoming, Role

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on my side; please try again."


@dataclass(frozen=True, slots=True)
class DialoguePolicy:
    """The defaults a turn needs, resolved from Settings by the wiring."""

    model: str
    system_prompt: str
    max_tokens: int
    temperature: float
    models_allowed: tuple[str, ...] = ()
    context_window: int | None = None
    max_attachment_chars: int = 200_000
    access: dict[str, AccessPolicy] = field(default_factory=dict)


@dataclass(slots=True)
class _ActiveTurn:
    task: asyncio.Task[object]
    stop_requested: asyncio.Event


class DialogueManager:
    """Takes translated events, keeps each conversation's turns in order, streams the answers."""

    def __init__(
        self,
        policy: DialoguePolicy,
        store: Store,
        backend: Backend,
        *,
        limits: LimitPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._policy = policy
        self._store = store
        self._backend = backend
        self._limits = Limits(limits or LimitPolicy(), store)
        self.metrics = metrics or Metrics()
        self._tasks: set[asyncio.Task[None]] = set()
        self._active: dict[ConversationKey, _ActiveTurn] = {}
        self._accepting = True

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, incoming: Incoming, sink: ReplySink) -> asyncio.Task[None]:
        """Handle an event in the background; call in arrival order to keep turns in order."""
        task = asyncio.create_task(self.handle(incoming, sink))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def handle(self, incoming: Incoming, sink: ReplySink) -> None:
        """Handle one event; never raises for the event's own failures (the user is told)."""
        if not self._accepting or incoming.author.is_bot:
            return
        try:
            with bind_turn(str(incoming.key), str(incoming.event_id)):
                access = self._policy.access.get(incoming.key.platform)
                if access is not None and not access.allows(incoming):
                    log.debug("event outside the allowlists dropped")
                    return
                await self._dispatch(incoming, sink)
        except Exception:
            log.exception("turn failed")
            self.metrics.count_turn(str(incoming.key.platform), "error")
            await _tell(sink, INTERNAL_ERROR)

    async def knows(self, key: ConversationKey) -> bool:
        """Whether Parley was addressed here before (an answer may still be under way)."""
        return await self._store.knows(key)

    def stop(self, key: ConversationKey) -> bool:
        """Stop the answer being written in this conversation; False when there is none.

        Asked in a channel (a key without a thread), it also stops answers in that channel's
        threads: Slack's slash commands, for one, cannot be used inside a thread.
        """
        stopped = False
        for active_key, active in list(self._active.items()):
            if active_key == key or (key.thread is None and _parent(active_key) == key):
                active.stop_requested.set()
                active.task.cancel()
                stopped = True
        return stopped

    async def shutdown(self, grace: float) -> None:
        """Stop taking events; let turns in flight finish within `grace` seconds, then cancel."""
        self._accepting = False
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            log.warning("cancelled %d turns still running after %.0f s", len(late), grace)
            await asyncio.wait(late)

    async def _dispatch(self, incoming: Incoming, sink: ReplySink) -> None:
        parsed = commands.parse(incoming)
        if parsed is not None and not parsed[0].serialized:
            if await self._store.claim_event(incoming.event_id, incoming.key):
                await self._command(incoming, sink, *parsed)
            return
        async with self._store.turn_lock(incoming.key):
            if not await self._store.claim_event(incoming.event_id, incoming.key):
                log.debug("redelivered event dropped")
                return
            if parsed is not None:
                await self._command(incoming, sink, *parsed)
                return
            refusal = await self._limits.admit(incoming)
            if refusal is not None:
                self.metrics.count_limited(incoming.key.platform, refusal.limit)
                if refusal.first:  # later refusals in the window stay silent: no flood of posts
                    await sink.fail(refusal.message)
                return
            self.metrics.in_flight.inc()
            try:
                await self._turn(incoming, sink)
            finally:
                self.metrics.in_flight.dec()

    async def _command(
        self, incoming: Incoming, sink: ReplySink, spec: commands.CommandSpec, args: str
    ) -> None:
        access = self._policy.access.get(incoming.key.platform)
        is_admin = access.is_admin(incoming) if access else incoming.author.is_admin
        reply = await commands.run(
            spec,
            commands.CommandContext(
                incoming=incoming,
                args=args,
                store=self._store,
                default_model=self._policy.model,
                default_system_prompt=self._policy.system_prompt,
                models_allowed=self._policy.models_allowed,
                is_admin=is_admin,
                stop_turn=self.stop,
            ),
        )
        await (sink.finish(reply.text) if reply.ok else sink.fail(reply.text))

    async def _turn(self, incoming: Incoming, sink: ReplySink) -> None:
        if not incoming.text.strip() and not incoming.attachments:
            await sink.fail("Ask me something: the message was empty.")
            return
        key, platform, arrived = incoming.key, incoming.key.platform, time.monotonic()
        self.metrics.saw(str(key))
        model = self._policy.model
        current = self._counted(self._user_message(incoming), model)
        # History sized for the default model, the system prompt not yet known: build() trims.
        overrides, history = await self._store.load_turn(key, self._room(model, current))
        if overrides.model and overrides.model != model:  # another window and tokenizer
            model = overrides.model
            current = self._counted(current, model)
            history = await self._store.load(key, self._room(model, current))
        system = self._counted(
            ChatMessage(Role.SYSTEM, overrides.system_prompt or self._policy.system_prompt), model
        )
        prior = [self._counted(message, model) for message in incoming.prior]
        messages = context.build(
            system,
            [*history, *prior],
            current,
            self._window(model) - self._policy.max_tokens,
            lambda message: self._count(message, model),
        )
        options = GenerationOptions(model, self._policy.max_tokens, self._policy.temperature)
        result = await self._stream(key, messages, options, sink)
        self._measure(platform, arrived, result)
        if result.outcome is Outcome.FAILED or not result.text:
            return
        answer = ChatMessage(
            Role.ASSISTANT,
            result.text,
            author_id=incoming.author.id,
            tokens=result.usage.output_tokens if result.usage else 0,
        )
        answer = answer if answer.tokens else self._counted(answer, model)
        await self._store.append(key, [*prior, current, answer], output_tokens=answer.tokens)
        spent = result.usage.input_tokens if result.usage else sum(m.tokens for m in messages)
        await self._limits.spent(incoming, spent + answer.tokens)

    def _measure(self, platform: str, arrived: float, result: RelayResult) -> None:
        first = result.first_text_at
        self.metrics.answered(
            platform,
            str(result.outcome),
            time.monotonic() - arrived,
            first - arrived if first is not None else None,
            str(result.error.kind) if result.error is not None else None,
            result.usage,
        )

    async def _stream(
        self,
        key: ConversationKey,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        sink: ReplySink,
    ) -> RelayResult:
        current_task = asyncio.current_task()
        assert current_task is not None
        active = _ActiveTurn(current_task, asyncio.Event())
        self._active[key] = active
        try:
            return await relay(self._backend.stream(messages, options), sink, active.stop_requested)
        finally:
            if self._active.get(key) is active:
                del self._active[key]

    def _user_message(self, incoming: Incoming) -> ChatMessage:
        notes = [self._attachment_text(attachment) for attachment in incoming.attachments]
        content = "\n\n".join([incoming.text.strip(), *filter(None, notes)]).strip()
        images = tuple(a.image_url for a in incoming.attachments if a.image_url)
        return ChatMessage(
            Role.USER,
            content,
            name=incoming.author.name,
            author_id=incoming.author.id,
            images=images,
        )

    def _attachment_text(self, attachment: Attachment) -> str | None:
        if attachment.text is not None:
            text = attachment.text[: self._policy.max_attachment_chars]
            return f"[Attached file {attachment.name}]\n```\n{text}\n```"
        if attachment.image_url:
            return None
        return (
            f"[The user attached {attachment.name} ({attachment.content_type}); "
            "only text files and images can be read, so say that it was not read.]"
        )

    def _window(self, model: str) -> int:
        return self._policy.context_window or self._backend.context_window(model)

    def _room(self, model: str, current: ChatMessage) -> int:
        """Tokens the history may take beside the reply and the current message."""
        return max(0, self._window(model) - self._policy.max_tokens - current.tokens)

    def _count(self, message: ChatMessage, model: str) -> int:
        return self._backend.count_tokens([message], model)

    def _counted(self, message: ChatMessage, model: str) -> ChatMessage:
        return message.with_tokens(self._count(message, model))


def _parent(key: ConversationKey) -> ConversationKey:
    return ConversationKey(key.platform, key.space, key.channel)


async def _tell(sink: ReplySink, line: str) -> None:
    try:
        await sink.fail(line)
    except Exception:
        log.warning("could not tell the user about a failure", exc_info=True)
