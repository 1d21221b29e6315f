"""A TCP proxy in front of PostgreSQL that counts the client's round trips.

It reads the client side of the wire protocol: after the startup packet (which has no type
byte), every message is a type byte and a length. A round trip ends with each Sync ('S', the
end of an extended-protocol batch) or simple Query ('Q'): the client then waits for the server.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from urllib.parse import urlsplit, urlunsplit

_ROUND_TRIP_ENDS = frozenset(b"SQ")


class RoundTripCounter:
    """Forwards connections to PostgreSQL, counting the round trips clients make."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.round_trips = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        pipes = [
            asyncio.ensure_future(self._client_side(reader, up_writer)),
            asyncio.ensure_future(_copy(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
                self._pipes.discard(pipe)
            for side in (writer, up_writer):
                side.close()

    async def _client_side(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        with suppress(asyncio.IncompleteReadError, ConnectionError):
            (length,) = struct.unpack("!i", await reader.readexactly(4))
            writer.write(struct.pack("!i", length) + await reader.readexactly(length - 4))
            while True:
                header = await reader.readexactly(5)
                (length,) = struct.unpack("!i", header[1:])
                writer.write(header + await reader.readexactly(length - 4))
                if header[0] in _ROUND_TRIP_ENDS:
                    self.round_trips += 1
                await writer.drain()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with suppress(ConnectionError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()


@asynccontextmanager
async def counted(dsn: str) -> AsyncIterator[tuple[RoundTripCounter, str]]:
    """A round-trip counter in front of the server `dsn` names, and the DSN that goes through it
    (without TLS, so the protocol can be read)."""
    parts = urlsplit(dsn)
    counter = RoundTripCounter(parts.hostname or "127.0.0.1", parts.port or 5432)
    await counter.start()
    try:
        netloc = (
            f"{parts.username}@127.0.0.1:{counter.port}"
            if parts.username
            else (f"127.0.0.1:{counter.port}")
        )
        query = f"{parts.query}&sslmode=disable" if parts.query else "sslmode=disable"
        yield counter, urlunsplit(parts._replace(netloc=netloc, query=query))
    finally:
        await counter.close()
