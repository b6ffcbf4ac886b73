"""The suite itself: CI's default run includes the `live` tests, the only ones that catch push loss and leases."""

from __future__ import annotations

import configparser
import re

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
