"""OpenAI's Files and fine-tuning jobs API on 127.0.0.1, as documented: upload, job, events.

A job moves one state per retrieve (validating_files, running, succeeded), emitting the
message and metrics events OpenAI sends, so a client following it sees a whole run quickly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.peers.loopback import LoopbackServer

STEPS = 3


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return web.json_response(body, status=status)


@dataclass
class FineTuningPeer:
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _server: LoopbackServer = field(default_factory=LoopbackServer)

    @property
    def base_url(self) -> str:
        return self._server.url("/v1")

    async def start(self) -> FineTuningPeer:
        app = web.Application()
        app.router.add_post("/v1/files", self._upload)
        app.router.add_post("/v1/fine_tuning/jobs", self._create)
        app.router.add_get("/v1/fine_tuning/jobs/{id}", self._retrieve)
        app.router.add_get("/v1/fine_tuning/jobs/{id}/events", self._events)
        await self._server.start(app)
        return self

    async def stop(self) -> None:
        await self._server.stop()

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload, purpose = form.get("file"), form.get("purpose")
        if purpose != "fine-tune" or not isinstance(upload, web.FileField):
            return _error(400, "expected a file with purpose fine-tune")
        file_id = f"file-{len(self.files) + 1}"
        content = upload.file.read()
        self.contents[file_id] = content
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(time.time()),
            "filename": upload.filename,
            "purpose": "fine-tune",
            "status": "processed",
        }
        return web.json_response(self.files[file_id])

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("training_file") not in self.files:
            return _error(400, f"invalid training_file: {body.get('training_file')}")
        job_id = f"ftjob-{len(self.jobs) + 1}"
        self.jobs[job_id] = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": {"n_epochs": "auto"},
            "model": body["model"],
            "organization_id": "org-peer",
            "result_files": [],
            "seed": 0,
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": None,
        }
        self.events[job_id] = []
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        return web.json_response(self.jobs[job_id])

    def _event(self, job_id: str, message: str, data: dict[str, Any] | None = None) -> None:
        self.events[job_id].append(
            {
                "id": f"ftevent-{job_id}-{len(self.events[job_id])}",
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()),
                "level": "info",
                "message": message,
                "data": data,
                "type": "metrics" if data else "message",
            }
        )

    def _advance(self, job: dict[str, Any]) -> None:
        if job["status"] == "validating_files":
            lines = self.contents[job["training_file"]].decode().splitlines()
            if not all("messages" in json.loads(line) for line in lines if line.strip()):
                job.update(status="failed", error={"code": "invalid_file", "message": "bad file"})
                return
            job["status"] = "running"
            self._event(job["id"], "Fine-tuning job started")
            for step in range(1, STEPS + 1):
                metrics = {"step": step, "total_steps": STEPS, "train_loss": 1.0 / step}
                self._event(
                    job["id"], f"Step {step}/{STEPS}: training loss={1.0 / step:.2f}", metrics
                )
        elif job["status"] == "running":
            job.update(
                status="succeeded",
                fine_tuned_model=f"ft:{job['model']}:parley::{job['id'][-1]}",
                finished_at=int(time.time()),
                trained_tokens=100,
            )
            self._event(job["id"], "The job has successfully completed")

    async def _retrieve(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return _error(404, "no such job")
        self._advance(job)
        return web.json_response(job)

    async def _events(self, request: web.Request) -> web.Response:
        events = self.events.get(request.match_info["id"])
        if events is None:
            return _error(404, "no such job")
        limit = int(request.query.get("limit", "20"))
        newest_first = list(reversed(events))[:limit]
        return web.json_response({"object": "list", "data": newest_first, "has_more": False})
