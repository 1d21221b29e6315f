"""Links that cannot disguise themselves: a Markdown link whose text is a URL shows its target."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# `[text](target)` or `[text](target "title")`, as CommonMark writes an inline link.
_LINK = re.compile(r"\[(?P<text>[^\[\]\n]+)\]\((?P<target>[^\s()]+)(?:[ \t]+\"[^\"\n]*\")?\)")
# A link that the text so far may still complete: it runs to the end of the text.
_UNFINISHED = re.compile(r"\[[^\[\]\n]*(?:\](?:\([^\s()]*(?:[ \t]+(?:\"[^\"\n]*)?)?)?)?\Z")
# What a reader takes for an address: an optional scheme, dotted host names, a path.
_URLISH = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\.?(?::\d+)?(?:[/?#]\S*)?",
    re.IGNORECASE,
)


def reveal_links(text: str) -> str:
    """Rewrite each link whose text looks like an address other than its target as
    `text (target)`, so the reader sees where it really goes; other links stay as written."""
    return _LINK.sub(_reveal, text)


def unfinished_link(text: str) -> int | None:
    """Where a link that more text could still complete (and so rewrite) begins, if any."""
    match = _UNFINISHED.search(text)
    return match.start() if match else None


def _reveal(link: re.Match[str]) -> str:
    text, target = link["text"].strip(), link["target"].strip("<>")
    if not _URLISH.fullmatch(text) or _same_place(text, target):
        return link[0]
    return f"{text} ({target})"


def _same_place(text: str, target: str) -> bool:
    try:
        return _place(text) == _place(target)
    except ValueError:  # an address urlsplit cannot read matches nothing
        return False


def _place(address: str) -> tuple[str, str, str]:
    """Host (without `www.`), path and query: the same place whatever the scheme or case."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    host = (parts.hostname or "").removeprefix("www.").rstrip(".")
    return host, parts.path.rstrip("/"), parts.query
