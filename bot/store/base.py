"""The Store: every concern's protocol in one (tests/store runs the contract on each store).

Each concern's protocol and records live in bot/store/contract/; they are named here too, so
`from bot.store.base import ...` reaches the whole contract.
"""

from __future__ import annotations

from typing import Protocol

from bot.store.contract.conversations import UNSET, Conversations, ExportFilter
from bot.store.contract.lifecycle import Housekeeping, Lifecycle
from bot.store.contract.people import Feedback, Rating, Viewing
from bot.store.contract.place import PlaceMemoryInfo, PlaceMemoryStore
from bot.store.contract.tools import (
    ApprovalRecord,
    ApprovalRequests,
    AuditQuery,
    ToolAudit,
    ToolCallRecord,
)
from bot.store.contract.turns import (
    ClaimedTurn,
    Events,
    Locks,
    TurnEnd,
    TurnRecord,
    TurnsInFlight,
)
from bot.store.contract.usage import (
    Counter,
    CounterCheck,
    SpentQuery,
    TurnUsage,
    UsageLedger,
    UsageQuery,
    UsageRow,
)

__all__ = [
    "UNSET",
    "ApprovalRecord",
    "ApprovalRequests",
    "AuditQuery",
    "ClaimedTurn",
    "Conversations",
    "Counter",
    "CounterCheck",
    "Events",
    "ExportFilter",
    "Feedback",
    "Housekeeping",
    "Lifecycle",
    "Locks",
    "PlaceMemoryInfo",
    "PlaceMemoryStore",
    "Rating",
    "SpentQuery",
    "Store",
    "ToolAudit",
    "ToolCallRecord",
    "TurnEnd",
    "TurnRecord",
    "TurnUsage",
    "TurnsInFlight",
    "UsageLedger",
    "UsageQuery",
    "UsageRow",
    "Viewing",
]


class Store(
    Lifecycle,
    Locks,
    Events,
    Conversations,
    TurnsInFlight,
    UsageLedger,
    Viewing,
    Feedback,
    ApprovalRequests,
    ToolAudit,
    PlaceMemoryStore,
    Housekeeping,
    Protocol,
):
    """Everything a store does; SqliteStore and PostgresStore each implement it whole."""
