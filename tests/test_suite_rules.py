"""Rules of the test suite itself: under CI, missing test material fails the run instead of skipping."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")


def test_ci_fails_the_run_when_the_shared_videos_are_missing(tmp_path):
    tests = tmp_path / "clone" / "tests"  # a clone with no shared/ folder beside it
    tests.mkdir(parents=True)
    shutil.copy(CONFTEST, tests / "conftest.py")
    (tests / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)]
    environment = {key: value for key, value in os.environ.items() if key != "CI"}
    local = subprocess.run(command, cwd=tests.parent, env=environment, capture_output=True, text=True, timeout=120)
    assert local.returncode == 0, local.stdout + local.stderr
    ci = subprocess.run(command, cwd=tests.parent, env={**environment, "CI": "true"}, capture_output=True,
                        text=True, timeout=120)
    assert ci.returncode != 0
    assert f"{tmp_path / 'shared' / 'real-faces'} is missing" in ci.stdout + ci.stderr
