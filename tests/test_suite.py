"""The suite itself: CI's default run includes the `live` tests, the only ones that catch push loss and leases."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT


def test_the_default_run_keeps_the_live_tests():
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini", encoding="utf-8")
    assert "-m" not in ini["pytest"].get("addopts", "").split()  # no marker deselects them by default
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    after_pytest = recipe.split("-m pytest", 1)[1]
    assert "-m" not in after_pytest.split() and "live" not in after_pytest
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^\s*env .*\bmake test\b", ci, re.M) and "not live" not in ci
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "caught only by `live` tests" in readme


def test_ruff_is_clean_with_complexity_and_line_length_rules_on():
    """CI runs `make test`, not `make lint`: so the lint rules hold here (ruff from requirements.txt)."""
    config = tomllib.loads((ROOT / "ruff.toml").read_text(encoding="utf-8"))
    assert {"C901", "E501"} <= set(config["lint"]["select"])
    assert config["lint"]["mccabe"]["max-complexity"] == 15 and config["line-length"] == 130
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:]
