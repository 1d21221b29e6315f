"""DialogueManager: the one place a turn happens."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot import commands, context
from bot.access import AccessPolicy
from bot.limits import LimitPolicy, Limits
from bot.llm.base import Backend, GenerationOptions
from bot.logs import bind_turn
from bot.metrics import Metrics
from bot.replies import (
    INTERRUPTED_MARK,
    Halt,
    Outcome,
    Rateable,
    RelayResult,
    ReplySink,
    Resumable,
    Shown,
    marked,
    relay,
)
from bot.store.base import Store, TurnEnd, TurnRecord
from bot.types import Attachment, ChatMessage, ConversationKey, Incoming, Role

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on my side; please try again."
DEFAULT_REPLY_TOKENS = 1024
"""The reply's reserve when none is configured, capped at a quarter of the model's window so a
small model (GPT-2 has 1,024 positions) keeps room for the conversation."""
RESTARTED = "I was restarted before I could answer; please ask again."
INTERRUPT_SECONDS = 10.0
"""How long turns cancelled at shutdown get to mark their answers as interrupted."""

Repair = Callable[[str, str], Awaitable[object]]
"""A door's way to show final text in a place a sink's receipt names: (receipt, text)."""


@dataclass(frozen=True, slots=True)
class DialoguePolicy:
    """The defaults a turn needs, resolved from Settings by the wiring."""

    model: str
    system_prompt: str
    max_tokens: int | None
    """The reply's reserve as configured; None: DEFAULT_REPLY_TOKENS, capped by the window."""
    temperature: float
    models_allowed: tuple[str, ...] = ()
    context_window: int | None = None
    max_attachment_chars: int = 200_000
    access: dict[str, AccessPolicy] = field(default_factory=dict)


