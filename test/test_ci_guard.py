"""In CI a missing rclpy or TensorFlow fails the run; it must not turn into a green run of skips.

The plausible bug: a broken install step in CI (a wheel that no longer resolves) makes every
ROS and training test `importorskip` away, and CI reports success having tested the core only.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

TEST_DIR = Path(__file__).resolve().parent


def _pytest_with_blocked(tmp_path: Path, blocked: str, ci: str) -> subprocess.CompletedProcess:
    """Run a tiny test module under pytest with `blocked` made unimportable."""
    (tmp_path / "sitecustomize.py").write_text(f"import sys\nsys.modules[{blocked!r}] = None\n")
    env = dict(os.environ, CI=ci,
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(TEST_DIR / "core" / "test_windows.py")],
        capture_output=True, text=True, timeout=120, env=env, cwd=TEST_DIR.parent)


def test_missing_tensorflow_fails_the_run_in_ci(tmp_path):
    """The message names tensorflow whatever else is missing on this machine (a ROS install
    without ray lists both)."""
    out = _pytest_with_blocked(tmp_path, "tensorflow", ci="true")
    assert out.returncode != 0
    named = re.search(r"CI=true but (.+) cannot be imported", out.stdout + out.stderr)
    assert named is not None, out.stdout + out.stderr
    assert "tensorflow" in named.group(1).split(", ")


def test_outside_ci_the_same_run_passes(tmp_path):
    out = _pytest_with_blocked(tmp_path, "tensorflow", ci="")
    assert out.returncode == 0, out.stdout + out.stderr
