"""Session setup shared by all tests: markers, DDS isolation and a per-test rclpy context.

DDS isolation: every pytest process claims a ROS domain of its own and limits discovery to this
host before any test can call ``rclpy.init`` (``pytest_configure`` runs before collection), so
parallel runs on one machine, or a robot on the LAN, never see each other's topics. Subprocesses
a test starts inherit the environment, hence the domain, on purpose.
"""

from __future__ import annotations

import fcntl
import gc
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

TEST_DIR = Path(__file__).resolve().parent
REPO_ROOT = TEST_DIR.parent

# Fast DDS maps domain d to UDP ports 7400 + 250 d + small offsets; staying at or below 101 keeps
# them under the Linux ephemeral range (32768+). Domain 0, the default, is left to real robots.
DOMAIN_IDS = range(1, 101)

_domain_lock: IO[str] | None = None  # held open for the life of the process


def _claim_domain_id() -> int:
    """Pick a domain no other test process on this host holds: pid-derived start, then flock."""
    global _domain_lock
    lock_dir = Path(tempfile.gettempdir()) / "dodge_lstm_ros_domains"
    lock_dir.mkdir(exist_ok=True)
    start = os.getpid() % len(DOMAIN_IDS)
    for i in range(len(DOMAIN_IDS)):
        domain = DOMAIN_IDS[(start + i) % len(DOMAIN_IDS)]
        handle = (lock_dir / f"{domain}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _domain_lock = handle  # the lock goes away with the process, however it ends
        return domain
    return DOMAIN_IDS[start]  # 100 concurrent runs: fall back to the pid-derived guess


def isolate_dds() -> int:
    """Give this process its own ROS domain, discovered on localhost only; return the domain."""
    domain = _claim_domain_id()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_STATIC_PEERS"] = ""
    os.environ.pop("ROS_LOCALHOST_ONLY", None)  # deprecated; would conflict with the range
    return domain


# In CI these must be importable: a skip there would hide a broken install behind a green run.
REQUIRED_IN_CI = ("rclpy", "rmw_fastrtps_cpp", "tensorflow", "ai_edge_litert", "rosbags",
                  "gymnasium", "ray", "mujoco", "scipy")


def require_in_ci(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """Packages of `REQUIRED_IN_CI` that cannot be found while `CI=true` (else nothing)."""
    import importlib.util

    if environ.get("CI", "").lower() != "true":
        return []
    def missing(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is None
        except (ImportError, ValueError):  # e.g. sys.modules[name] = None: blocked
            return True

    return [name for name in REQUIRED_IN_CI if missing(name)]


def pytest_configure(config: pytest.Config) -> None:
    """Register markers and isolate DDS before any test module imports rclpy; in CI, refuse
    to run (instead of skipping half the suite) when the ROS or TensorFlow stack is missing."""
    missing = require_in_ci()
    if missing:
        raise pytest.UsageError(
            f"CI=true but {', '.join(missing)} cannot be imported: the ROS/TensorFlow tests "
            f"would be skipped, not run. Install requirements*.txt (make test does).")
    config.addinivalue_line("markers", "ros: uses rclpy and DDS (isolated per test process)")
    config.addinivalue_line("markers", "tensorflow: needs TensorFlow (training or conversion)")
    # Importable without an install (plain `pytest`), and test helpers under any import mode.
    for path in (str(REPO_ROOT), str(TEST_DIR), str(TEST_DIR / "ros")):
        if path not in sys.path:
            sys.path.insert(0, path)
    if _domain_lock is None:  # once per process, whatever ROS_DOMAIN_ID the shell had
        isolate_dds()


def pytest_report_header(config: pytest.Config) -> str:
    """Show which domain this run uses, for reading DDS logs of a failed run."""
    return (
        f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID')} "
        f"ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE')}"
    )


@pytest.fixture
def ros_context() -> Iterator[Any]:
    """An initialised ``rclpy.context.Context`` of the test's own, shut down afterwards.

    A non-default context gets no rclpy signal handlers, so Ctrl-C still reaches pytest.
    """
    rclpy = pytest.importorskip("rclpy")
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)
        # rclpy nodes (lifecycle ones especially) sit in reference cycles: until they are
        # collected, their endpoints stay on the ROS graph, and the next test's client may
        # find a dead `dodge_policy` service before the live one (ros2/rclpy#1710).
        gc.collect()
