"""The rules every door applies to a message's files: text up to PARLEY_MAX_ATTACHMENT_BYTES joins
the prompt, images (PARLEY_MAX_IMAGES per message, each up to PARLEY_MAX_IMAGE_BYTES) go to the
model, anything else gets a note. Platform-free: a door says how to download a file."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from bot.types import Attachment

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

TEXT_EXTENSIONS = frozenset(
    {
        *(".txt", ".md", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml", ".toml"),
        *(".ini", ".cfg", ".conf", ".log", ".xml", ".html", ".css", ".sql", ".diff", ".patch"),
        *(".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".kt", ".go", ".rs", ".c", ".h", ".cpp"),
        *(".hpp", ".cs", ".rb", ".php", ".sh", ".swift", ".lua"),
    }
)

Download = Callable[[], Awaitable[bytes]]
"""Fetch a file's bytes; raises DownloadFailed (or returns more than the cap, which is refused)."""


class DownloadFailed(Exception):
    """A door could not (or would not) fetch a file; the file is described instead."""


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


@dataclass(frozen=True, slots=True)
class FileLimits:
    """How much of a message's files reaches the model."""

    text_bytes: int
    image_bytes: int
    images: int

    @classmethod
    def of(cls, settings: Settings) -> FileLimits:
        return cls(settings.max_attachment_bytes, settings.max_image_bytes, settings.max_images)

    def line(self, left_out: Iterable[str]) -> str | None:
        """The one line telling the asker which images the model did not get, if any."""
        names = ", ".join(left_out)
        if not names:
            return None
        each = f"{self.image_bytes / 1_000_000:g} MB"
        images = "1 image" if self.images == 1 else f"{self.images} images"
        return f"Not read: {names} (at most {images} of up to {each} each per message)."


@dataclass(frozen=True, slots=True)
class SharedFile:
    """What a door knows of a file before reading it. `image_url` is set when the model can
    fetch the image itself (a public URL)."""

    name: str
    content_type: str | None
    size: int
    download: Download
    image_url: str | None = None


async def read_files(
    files: Iterable[SharedFile], limits: FileLimits
) -> tuple[tuple[Attachment, ...], str | None]:
    """A message's files by the shared rules, and the line about images left out (too many, or
    too large), which are described to the model instead; the rest of the message goes on."""
    attachments: list[Attachment] = []
    left_out: list[str] = []
    images = 0
    for file in files:
        if file_kind(file.content_type, file.name) is not FileKind.IMAGE:
            attachments.append(await _read_file(file, limits.text_bytes))
        elif images >= limits.images or file.size > limits.image_bytes:
            left_out.append(file.name)
            attachments.append(_described(file))
        else:
            attachment = await _read_file(file, limits.image_bytes)
            images += attachment.image_url is not None
            attachments.append(attachment)
    return tuple(attachments), limits.line(left_out)


def _described(file: SharedFile) -> Attachment:
    return Attachment(file.name, file.content_type or "application/octet-stream")


async def _read_file(file: SharedFile, max_bytes: int) -> Attachment:
    """One file by the shared rules. An image goes by `image_url` when the model can fetch it,
    else downloaded within the cap as a data URL; text is downloaded within the cap; the rest,
    and whatever fails, is described."""
    content_type = file.content_type or "application/octet-stream"
    name, size = file.name, file.size
    described = _described(file)
    kind = file_kind(content_type, name)
    if kind is FileKind.IMAGE and file.image_url:
        return Attachment(name, content_type, image_url=file.image_url)
    if kind is FileKind.OTHER or size > max_bytes:
        return described
    try:
        data = await file.download()
    except DownloadFailed as error:
        log.warning("could not download attachment %s: %s", name, error)
        return described
    if len(data) > max_bytes:
        return described
    if kind is FileKind.IMAGE:
        mime = content_type.split(";")[0].strip()
        encoded = base64.b64encode(data).decode()
        return Attachment(name, content_type, image_url=f"data:{mime};base64,{encoded}")
    return Attachment(name, content_type, text=data.decode(errors="replace"))
