"""Model Markdown made safe and readable for Slack: no pings, mrkdwn where Markdown is not taken."""

from __future__ import annotations

import re

from markdown_to_mrkdwn import SlackMarkdownConverter

from bot.links import reveal_links, unfinished_link

ZERO_WIDTH_SPACE = "\u200b"
UPDATE_LIMIT = 4_000
"""chat.update and response_url refuse longer text (msg_too_long)."""

# `<!channel>`, `<!here>`, `<!subteam^...>`, `<@U...>`: the control sequences that notify people.
_CONTROL = re.compile(r"<(?=[!@])")
# In Markdown the model wrote, also `<#C...|name>` and `<https://...|text>`: a link whose text
# can say anything. (Not `<std::string>` and the like: `://`, mailto: or tel: only.)
_RAW_CONTROL = re.compile(r"<(?=[!@#]|[a-z][a-z0-9+.-]{0,15}://|mailto:|tel:)", re.IGNORECASE)
# Plain `@channel` and friends notify only with link_names, which Parley never sets: break them too.
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone))", re.IGNORECASE)
_PATTERN_REACH = len("<") + 16 + len("://")
"""How far past a `<` or `@` the text must be known before it can be neutralised for good."""


def neutralise(text: str) -> str:
    """Model Markdown that notifies no one and whose links show where they go: mentions,
    broadcasts and raw `<...>` links break into text; see bot.links for Markdown links."""
    text = _RAW_CONTROL.sub("<" + ZERO_WIDTH_SPACE, reveal_links(text))
    return _BROADCAST.sub("@" + ZERO_WIDTH_SPACE, text)


def _no_pings(mrkdwn: str) -> str:
    """Break the mentions and broadcasts in mrkdwn, keeping the links the converter wrote."""
    mrkdwn = _CONTROL.sub("<" + ZERO_WIDTH_SPACE, mrkdwn)
    return _BROADCAST.sub("@" + ZERO_WIDTH_SPACE, mrkdwn)


def settled(text: str) -> str:
    """The longest prefix whose neutralised form no continuation of the text can change.

    A trailing `<` or `@` may yet become `<!here>` or `@channel`, and an open `[` a link to
    reveal: hold them back until they are known.
    """
    while True:
        cut = len(text)
        for index in range(max(0, len(text) - _PATTERN_REACH), len(text)):
            if text[index] in "<@":
                cut = index
                break
        link = unfinished_link(text[:cut])
        if link is not None:
            cut = link
        if cut == len(text):
            return text
        text = text[:cut]


def to_mrkdwn(markdown: str) -> str:
    """Standard Markdown as Slack mrkdwn, neutralised, for methods that take only `text`."""
    # Slack reads `<...>` as a link or a mention and `&` as an entity: escape the model's own
    # (the links the converter writes come after). A converter keeps state, so one per text.
    escaped = reveal_links(markdown).replace("&", "&amp;").replace("<", "&lt;")
    converted = SlackMarkdownConverter().convert(escaped)
    return fit(_no_pings(converted), UPDATE_LIMIT)


def fit(text: str, limit: int) -> str:
    """Cut text that outgrew a hard limit after conversion (rare: split sizes leave room)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


PROMPT_SHOWN = 1_000
"""How much of an /ask prompt the visible "asked" line repeats."""


def asked(user_id: str, prompt: str) -> str:
    """The mrkdwn line that keeps a slash command's prompt visible above its answer."""
    return f"<@{user_id}> asked: {escaped(fit(prompt, PROMPT_SHOWN))}"


def escaped(text: str) -> str:
    """Plain text as mrkdwn that shows it as it is: entities escaped, broadcasts broken."""
    return _no_pings(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
