"""A message's files: text joins the prompt, images go by URL, anything else gets a note."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import PurePosixPath

import discord

from bot.types import Attachment

log = logging.getLogger(__name__)

TEXT_EXTENSIONS = frozenset(
    {
        *(".txt", ".md", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml", ".toml"),
        *(".ini", ".cfg", ".conf", ".log", ".xml", ".html", ".css", ".sql", ".diff", ".patch"),
        *(".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".kt", ".go", ".rs", ".c", ".h", ".cpp"),
        *(".hpp", ".cs", ".rb", ".php", ".sh", ".swift", ".lua"),
    }
)


class FileKind(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    OTHER = "other"


def file_kind(content_type: str | None, filename: str) -> FileKind:
    """Classify by the declared content type, falling back to a known text file extension."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind.startswith("image/"):
        return FileKind.IMAGE
    if kind.startswith("text/") or PurePosixPath(filename.lower()).suffix in TEXT_EXTENSIONS:
        return FileKind.TEXT
    return FileKind.OTHER


async def read_attachments(
    files: list[discord.Attachment], max_bytes: int
) -> tuple[Attachment, ...]:
    """Download text files up to max_bytes; the rest are described, not read."""
    return tuple([await _read(file, max_bytes) for file in files])


async def _read(file: discord.Attachment, max_bytes: int) -> Attachment:
    content_type = file.content_type or "application/octet-stream"
    described = Attachment(name=file.filename, content_type=content_type, size=file.size)
    kind = file_kind(file.content_type, file.filename)
    if kind is FileKind.IMAGE:
        return Attachment(file.filename, content_type, file.size, image_url=file.url)
    if kind is FileKind.OTHER or file.size > max_bytes:
        return described
    try:
        data = await file.read()
    except discord.HTTPException:
        log.warning("could not download attachment %s", file.filename, exc_info=True)
        return described
    return Attachment(file.filename, content_type, file.size, text=data.decode(errors="replace"))
