"""A Discord message's files, read by the shared rules (bot/attachments.py); images go by URL."""

from __future__ import annotations

import discord

from bot.attachments import DownloadFailed, FileLimits, SharedFile, read_files
from bot.types import Attachment


async def read_attachments(
    files: list[discord.Attachment], limits: FileLimits
) -> tuple[tuple[Attachment, ...], str | None]:
    """Text files within the cap are read, images passed by their CDN URL, the rest described;
    and the line about images left out."""
    return await read_files([_shared(file) for file in files], limits)


def _shared(file: discord.Attachment) -> SharedFile:
    async def download() -> bytes:
        try:
            return await file.read()
        except discord.HTTPException as error:
            raise DownloadFailed(str(error)) from error

    return SharedFile(file.filename, file.content_type, file.size, download, image_url=file.url)
