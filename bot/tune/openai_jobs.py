"""`parley tune --openai`: fine-tune an OpenAI model on `parley export` JSONL.

This is the only path in `parley tune` on which data leaves the machine: the file is checked
here first, then uploaded to OPENAI_BASE_URL (OpenAI itself when unset).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bot.config import ConfigError, Settings
from bot.llm.openai.settings import OpenAISettings
from bot.tune.data import read_conversations

FINISHED = {"succeeded", "failed", "cancelled"}
FIRST_POLL, LAST_POLL = 0.5, 10.0  # seconds: quick for short jobs, gentle for hour-long ones


def run_openai(settings: Settings, path: str, base: str) -> int:
    """Check, upload, start the job and follow it; print the tuned model's name (0) or why not."""
    import openai
    from rich.console import Console

    conversations = read_conversations(path)
    server = settings.of(OpenAISettings)
    if server.key is None and server.base_url is None:
        raise ConfigError("--openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible API)")
    client = openai.OpenAI(api_key=server.key or "unused", base_url=server.base_url)
    where = server.base_url or "OpenAI"
    console = Console(stderr=True)
    console.print(f"uploading {len(conversations)} conversations from {path} to {where}")
    try:
        with Path(path).expanduser().open("rb") as handle:
            uploaded = client.files.create(file=handle, purpose="fine-tune")
        job = client.fine_tuning.jobs.create(training_file=uploaded.id, model=base)
        console.print(f"fine-tuning job {job.id} started on {base}")
        job = _follow(client, job, console)
    except openai.APIStatusError as error:
        raise ConfigError(f"OpenAI fine-tuning: {error.status_code} {error.message}") from None
    except openai.APIConnectionError:
        raise ConfigError(f"OpenAI fine-tuning: cannot reach {where}") from None
    if job.status != "succeeded":
        reason = job.error.message if job.error else "no reason given"
        print(f"parley: fine-tuning job {job.id} {job.status}: {reason}", file=sys.stderr)
        return 1
    print(f"fine-tuned model: {job.fine_tuned_model}")
    print(f"serve it: PARLEY_BACKEND=openai PARLEY_MODEL={job.fine_tuned_model}")
    return 0


def _follow(client: Any, job: Any, console: Any) -> Any:
    """Poll the job and print its events oldest first, with a bar fed by its metrics events."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    seen: set[str] = set()
    wait = FIRST_POLL
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(job.status, total=None)
        while True:
            # The job first, then its events: the last events arrive with the final state.
            job = client.fine_tuning.jobs.retrieve(job.id)
            events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
            for event in reversed(events):  # the API lists newest first
                if event.id in seen:
                    continue
                seen.add(event.id)
                metrics = event.data if event.type == "metrics" else None
                if isinstance(metrics, dict) and "step" in metrics:
                    bar.update(task, completed=metrics["step"], total=metrics.get("total_steps"))
                else:
                    bar.console.print(f"  {event.message}")
            bar.update(task, description=job.status)
            if job.status in FINISHED:
                return job
            time.sleep(wait)
            wait = min(wait * 2, LAST_POLL)
