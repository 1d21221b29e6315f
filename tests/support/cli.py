"""Run the real `parley` command in a subprocess, optionally as if some libraries were missing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = Path(sys.executable).with_name("parley")
PARLEY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot"]
"""The installed console script (else `python -m bot`); an inherited PYTHONPATH picks the code."""

BLOCKER = '''\
import importlib.abc, sys

BLOCKED = {blocked!r}


class Refuse(importlib.abc.MetaPathFinder):
    """Acts as if these top-level modules were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Refuse())
'''


@dataclass(frozen=True, slots=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        """What the user sees on stderr, line by line."""
        return self.stderr.splitlines()


def run_parley(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str = "",
    missing: tuple[str, ...] = (),
    tmp_path: Path | None = None,
    timeout: float = 60,
) -> Run:
    """`parley ARGS` with `env` on top of ours; `missing` modules cannot be imported."""
    full_env = {**os.environ, **(env or {})}
    if missing:
        assert tmp_path is not None, "missing= needs a tmp_path for its sitecustomize.py"
        site = tmp_path / "site-missing"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=set(missing)))
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(site), *filter(None, [full_env.get("PYTHONPATH")])]
        )
    started = time.perf_counter()
    result = subprocess.run(
        [*PARLEY, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Run(result.returncode, result.stdout, result.stderr, time.perf_counter() - started)
