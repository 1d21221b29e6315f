"""The admin page at /admin on the ops server: usage and cost from the store, never content.

Off unless PARLEY_ADMIN_TOKEN is set (then /admin is a 404 like any unknown path). The token comes
as `Authorization: Bearer ...` or through the page's form, which sets an HttpOnly cookie holding
a keyed hash of the token, not the token itself. Charts are SVG drawn here: no script, no CDN.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from html import escape

from aiohttp import web

from bot.config import ConfigError
from bot.metrics import Metrics
from bot.prices import dollars
from bot.store.base import UsageLedger, UsageQuery, UsageRow
from bot.usage import since

COOKIE = "parley_admin"
PATH = "/admin"
LOGIN_PATH = "/admin/login"
DAY = 86_400
TOP_USERS = 10
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2430; background: #f7f8fa; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; background: white; }
th, td { padding: .3rem .8rem; border-bottom: 1px solid #dde1e7; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.figures { display: flex; gap: 1rem; }
.figure { background: white; padding: .8rem 1.2rem; border: 1px solid #dde1e7; }
.figure b { display: block; font-size: 1.3rem; }
svg { background: white; border: 1px solid #dde1e7; }
"""


class AdminPage:
    """Serves /admin and /admin/login for whoever holds the token."""

    def __init__(
        self, token: str, store: UsageLedger, metrics: Metrics, in_flight: Callable[[], int]
    ) -> None:
        self._token = token
        self._session = hmac.new(
            token.encode(), b"parley-admin-session", hashlib.sha256
        ).hexdigest()
        self._store = store
        self._metrics = metrics
        self._in_flight = in_flight

    def mount(self, mount: Callable[..., None]) -> None:
        mount("GET", PATH, self._page)
        mount("POST", LOGIN_PATH, self._login)

    def _allowed(self, request: web.Request) -> bool:
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and hmac.compare_digest(
            bearer.removeprefix("Bearer ").encode(), self._token.encode()
        ):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session.encode())

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        given = str(form.get("token", ""))
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            return _html(_login_form("That token is not the admin token."), status=401)
        response = web.HTTPSeeOther(PATH)
        response.set_cookie(
            COOKIE, self._session, httponly=True, samesite="Strict", path=PATH, max_age=8 * 3600
        )
        raise response

    async def _page(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return _html(_login_form(None), status=401)
        span = request.query.get("since", "7d")
        try:
            start = since(span, time.time())
        except ConfigError:
            span, start = "7d", since("7d", time.time())
        return _html(await self._render(span, start))

    async def _render(self, span: str, start: float) -> str:
        report = {
            by: await self._store.usage_report(UsageQuery(start, by))
            for by in ("space", "channel", "model", "user", "day")
        }
        total = sum(row.cost_micros for row in report["space"])
        turns = sum(row.turns for row in report["space"])
        days = sorted(report["day"], key=lambda row: int(row.label))
        parts = [
            f"<h1>Parley usage since {escape(span)}</h1>",
            '<div class="figures">',
            _figure("cost", dollars(total), "total-cost"),
            _figure("turns", f"{turns:,}", "total-turns"),
            _figure("turns in flight", str(self._in_flight()), "in-flight"),
            _figure("refused by a limit", _counter_total(self._metrics.rate_limited), "refusals"),
            _figure("model errors", _counter_total(self._metrics.backend_errors), "errors"),
            _figure("moderated", _counter_total(self._metrics.moderated), "moderated"),
            "</div>",
            "<h2>Cost per day (UTC)</h2>",
            _bar_chart(
                "cost-per-day",
                [(time.strftime("%m-%d", time.gmtime(int(row.label) * DAY)), row) for row in days],
            ),
            "<h2>Cost per model</h2>",
            _bar_chart("cost-per-model", [(row.label, row) for row in report["model"]]),
            _table("By space", "space", report["space"]),
            _table("By channel", "channel", report["channel"]),
            _table("By model", "model", report["model"]),
            _table(f"Top {TOP_USERS} users by cost", "user", report["user"][:TOP_USERS]),
            _moderation_table(await self._store.moderation_counts(int(start // DAY))),
            "<p>Counts of refusals and errors are this process's since it started. Filter with "
            "<code>?since=24h</code>, <code>30d</code> or a date.</p>",
        ]
        return _document("Parley admin", "\n".join(parts))


def _counter_total(counter: object) -> str:
    """A labelled counter's sum over its labels, as counted by this process."""
    samples = [
        sample.value
        for family in counter.collect()  # type: ignore[attr-defined]
        for sample in family.samples
        if sample.name.endswith("_total")
    ]
    return f"{sum(samples):,.0f}"


def _figure(name: str, value: str, ident: str) -> str:
    return f'<div class="figure" id="{ident}">{escape(name)}<b>{escape(value)}</b></div>'


def _table(title: str, by: str, rows: Sequence[UsageRow]) -> str:
    head = "".join(
        f"<th>{name}</th>" for name in (by, "turns", "tokens in", "cached in", "tokens out", "cost")
    )
    body = "".join(
        f"<tr><td>{escape(row.label)}</td><td>{row.turns:,}</td><td>{row.input_tokens:,}</td>"
        f"<td>{row.cached_tokens:,}</td><td>{row.output_tokens:,}</td>"
        f"<td>{dollars(row.cost_micros)}</td></tr>"
        for row in rows
    )
    return f'<h2>{escape(title)}</h2><table id="by-{by}"><tr>{head}</tr>{body}</table>'


def _moderation_table(counts: dict[tuple[str, str], int]) -> str:
    """Questions refused and answers withheld per space: counts, never what was flagged."""
    places = sorted({place for place, _ in counts})
    body = "".join(
        f"<tr><td>{escape(place)}</td><td>{counts.get((place, 'input'), 0):,}</td>"
        f"<td>{counts.get((place, 'output'), 0):,}</td></tr>"
        for place in places
    )
    head = "<tr><th>space</th><th>questions refused</th><th>answers withheld</th></tr>"
    return f'<h2>Moderation</h2><table id="moderation">{head}{body}</table>'


def _bar_chart(ident: str, bars: Sequence[tuple[str, UsageRow]]) -> str:
    """Bars of cost, labelled below and valued above, as inline SVG."""
    width, height, top, bottom = max(320, 70 * len(bars) + 40), 220, 30, 40
    highest = max((row.cost_micros for _, row in bars), default=0) or 1
    shapes = []
    for index, (label, row) in enumerate(bars):
        bar = (height - top - bottom) * row.cost_micros / highest
        x, y = 30 + index * 70, height - bottom - bar
        shapes.append(
            f'<rect x="{x}" y="{y:.1f}" width="50" height="{bar:.1f}" fill="#3b6fd8">'
            f"<title>{escape(label)}: {dollars(row.cost_micros)}</title></rect>"
            f'<text x="{x + 25}" y="{y - 6:.1f}" font-size="11" text-anchor="middle">'
            f"{dollars(row.cost_micros)}</text>"
            f'<text x="{x + 25}" y="{height - bottom + 16}" font-size="11" text-anchor="middle">'
            f"{escape(label[:12])}</text>"
        )
    axis = (
        f'<line x1="20" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" '
        'stroke="#8a94a6"/>'
    )
    empty = "" if bars else f'<text x="30" y="{height / 2}" font-size="12">no turns yet</text>'
    return (
        f'<svg id="{ident}" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{axis}{"".join(shapes)}{empty}</svg>'
    )


def _login_form(problem: str | None) -> str:
    said = f"<p>{escape(problem)}</p>" if problem else ""
    return _document(
        "Parley admin: sign in",
        f'<h1>Parley admin</h1>{said}<form method="post" action="{LOGIN_PATH}">'
        '<label>Admin token <input type="password" name="token" autocomplete="off"></label> '
        '<button type="submit">Sign in</button></form>',
    )


def _document(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )
