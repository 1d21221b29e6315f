"""A Slack message's files (`files` in the event), read by the shared rules (bot/attachments.py).

A file is downloaded from `url_private` with the bot token (scope files:read), so the token and
any redirect are kept to Slack's file host: a file elsewhere is described, a redirect off the host
is not followed. Images are private too, so they reach the model as data URLs.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import aiohttp

from adapters.slack.translate import Payload
from bot.attachments import DownloadFailed, FileLimits, SharedFile, read_files
from bot.types import Attachment

MAX_REDIRECTS = 3
TIMEOUT = aiohttp.ClientTimeout(total=30)


def file_hosts(api_url: str) -> frozenset[str]:
    """Where Slack serves files for this API host: files.<host> (files.slack.com for slack.com)
    and the API host itself (a proxy, or a test peer)."""
    host = urlsplit(api_url).netloc.lower()
    return frozenset({host, f"files.{host}"})


class SlackFiles:
    """Reads files shared in messages, with one HTTP session for the door's life."""

    def __init__(self, token: str, api_url: str, limits: FileLimits) -> None:
        self._token = token
        self._hosts = file_hosts(api_url)
        self._scheme = urlsplit(api_url).scheme.lower()
        """The token never travels over a weaker scheme than the API's own."""
        self._limits = limits
        self._max_bytes = max(limits.text_bytes, limits.image_bytes)
        """No download goes past this, whatever the file claims (the rules then cap each kind)."""
        self._session: aiohttp.ClientSession | None = None

    async def read(self, files: Iterable[object]) -> tuple[tuple[Attachment, ...], str | None]:
        """Every well-formed file object (others, e.g. Slack Connect's `check_file_info`, skip),
        and the line about images left out."""
        return await read_files(
            [self._shared(file) for file in files if isinstance(file, dict)], self._limits
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _shared(self, file: Payload) -> SharedFile:
        name = str(file.get("name") or file.get("title") or "file")
        size = file.get("size")
        size = size if isinstance(size, int) and size >= 0 else self._max_bytes + 1
        url = file.get("url_private_download") or file.get("url_private")

        async def download() -> bytes:
            if not isinstance(url, str):
                raise DownloadFailed("no url_private")
            return await self._download(url)

        return SharedFile(name, file.get("mimetype"), size, download)

    async def _download(self, url: str) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        headers = {"Authorization": f"Bearer {self._token}"}
        for _ in range(MAX_REDIRECTS + 1):
            where = urlsplit(url)
            if where.netloc.lower() not in self._hosts or where.scheme.lower() != self._scheme:
                raise DownloadFailed(f"not on Slack's file host: {where.netloc[:80]}")
            try:
                async with self._session.get(url, headers=headers, allow_redirects=False) as reply:
                    if reply.status in (301, 302, 303, 307, 308) and "Location" in reply.headers:
                        url = urljoin(url, reply.headers["Location"])
                        continue
                    if reply.status != 200:
                        raise DownloadFailed(f"HTTP {reply.status}")
                    return await self._capped(reply)
            except (aiohttp.ClientError, TimeoutError) as error:
                raise DownloadFailed(type(error).__name__) from error
        raise DownloadFailed("too many redirects")

    async def _capped(self, reply: aiohttp.ClientResponse) -> bytes:
        """The body, stopping one byte past the cap (the caller refuses it) whatever it claims."""
        data = bytearray()
        async for chunk in reply.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > self._max_bytes:
                break
        return bytes(data)
