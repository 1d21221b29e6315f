"""The distribution's metadata: a license file that matches, a build backend that builds it."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.files import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_the_license_file_matches_the_license_field():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")


def test_the_build_backend_can_build_an_spdx_license_field():
    (setuptools,) = [r for r in PYPROJECT["build-system"]["requires"] if "setuptools" in r]
    floor = re.fullmatch(r"setuptools>=(\d+)", setuptools)
    assert floor and int(floor[1]) >= 77  # the first release that reads `license = "MIT"`


def test_it_says_where_it_lives_and_what_it_is():
    assert {"Homepage", "Source", "Issues"} <= set(PROJECT["urls"])
    assert "Programming Language :: Python :: 3.11" in PROJECT["classifiers"]
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]  # SPDX instead


def test_install_lines_for_the_unpublished_distribution_say_so():
    """Until parley-bot is on PyPI, `pip install "parley-bot[...]"` must come with a warning."""
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for paragraph in path.read_text().split("\n\n"):
            if re.search(r"pip install \S*parley-bot", paragraph):
                assert "published" in paragraph, f"{path.name}: {paragraph}"
