"""`package.xml` is a well-formed format-3 manifest that colcon builds as `ament_python`.

The plausible bug (it happened): a `--` inside an XML comment makes the manifest invalid XML;
colcon then silently falls back to building a plain Python package, `colcon build` and `colcon
test` stay green, but the install has no ament index entry, so `ros2 launch dodge_lstm ...` and
`ros2 run` cannot find the package. Only the launch system showed it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_manifest_parses_as_format_3_ament_python():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "dodge_lstm"
    assert root.findtext("export/build_type") == "ament_python"
    assert {e.text for e in root.iter("exec_depend")} >= {"rclpy", "python3-numpy"}


def test_colcon_identifies_an_ament_python_package():
    colcon = shutil.which("colcon", path=str(Path(sys.executable).parent)) or \
        shutil.which("colcon")
    if colcon is None:
        pytest.skip("colcon is not installed (pip install -r requirements-dev.txt)")
    out = subprocess.run([colcon, "list", "--base-paths", str(REPO)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert "dodge_lstm" in out and "(ros.ament_python)" in out, out
