"""Hypothesis strategies for what users and platforms send: marked-up chat text, Slack payloads."""

from __future__ import annotations

from hypothesis import strategies as st

from bot.commands import COMMAND_PREFIXES, SPECS

FUZZ = {"max_examples": 200, "deadline": None}
"""Enough examples to find the odd input, few enough that the fuzz suite takes seconds."""

BOT_USER = "U0PARLEY"
SLACK_MARKUP = (
    f"<@{BOT_USER}>",
    f"<@{BOT_USER}|parley>",
    "<@U0ALICE>",
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<!subteam^S123|team>",
    "<#C0GENERAL|general>",
    "<https://example.com|a link>",
    "<mailto:a@b.c>",
    "@channel",
    "@here",
    "&amp;",
    "&lt;",
    "&gt;",
    "<",
    ">",
    "|",
    "```",
    "```python\n",
    "\n",
    " ",
)

chat_text = st.lists(
    st.one_of(st.text(max_size=40), st.sampled_from(SLACK_MARKUP)), max_size=12
).map("".join)
"""Arbitrary text salted with the markup that chat platforms and Markdown give meaning to."""

command_text = st.builds(
    lambda prefix, word, gap, rest: f"{prefix}{word}{gap}{rest}",
    st.sampled_from([*COMMAND_PREFIXES, " /", ""]),
    st.sampled_from([*SPECS, "HELP", "Reset", "model", "nope", ""]),
    st.sampled_from(["", " ", "  ", "\n"]),
    chat_text,
)
"""Text that often looks like a command, known or not, with arbitrary arguments."""

slack_id = st.from_regex(r"[UCDGTWB][A-Z0-9]{2,10}", fullmatch=True)
slack_ts = st.builds(
    lambda seconds, micros: f"{seconds}.{micros:06d}",
    st.integers(1_000_000_000, 2_000_000_000),
    st.integers(0, 999_999),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)

slack_message_event = st.fixed_dictionaries(
    {"channel": slack_id, "ts": slack_ts, "user": slack_id | st.just(BOT_USER)},
    optional={
        "text": chat_text,
        "thread_ts": slack_ts,
        "subtype": st.none()
        | st.sampled_from(["file_share", "thread_broadcast", "message_changed", "bot_message"])
        | st.text(max_size=12),
        "channel_type": st.sampled_from(["im", "channel", "group", "mpim", "app_home"])
        | st.text(max_size=8),
        "bot_id": st.none() | slack_id,
        "type": st.sampled_from(["message", "app_mention"]),
    },
)
"""A message or app_mention event as Slack shapes it, with arbitrary content and options."""

slack_command_payload = st.fixed_dictionaries(
    {
        "trigger_id": st.text(min_size=1, max_size=30),
        "channel_id": slack_id,
        "user_id": slack_id,
        "team_id": slack_id,
        "response_url": st.just("https://hooks.slack.test/commands/1"),
    },
    optional={"text": command_text | chat_text, "command": st.sampled_from(["/ask", "/parley"])},
)
