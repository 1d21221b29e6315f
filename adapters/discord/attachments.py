"""A Discord message's files, read by the shared rules (bot/attachments.py); images go by URL."""

from __future__ import annotations

import discord

from bot.attachments import DownloadFailed, read_file
from bot.types import Attachment


async def read_attachments(
    files: list[discord.Attachment], max_bytes: int
) -> tuple[Attachment, ...]:
    """Text files up to max_bytes are read, images passed by their CDN URL, the rest described."""
    return tuple([await _read(file, max_bytes) for file in files])


async def _read(file: discord.Attachment, max_bytes: int) -> Attachment:
    async def download() -> bytes:
        try:
            return await file.read()
        except discord.HTTPException as error:
            raise DownloadFailed(str(error)) from error

    return await read_file(
        file.filename, file.content_type, file.size, max_bytes, download, image_url=file.url
    )
