"""Model Markdown made safe and readable for Slack: no pings, mrkdwn where Markdown is not taken."""

from __future__ import annotations

import re

from markdown_to_mrkdwn import SlackMarkdownConverter

ZERO_WIDTH_SPACE = "\u200b"
UPDATE_LIMIT = 4_000
"""chat.update and response_url refuse longer text (msg_too_long)."""

# `<!channel>`, `<!here>`, `<!subteam^...>`, `<@U...>`: the control sequences that notify people.
_CONTROL = re.compile(r"<(?=[!@])")
# Plain `@channel` and friends notify only with link_names, which Parley never sets: break them too.
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone))", re.IGNORECASE)
_PATTERN_REACH = len("@everyone")
"""How far past a `<` or `@` the text must be known before it can be neutralised for good."""


def neutralise(text: str) -> str:
    """Break every mention and broadcast so that Slack shows it as text and notifies no one."""
    text = _CONTROL.sub("<" + ZERO_WIDTH_SPACE, text)
    return _BROADCAST.sub("@" + ZERO_WIDTH_SPACE, text)


def settled(text: str) -> str:
    """The longest prefix whose neutralised form no continuation of the text can change.

    A trailing `<` or `@` may yet become `<!here>` or `@channel`; hold it back until it is known.
    """
    tail_start = max(0, len(text) - _PATTERN_REACH)
    for index in range(tail_start, len(text)):
        if text[index] in "<@":
            return text[:index]
    return text


def to_mrkdwn(markdown: str) -> str:
    """Standard Markdown as Slack mrkdwn, neutralised, for methods that take only `text`."""
    # Slack reads `<...>` as a link or a mention and `&` as an entity: escape the model's own
    # (the links the converter writes come after). A converter keeps state, so one per text.
    escaped = markdown.replace("&", "&amp;").replace("<", "&lt;")
    converted = SlackMarkdownConverter().convert(escaped)
    return fit(neutralise(converted), UPDATE_LIMIT)


def fit(text: str, limit: int) -> str:
    """Cut text that outgrew a hard limit after conversion (rare: split sizes leave room)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


PROMPT_SHOWN = 1_000
"""How much of an /ask prompt the visible "asked" line repeats."""


def asked(user_id: str, prompt: str) -> str:
    """The mrkdwn line that keeps a slash command's prompt visible above its answer."""
    shown = fit(prompt, PROMPT_SHOWN)
    escaped = shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<@{user_id}> asked: {neutralise(escaped)}"