@dataclass(slots=True)
class _ActiveTurn:
    task: asyncio.Task[object]
    halt: Halt


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
        self._repairs: dict[str, Repair] = {}
        self._accepting = True
        self._interrupting = False

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
                # Libraries stay at INFO (their DEBUG lines carry tokens): the text DEBUG promises.
                log.debug("message from %s: %s", incoming.author.id, incoming.text)
                await self._dispatch(incoming, sink)
        except asyncio.CancelledError:
            if self._interrupting:  # shut down before its answer began: say so
                await _tell(sink, RESTARTED)
            raise
        except Exception:
            log.exception("turn failed")
            self.metrics.count_turn(str(incoming.key.platform), "error")
            await _tell(sink, INTERNAL_ERROR)

    async def rate(self, answer_id: str, person: str, liked: bool, platform: str) -> bool:
        """Keep a person's rating of the answer a platform message id shows (one per person:
        a new click replaces the last); False when that message shows no recorded answer."""
        rated = await self._store.rate_answer(answer_id, person, liked)
        if rated:
            self.metrics.count_feedback(platform, liked)
        return rated

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
                active.halt.request(Outcome.STOPPED)
                active.task.cancel()
                stopped = True
        return stopped

    async def shutdown(self, grace: float) -> None:
        """Stop taking events; let turns in flight finish within `grace` seconds, then cancel
        them, each marking what it showed as interrupted (and keeping its question)."""
        self._accepting = False
        pending = set(self._tasks)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        if not late:
            return
        self._interrupting = True
        for active in self._active.values():
            active.halt.request(Outcome.INTERRUPTED)
        for task in late:
            task.cancel()
        log.warning("interrupted %d turns still running after %.0f s", len(late), grace)
        await asyncio.wait(late, timeout=INTERRUPT_SECONDS)

    async def recover(self, platform: str, repair: Repair) -> int:
        """Finish every turn of this platform that a dead process left under way: its answer
        marked as interrupted where it is shown, its question kept. Doors call this once they
        can reach their platform, before taking events; returns how many were finished."""
        self._repairs[platform] = repair
        orphans = await self._store.orphaned_turns(platform)
        for record in orphans:
            await self._finish_orphan(record, keep_question=True)
        if orphans:
            log.warning("finished %d answers interrupted by a restart", len(orphans))
        return len(orphans)

    async def _finish_orphan(self, record: TurnRecord, *, keep_question: bool) -> None:
        repair = self._repairs.get(record.key.platform)
        if repair is not None and record.receipt is not None:
            try:
                await repair(record.receipt, marked(record.shown, INTERRUPTED_MARK))
            except Exception:
                log.warning("could not mark an interrupted answer", exc_info=True)
        if not keep_question:  # the turn that re-claimed its event stores the question itself
            return
        messages = list(record.question)
        if record.shown:
            asker = messages[-1].author_id if messages else None
            partial = ChatMessage(Role.ASSISTANT, record.shown, author_id=asker)
            messages.append(self._counted(partial, self._policy.model))
        await self._store.append(
            record.key, messages, ends=TurnEnd(record.event_id, interrupted=True)
        )

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
            self.window(model) - self.reply_tokens(model),
            lambda message: self._count(message, model),
        )
        options = GenerationOptions(model, self.reply_tokens(model), self._policy.temperature)
        event_id = incoming.event_id
        earlier = await self._store.begin_turn(TurnRecord(event_id, key, (*prior, current)))
        if earlier is not None:  # a redelivery of a turn a dead process left half-shown
            await self._finish_orphan(earlier, keep_question=False)
        recorder = self._recorder(event_id, sink)
        try:
            result = await self._stream(key, messages, options, sink, recorder)
        except Exception:
            await self._store.end_turn(event_id)
            raise
        self._measure(platform, arrived, result)
        if not result.delivered:
            # Not shown, so not an answer: keep the question, let a redelivery be answered.
            await self._store.append(key, [*prior, current], ends=TurnEnd(event_id, True))
            return
        if result.outcome is Outcome.FAILED or not result.text:
            ends = TurnEnd(event_id, interrupted=result.outcome is Outcome.INTERRUPTED)
            stored = [*prior, current] if ends.interrupted else []
            await self._store.append(key, stored, ends=ends)
            return
        answer = ChatMessage(
            Role.ASSISTANT,
            result.text,
            author_id=incoming.author.id,
            tokens=result.usage.output_tokens if result.usage else 0,
        )
        answer = answer if answer.tokens else self._counted(answer, model)
        await self._store.append(
            key,
            [*prior, current, answer],
            output_tokens=answer.tokens,
            ends=TurnEnd(event_id, interrupted=result.outcome is Outcome.INTERRUPTED),
        )
        spent = result.usage.input_tokens if result.usage else sum(m.tokens for m in messages)
        await self._limits.spent(incoming, spent + answer.tokens)
        if result.outcome is Outcome.COMPLETE and isinstance(sink, Rateable):
            answer_ids = await sink.offer_rating()
            await self._store.record_answer(key, answer_ids, answer.created_at)

    def _recorder(self, event_id: str, sink: ReplySink) -> Shown | None:
        """Records how far the answer got, where the sink can say where it is shown."""
        if not isinstance(sink, Resumable):
            return None

        async def shown(text: str) -> None:
            await self._store.show_progress(event_id, sink.receipt(), text)

        return shown

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
        on_shown: Shown | None,
    ) -> RelayResult:
        current_task = asyncio.current_task()
        assert current_task is not None
        active = _ActiveTurn(current_task, Halt())
        self._active[key] = active
        try:
            stream = self._backend.stream(messages, options)
            return await relay(stream, sink, active.halt, on_shown)
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

    def window(self, model: str) -> int:
        """The model's context window in tokens (or PARLEY_CONTEXT_WINDOW)."""
        return self._policy.context_window or self._backend.context_window(model)

    def _room(self, model: str, current: ChatMessage) -> int:
        """Tokens the history may take beside the reply and the current message."""
        return max(0, self.window(model) - self.reply_tokens(model) - current.tokens)

    def reply_tokens(self, model: str) -> int:
        """Tokens kept for the reply: as configured, else the default within a quarter of the
        window."""
        if self._policy.max_tokens is not None:
            return self._policy.max_tokens
        return min(DEFAULT_REPLY_TOKENS, self.window(model) // 4)

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
