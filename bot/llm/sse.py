"""Server-sent events as the chat completions API streams them: the data of each event, decoded.

The openai client parses every chunk of a stream into pydantic models, which cost more CPU than
the rest of a streamed turn together; its raw streaming response gives the bytes instead, and
this reads them as the SSE standard says (lines end in CR LF, LF or CR; `data:` fields join with
LF; a blank line ends an event; other fields and comments are ignored).
Not the client's own decoder: it lives in a private module (`openai._streaming`) and builds a
str per line and an event object per chunk, the per-chunk cost this path exists to avoid.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

DONE = b"[DONE]"


async def events(chunks: AsyncIterable[bytes]) -> AsyncIterator[Any]:
    """The JSON data of each event, until the stream ends or says [DONE]; what follows [DONE] is
    read and dropped, so that the connection can be reused."""
    pending = b""
    data: list[bytes] = []
    done = False
    async for chunk in chunks:
        lines = (pending + chunk).splitlines(keepends=True)
        # A last line without its end may continue in the next chunk (a CR, by an LF).
        pending = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        for line in () if done else lines:
            line = line.rstrip(b"\r\n")
            if line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif not line and data:
                payload = b"\n".join(data)
                data.clear()
                done = payload.startswith(DONE)
                if done:
                    break
                yield json.loads(payload)
