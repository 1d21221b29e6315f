"""A plugin distribution from a folder of tests/, installed where only the runs that ask see it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def install_apart(source: Path, work: Path) -> Path:
    """Install the distribution at `source` into a folder under `work` (the project's venv
    untouched) and return that folder, for PYTHONPATH."""
    shutil.copytree(source, work / "src")  # the build writes its egg-info beside the sources
    target = work / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*install, "--target", str(target), str(work / "src")],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return target


def environment(site: Path, tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a `parley` run that sees the distribution installed at `site`."""
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PARLEY_DATA_DIR": str(tmp_path), **settings}
