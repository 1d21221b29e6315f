"""A Hugging Face hub on 127.0.0.1 serving one model directory, as `snapshot_download` asks it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.peers.loopback import LoopbackServer

COMMIT = "c0ffee" + "0" * 34


@dataclass
class HubPeer:
    """Serves `directory` as the model `repo_id` at revision main (commit COMMIT)."""

    repo_id: str
    directory: Path
    requests: list[str] = field(default_factory=list)
    _server: LoopbackServer = field(default_factory=LoopbackServer)

    @property
    def endpoint(self) -> str:
        return self._server.url()

    async def start(self) -> HubPeer:
        self._files = {
            path.relative_to(self.directory).as_posix(): path.read_bytes()
            for path in sorted(self.directory.rglob("*"))
            if path.is_file()
        }
        app = web.Application(middlewares=[self._record])
        models = f"/api/models/{self.repo_id}"
        app.router.add_get(models, self._info)
        app.router.add_get(models + "/revision/{revision}", self._info)
        app.router.add_get(models + "/tree/{revision}", self._tree)
        app.router.add_route("*", f"/{self.repo_id}/resolve/{{revision}}/{{path:.*}}", self._file)
        await self._server.start(app)
        return self

    async def stop(self) -> None:
        await self._server.stop()

    @web.middleware
    async def _record(self, request: web.Request, handler) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        return await handler(request)

    async def _info(self, request: web.Request) -> web.Response:
        siblings = [{"rfilename": name} for name in self._files]
        return web.json_response({"id": self.repo_id, "sha": COMMIT, "siblings": siblings})

    async def _tree(self, request: web.Request) -> web.Response:
        entries = [
            {"type": "file", "path": name, "size": len(body), "oid": hashlib.sha1(body).hexdigest()}
            for name, body in self._files.items()
        ]
        return web.json_response(entries)

    async def _file(self, request: web.Request) -> web.Response:
        body = self._files.get(request.match_info["path"])
        if body is None:
            return web.Response(status=404, headers={"X-Error-Code": "EntryNotFound"})
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(body).hexdigest()}"'}
        if request.method == "HEAD":
            return web.Response(headers={**headers, "Content-Length": str(len(body))})
        return web.Response(body=body, headers=headers)
