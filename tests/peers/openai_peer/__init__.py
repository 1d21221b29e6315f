"""An OpenAI-compatible server on 127.0.0.1 streaming SSE like the real API, faults on demand.

By role: `peer` (settings, recorded requests, the server), `handlers` (the endpoints),
`stream` (the SSE wire format), `refusals` (what OpenAI rejects), `script` (the answers and
faults a test sets up).
"""

from tests.peers.openai_peer.peer import OpenAIPeer
from tests.peers.openai_peer.script import CallTools, Fault

__all__ = ["CallTools", "Fault", "OpenAIPeer"]
