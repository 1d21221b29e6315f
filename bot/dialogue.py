"""DialogueManager: the one place a turn happens."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache, partial
from typing import cast

from bot import catchup, commands, context
from bot.access import AccessPolicy
from bot.first_visit import Visits
from bot.history import History
from bot.limits import LimitPolicy, Limits
from bot.llm.base import Backend, BackendError, GenerationOptions
from bot.logs import bind_turn
from bot.metrics import Metrics
from bot.moderation import REFUSED, UNCHECKED, ModerationUnavailable, Moderator, checked_answer
from bot.place_memory import PlaceMemory
from bot.prices import PriceTable
from bot.replies import (
    INTERRUPTED_MARK,
    Claimed,
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
from bot.store.base import Store, TurnEnd, TurnRecord, TurnUsage
from bot.store.locks import KeyedLock
from bot.tools.approvals import GONE
from bot.tools.loop import Toolbox, TurnTools
from bot.types import (
    Attachment,
    Author,
    ChatMessage,
    ConversationKey,
    ConversationSettings,
    Delta,
    HistoryMessage,
    Incoming,
    Kind,
    Role,
    Usage,
)

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on my side; please try again."
DEFAULT_REPLY_TOKENS = 1024
"""The reply's reserve when none is configured, capped at a quarter of the model's window so a
small model (GPT-2 has 1,024 positions) keeps room for the conversation."""
BUSY = "I'm very busy right now; please try again in a moment."
RESTARTED = "I was restarted before I could answer; please ask again."
INTERRUPT_SECONDS = 10.0
"""How long turns cancelled at shutdown get to mark their answers as interrupted."""


class Rated(StrEnum):
    """What became of a rating click; the value is the line to show the clicker privately."""

    KEPT = "Thanks for the feedback."
    NOT_AN_ANSWER = "That message is not an answer I can rate."
    NOT_ALLOWED = "You can't use Parley here, so the rating was not kept."


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
    max_queued_turns: int = 2000
    access: dict[str, AccessPolicy] = field(default_factory=dict)
    moderation: str = "off"
    """off, input, output or both: what the moderator checks."""
    budget_fallback_model: str | None = None
    """The cheaper model that answers turns near a money budget."""
    summary: catchup.SummaryPolicy = field(default_factory=catchup.SummaryPolicy)
    place_memory_days: int = 90


@dataclass(slots=True)
class _ActiveTurn:
    task: asyncio.Task[object]
    halt: Halt
    author_id: str


class DialogueManager:
    """Takes translated events, keeps each person's turns in a conversation in order (other
    people's run alongside), streams the answers."""

    def __init__(
        self,
        policy: DialoguePolicy,
        store: Store,
        backend: Backend,
        *,
        limits: LimitPolicy | None = None,
        metrics: Metrics | None = None,
        prices: PriceTable | None = None,
        moderator: Moderator | None = None,
        tools: Toolbox | None = None,
    ) -> None:
        self._policy = policy
        self._prices = prices or PriceTable({}, maintained=False)
        self._moderator = moderator
        self._tools = tools
        self._store = store
        self._backend = backend
        self._limits = Limits(limits or LimitPolicy(), store)
        self.memory = PlaceMemory(store, policy.place_memory_days)
        self.metrics = metrics or Metrics()
        self._tasks: set[asyncio.Task[None]] = set()
        self._visits = Visits(store.knows)
        self._arrivals = KeyedLock()
        """Each person's turns in a place, in arrival order, before the store's own lock."""
        self._active: dict[ConversationKey, list[_ActiveTurn]] = {}
        """The answers being written in each conversation: one per person at most."""
        self._repairs: dict[str, Repair] = {}
        self._sink_kinds: dict[tuple[type, type], bool] = {}
        """Which sink classes are which protocols: a protocol check takes about 11 µs on 3.11."""
        self._accepting = True
        self._interrupting = False
        self._system = lru_cache(maxsize=64)(self._system_message)
        """The counted system message by (prompt, model): the same few prompts every turn, and
        a local model's count renders its chat template."""

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def submit(self, incoming: Incoming, sink: ReplySink) -> asyncio.Task[None]:
        """Handle an event in the background; call in arrival order to keep turns in order.

        Past `max_queued_turns` events in hand, the asker is told to try again shortly instead:
        memory stays bounded under a flood, and the event stays unclaimed.
        """
        if len(self._tasks) >= self._policy.max_queued_turns:
            self.metrics.count_turn(incoming.key.platform, "busy")
            task = asyncio.create_task(_tell(sink, BUSY))
        else:
            first = self._visits.arrive(incoming.key)  # now: in the order events arrive
            task = asyncio.create_task(self._handle(incoming, sink, first))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def handle(self, incoming: Incoming, sink: ReplySink) -> None:
        """Handle one event; never raises for the event's own failures (the user is told)."""
        await self._handle(incoming, sink, self._visits.arrive(incoming.key))

    async def _handle(self, incoming: Incoming, sink: ReplySink, arrived_first: bool) -> None:
        try:
            if self._accepting and not incoming.author.is_bot:
                await self._judge(incoming, sink, arrived_first)
        finally:
            self._visits.leave(incoming.key)

    async def _judge(self, incoming: Incoming, sink: ReplySink, arrived_first: bool) -> None:
        try:
            with bind_turn(str(incoming.key), str(incoming.event_id)):
                if not self.admits(incoming):
                    log.debug("event outside the allowlists dropped")
                    return
                # Libraries stay at INFO (their DEBUG lines carry tokens): the text DEBUG promises.
                log.debug("message from %s: %s", incoming.author.id, incoming.text)
                await self._dispatch(incoming, sink, arrived_first)
        except asyncio.CancelledError:
            if self._interrupting:  # shut down before its answer began: say so
                await _tell(sink, RESTARTED)
            raise
        except Exception:
            log.exception("turn failed")
            self.metrics.count_turn(str(incoming.key.platform), "error")
            await _tell(sink, INTERNAL_ERROR)

    def admits(self, event: Incoming) -> bool:
        """Whether the door's allowlists let this person act here (a message or a click)."""
        access = self._policy.access.get(event.key.platform)
        return access is None or access.allows(event)

    async def overhear(self, key: ConversationKey, author: Author, message: HistoryMessage) -> None:
        """A person's message in a channel as it arrives, or its edit, addressed to Parley or
        not: kept when an admin turned the channel's memory on and the allowlists admit its
        author there. Never raises: a failure to keep is logged."""
        if author.is_bot or not self._accepting:
            return
        if not self.admits(Incoming(key, author, message.text, message.id, Kind.MENTION)):
            return
        try:
            await self.memory.keep(key, author.id, message)
        except Exception:
            log.warning("could not keep a message in the channel's memory", exc_info=True)

    async def retract(self, key: ConversationKey, message_id: str) -> None:
        """A message deleted on the platform: its kept copy goes too."""
        try:
            await self.memory.drop(key, message_id)
        except Exception:
            log.warning("could not delete a kept message", exc_info=True)

    async def rate(self, answer_id: str, click: Incoming, liked: bool) -> Rated:
        """Keep a person's rating of the answer a platform message id shows (one per person:
        a new click replaces the last), when the allowlists let them use Parley there."""
        if click.author.is_bot or not self.admits(click):
            return Rated.NOT_ALLOWED
        if not await self._store.rate_answer(answer_id, click.author.id, liked):
            return Rated.NOT_AN_ANSWER
        self.metrics.count_feedback(click.key.platform, liked)
        return Rated.KEPT

    async def decide(self, approval_id: str, person: str, approved: bool) -> str:
        """A click on a tool call's Approve or Deny control (on any replica): only the asker's
        counts; returns the short line to show the person who clicked."""
        if self._tools is None:
            return GONE
        return await self._tools.approvals.decide(approval_id, person, approved)

    async def knows(self, key: ConversationKey) -> bool:
        """Whether Parley was addressed here before (an answer may still be under way)."""
        return await self._visits.knows(key)

    def stop(self, key: ConversationKey, author_id: str | None = None) -> bool:
        """Stop the answers being written in this conversation (only `author_id`'s when given);
        False when there is none.

        Asked in a channel (a key without a thread), it also stops answers in that channel's
        threads: some platforms' slash commands cannot be used inside a thread.
        """
        stopped = False
        for active_key, turns in list(self._active.items()):
            if active_key == key or (key.thread is None and active_key.parent == key):
                for active in turns:
                    if author_id is None or active.author_id == author_id:
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
        for turns in self._active.values():
            for active in turns:
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

    async def _dispatch(self, incoming: Incoming, sink: ReplySink, arrived_first: bool) -> None:
        parsed = commands.parse(incoming)
        if parsed is not None and not parsed[0].serialized:
            if await self._claim(incoming, sink):
                await self._command(incoming, sink, *parsed)
            return
        author = incoming.author.id
        # Per person: someone else's answer in a shared place never holds this turn up. The
        # arrival lock is taken before anything is awaited (asyncio.Lock queues in call order),
        # so a first turn asking the store whether Parley was here keeps its place.
        async with self._arrivals.lock((incoming.key, author)):
            if parsed is not None:
                async with self._store.turn_lock(incoming.key, author):
                    if await self._claim(incoming, sink):
                        await self._command(incoming, sink, *parsed)
                return
            first = incoming.missed is not None and await self._visits.first(
                incoming.key, arrived_first
            )
            await self._claimed_turn(incoming, sink, first)

    async def _claimed_turn(self, incoming: Incoming, sink: ReplySink, first: bool) -> None:
        """An ordinary turn: the claim reads its settings, window and rate limits' counters too
        (one round trip on PostgreSQL), then limits, the first visit's reading, and the answer."""
        reach = self._reach(self._policy.model)
        limits = self._limits.counted(incoming)
        claim = self._store.claimed_turn(
            incoming.key,
            incoming.author.id,
            incoming.event_id,
            reach,
            limits.check if limits is not None else None,
        )
        async with claim as read:
            if read is None:
                log.debug("redelivered event dropped")
                return
            await self._claimed(incoming, sink)
            refusal, frugal = await self._limits.judge(incoming, limits, read.counters)
            if refusal is not None:
                self.metrics.count_limited(incoming.key.platform, refusal.limit)
                if refusal.first:  # later refusals in the window stay silent: no flood of posts
                    await sink.fail(refusal.message)
                return
            self.metrics.turn_began()
            try:
                if incoming.missed is not None or incoming.files is not None:
                    incoming = await arrived(incoming, first)  # a coroutine only when needed
                await self._turn(incoming, sink, read.settings, read.history, frugal=frugal)
            finally:
                self.metrics.turn_ended()

    async def _claim(self, incoming: Incoming, sink: ReplySink) -> bool:
        """Claim the event (the first claimant wins, across replicas); the winner's sink then
        does its once-only side effect."""
        if not await self._store.claim_event(incoming.event_id, incoming.key):
            log.debug("redelivered event dropped")
            return False
        await self._claimed(incoming, sink)
        return True

    async def _claimed(self, incoming: Incoming, sink: ReplySink) -> None:
        self._visits.remember(incoming.key)
        if self._sink_is(sink, Claimed):
            await sink.claimed()

    async def _command(
        self, incoming: Incoming, sink: ReplySink, spec: commands.CommandSpec, args: str
    ) -> None:
        if spec.asks_model:
            await self._catch_up(incoming, sink, spec.name, args)
            return
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
                memory=self.memory,
            ),
        )
        await (sink.finish(reply.text) if reply.ok else sink.fail(reply.text))

    async def _turn(
        self,
        incoming: Incoming,
        sink: ReplySink,
        overrides: ConversationSettings,
        history: History,
        *,
        frugal: bool = False,
    ) -> None:
        """Answer a claimed turn, given its settings and its window for the default model."""
        if not incoming.text.strip() and not incoming.attachments:
            await sink.fail("Ask me something: the message was empty.")
            return
        key, platform, arrived = incoming.key, incoming.key.platform, time.monotonic()
        self.metrics.saw(str(key))
        model = self._policy.model
        current = self._counted(self._user_message(incoming), model)
        if self._moderates("input") and await self._refused_input(incoming, current, sink):
            return
        # History sized for the default model, the system prompt not yet known: build() trims.
        # Near a money budget the cheaper model answers, whatever this conversation chose.
        chosen = (frugal and self._policy.budget_fallback_model) or overrides.model
        if chosen and chosen != model:  # another window and tokenizer
            model = chosen
            current = self._counted(current, model)
            _, history = await self._store.load_turn(key, self._reach(model))
        system = self._system(overrides.system_prompt or self._policy.system_prompt, model)
        prior = [self._counted(message, model) for message in incoming.prior]
        count = partial(self._count, model=model)
        reply = self.reply_tokens(model)
        room = self.window(model) - reply
        history_room = max(0, room - current.tokens)  # beside the reply and the question
        # Memory of the place: matching kept messages in a note before the question (its budget).
        recall = await self.memory.recall(
            key, incoming.text, incoming.event_id, count, history_room
        )
        messages = context.build(
            system,
            history.within(history_room).followed_by(prior),
            current,
            room - recall.tokens,
            count,
        )
        messages = recall.added(messages)
        options = GenerationOptions(model, reply, self._policy.temperature)
        tools = self._tools.for_turn(incoming, sink) if self._tools is not None else None
        options = tools.options(options, self._backend) if tools is not None else options
        event_id = incoming.event_id
        earlier = await self._store.begin_turn(TurnRecord(event_id, key, (*prior, current)))
        if earlier is not None:  # a redelivery of a turn a dead process left half-shown
            await self._finish_orphan(earlier, keep_question=False)
        recorder = self._recorder(event_id, sink)
        rateable = self._sink_is(sink, Rateable)
        answered = _Answered(self._store, key, cast(Rateable, sink)) if rateable else None
        try:
            result = await self._stream(
                incoming,
                messages,
                options,
                sink,
                recorder,
                tools=tools,
                shape=recall.shape(),
                finish_rated=answered.finish if answered is not None else None,
            )
        except Exception:
            await self._store.end_turn(event_id)
            raise
        self._measure(platform, model, arrived, result)
        if not result.delivered:
            # Not shown, so not an answer: keep the question, let a redelivery be answered.
            await self._store.append(key, [*prior, current], ends=TurnEnd(event_id, True))
            return
        if result.outcome is Outcome.FAILED or not result.text:
            ends = TurnEnd(event_id, interrupted=result.outcome is Outcome.INTERRUPTED)
            stored = [*prior, current] if ends.interrupted else []
            await self._store.append(key, stored, ends=ends)
            return
        steps = tools.steps if tools is not None else []
        answer = ChatMessage(
            Role.ASSISTANT,
            result.text[tools.spoken :] if tools is not None else result.text,
            author_id=incoming.author.id,
            tokens=result.usage.output_tokens if result.usage else 0,
            # A rated answer is kept as of its ratings' record: a rating finds it by that time.
            created_at=answered.at if answered is not None and answered.at else time.time(),
        )
        answer = answer if answer.tokens else self._counted(answer, model)
        reported = result.usage
        used = Usage(
            reported.input_tokens if reported else sum(m.tokens for m in messages),
            answer.tokens,
            reported.cached_input_tokens if reported else 0,
        )
        record = self._priced(incoming, model, used)
        await self._store.append(
            key,
            [*prior, current, *steps, answer],
            output_tokens=answer.tokens,
            ends=TurnEnd(event_id, interrupted=result.outcome is Outcome.INTERRUPTED),
            usage=record,
        )
        self.metrics.priced(record)
        await self._limits.spent(incoming, used.input_tokens + answer.tokens)
        if answered is not None and result.outcome is Outcome.COMPLETE:
            await answered.offer_later(answer.created_at)

    async def _catch_up(self, incoming: Incoming, sink: ReplySink, name: str, args: str) -> None:
        """A summary or translation: limited, streamed and counted like a turn; the history it
        reads and its answer are stored nowhere."""
        refusal, _ = await self._limits.admit_turn(incoming)
        if refusal is not None:
            self.metrics.count_limited(incoming.key.platform, refusal.limit)
            await sink.fail(refusal.message)
            return
        model, arrived = self._policy.model, time.monotonic()
        options = GenerationOptions(model, self.reply_tokens(model), self._policy.temperature)
        calls = catchup.ModelCalls(self._backend, options)
        room = self.window(model) - self.reply_tokens(model)
        try:
            job = await catchup.prepare(name, incoming, args, self._policy.summary, calls, room)
            asked = job.asked if self._moderates("input") else None
            if asked is not None and await self._refused_input(incoming, asked, sink):
                return
            result = await self._stream(
                incoming, job.messages, options, sink, None, shape=job.shape
            )
            self._measure(incoming.key.platform, model, arrived, result)
            calls.add(result.usage, job.messages, result.text)
        except catchup.CatchUpRefused as refused:
            await sink.fail(str(refused))
        except BackendError as error:  # a part's summary failed: nothing was shown yet
            await sink.fail(error.user_message)
        finally:  # the part summaries cost tokens even when the job goes no further
            await self._record(incoming, model, calls)

    async def _record(self, incoming: Incoming, model: str, calls: catchup.ModelCalls) -> None:
        if not calls.calls:
            return
        record = self._priced(incoming, model, calls.usage)
        await self._store.append(incoming.key, [], usage=record)
        self.metrics.priced(record)
        await self._limits.spent(incoming, calls.input_tokens + calls.output_tokens)

    def _priced(self, incoming: Incoming, model: str, used: Usage) -> TurnUsage:
        """The turn's usage record: tokens as the backend reported them, priced."""
        key = incoming.key
        return TurnUsage(
            model=model,
            platform=key.platform,
            space=incoming.space or key.space,
            channel=key.channel,
            user=incoming.author.id,
            input_tokens=used.input_tokens,
            output_tokens=used.output_tokens,
            cached_tokens=used.cached_input_tokens,
            cost_micros=self._prices.cost(model, used),
        )

    def _moderates(self, direction: str) -> bool:
        return self._moderator is not None and self._policy.moderation in (direction, "both")

    async def _refused_input(
        self, incoming: Incoming, question: ChatMessage, sink: ReplySink
    ) -> bool:
        """Whether moderation refused the question (the user is told why, briefly)."""
        assert self._moderator is not None
        try:
            reason = await self._moderator.flagged(question.content)
        except ModerationUnavailable:
            await sink.fail(UNCHECKED)
            return True
        if reason is None:
            return False
        await self._count_moderated(incoming, "input")
        await sink.fail(REFUSED.format(reason=reason))
        return True

    async def _count_moderated(self, incoming: Incoming, direction: str) -> None:
        """Count a moderation verdict for its place, in metrics and in the store (no content)."""
        key = incoming.key
        self.metrics.moderated.labels(key.platform, direction).inc()
        day = int(time.time() // 86_400)
        await self._store.count_moderated(key.platform, incoming.space or key.space, direction, day)

    def _sink_is(self, sink: ReplySink, protocol: type) -> bool:
        """isinstance(sink, protocol) for a protocol of methods, which a sink's class decides."""
        kind = (type(sink), protocol)
        if kind not in self._sink_kinds:
            self._sink_kinds[kind] = isinstance(sink, protocol)
        return self._sink_kinds[kind]

    def _recorder(self, event_id: str, sink: ReplySink) -> Shown | None:
        """Records how far the answer got, where the sink can say where it is shown."""
        if not self._sink_is(sink, Resumable):
            return None

        async def shown(text: str) -> None:
            await self._store.show_progress(event_id, sink.receipt(), text)

        return shown

    def _measure(self, platform: str, model: str, arrived: float, result: RelayResult) -> None:
        first = result.first_text_at
        self.metrics.answered(
            platform,
            str(result.outcome),
            time.monotonic() - arrived,
            first - arrived if first is not None else None,
            str(result.error.kind) if result.error is not None else None,
            result.usage,
            model,
        )

    async def _stream(
        self,
        incoming: Incoming,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        sink: ReplySink,
        on_shown: Shown | None,
        *,
        shape: Callable[[AsyncGenerator[Delta, None]], AsyncGenerator[Delta, None]] | None = None,
        tools: TurnTools | None = None,
        finish_rated: Callable[[str], Awaitable[object]] | None = None,
    ) -> RelayResult:
        current_task = asyncio.current_task()
        assert current_task is not None
        active = _ActiveTurn(current_task, Halt(), incoming.author.id)
        turns = self._active.setdefault(incoming.key, [])
        turns.append(active)
        try:
            if tools is not None:
                count = partial(self._count, model=options.model)
                stream = tools.stream(self._backend, messages, options, count)
            else:
                stream = self._backend.stream(messages, options)
            if shape is not None:
                stream = shape(stream)
            if self._moderates("output"):
                assert self._moderator is not None
                flagged = partial(self._count_moderated, incoming, "output")
                stream = checked_answer(stream, self._moderator, flagged)
            return await relay(stream, sink, active.halt, on_shown, finish_rated)
        finally:
            turns.remove(active)
            if not turns:
                del self._active[incoming.key]

    def _user_message(self, incoming: Incoming) -> ChatMessage:
        if not incoming.attachments:  # the usual turn: its text alone
            author = incoming.author
            return ChatMessage(
                Role.USER, incoming.text.strip(), name=author.name, author_id=author.id
            )
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
            "only text files and images within their limits are read, so say that it was not read.]"
        )

    def window(self, model: str) -> int:
        """The model's context window in tokens (or PARLEY_CONTEXT_WINDOW)."""
        return self._policy.context_window or self._backend.context_window(model)

    def _reach(self, model: str) -> int:
        """Tokens the history may take beside the reply: what a turn reads (the same every turn,
        so the window the store holds in memory serves each)."""
        return max(0, self.window(model) - self.reply_tokens(model))

    def reply_tokens(self, model: str) -> int:
        """Tokens kept for the reply: as configured, else the default within a quarter of the
        window."""
        if self._policy.max_tokens is not None:
            return self._policy.max_tokens
        return min(DEFAULT_REPLY_TOKENS, self.window(model) // 4)

    def _system_message(self, prompt: str, model: str) -> ChatMessage:
        return self._counted(ChatMessage(Role.SYSTEM, prompt), model)

    def _count(self, message: ChatMessage, model: str) -> int:
        return self._backend.count_tokens([message], model)

    def _counted(self, message: ChatMessage, model: str) -> ChatMessage:
        return message.with_tokens(self._count(message, model))


class _Answered:
    """A rateable answer's controls and message ids: kept (with the time) as its sink shows
    the controls with the final text, or offered once the answer is stored."""

    def __init__(self, store: Store, key: ConversationKey, sink: Rateable) -> None:
        self._store = store
        self._key = key
        self._sink = sink
        self._rated = False
        self.at: float | None = None
        """When the ids were kept: the answer is stored as of then."""

    async def finish(self, text: str) -> None:
        """The answer's final text, with the controls where the sink can."""
        self._rated = await self._sink.finish_rated(text, self._record)

    async def offer_later(self, created_at: float) -> None:
        """The controls that could not go on with the final text, now that it is stored."""
        if not self._rated:
            answer_ids = await self._sink.offer_rating()
            await self._store.record_answer(self._key, answer_ids, created_at)

    async def _record(self, answer_ids: tuple[str, ...]) -> None:
        self.at = time.time()
        try:
            await self._store.record_answer(self._key, answer_ids, self.at)
        except Exception:  # the answer matters more than its ratings: it is shown regardless
            log.warning("could not keep the answer's ids for its ratings", exc_info=True)


async def arrived(incoming: Incoming, first: bool) -> Incoming:
    """The event with what the door reads only for a claimed turn: what Parley missed before it
    (`first`: Parley's first turn here) and its files."""
    if incoming.missed is not None:
        incoming = replace(incoming, prior=await incoming.missed(first), missed=None)
    if incoming.files is not None:
        incoming = replace(incoming, attachments=await incoming.files(), files=None)
    return incoming


async def _tell(sink: ReplySink, line: str) -> None:
    try:
        await sink.fail(line)
    except Exception:
        log.warning("could not tell the user about a failure", exc_info=True)
