"""A Ray session for sweeps: a quiet local instance by default, or an existing cluster.

Sweeps schedule their trials with Ray so the same command runs on this machine or on many; only
where Ray runs changes, never the sweep. Ray is imported inside the functions: importing this
module (e.g. for the CLI's argument parsing) stays cheap and works without Ray installed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["RaySession", "is_client_address", "limit_threads", "ray_session"]

_THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def limit_threads(cpus: int) -> None:
    """Hold TF and OpenMP to a task's CPUs, so tasks side by side do not oversubscribe.

    Must run before TensorFlow is imported in the process: TF reads these variables when it
    creates its thread pools. Sweep trials and DAgger tasks each get a fresh worker process.
    """
    for var in _THREAD_VARS:
        os.environ[var] = str(cpus)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass(frozen=True)
class RaySession:
    """Where a sweep ran, for its report: the address asked for and what the cluster had."""

    address: str | None
    """None for a local instance started by `ray_session`, else the address connected to."""
    ray_version: str
    cluster_cpus: float
    """CPUs the whole cluster offered when the session started."""
    nodes: int
    client: bool
    """Connected through Ray Client (`ray://`): the sweep's driver code runs on the head."""


def is_client_address(address: str | None) -> bool:
    """`ray://...`: Ray Client, where the driver's Ray calls run on the cluster's head."""
    return address is not None and address.startswith("ray://")


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[RaySession]:
    """Start a local Ray (`address` None) or connect to a cluster; shut it down on exit.

    `address` is what `ray.init` takes: `auto` (a cluster started with `ray start` on this
    node), `HEAD:6379` (its GCS) or `ray://HEAD:10001` (Ray Client). `num_cpus` caps a local
    instance (default: every core) and is refused with `address`, because a running cluster's
    size is set by `ray start`. If Ray is already initialised in this process it is used as it
    is and left running, so a caller that manages Ray itself keeps control of it.
    """
    import ray

    if address is not None and num_cpus is not None:
        raise ValueError("num_cpus only sizes a local Ray instance; a cluster's CPUs are set "
                         "by `ray start --num-cpus` on each node")
    if num_cpus is not None and num_cpus < 1:
        raise ValueError(f"num_cpus must be >= 1, got {num_cpus}")
    owned = not ray.is_initialized()
    if owned:
        if address is None and "RAY_AUTH_MODE" not in os.environ:
            # A new local instance turns on token authentication (Ray's default) and says so
            # at WARNING on every start; that notice is all this hides.
            logging.getLogger("ray._private.authentication.authentication_token_setup"
                              ).setLevel(logging.ERROR)
        kwargs: dict[str, object] = {
            "logging_level": logging.WARNING,
            # Trial output goes to each trial's stdout/stderr files (RunConfig.log_to_file),
            # not interleaved on this console.
            "log_to_driver": False,
        }
        if address is None:
            # "local": always a new private instance, even where `ray start` left a cluster
            # running that a bare `ray.init()` would join.
            kwargs.update(address="local", num_cpus=num_cpus, include_dashboard=False)
        else:
            kwargs["address"] = address
        ray.init(**kwargs)  # type: ignore[arg-type]
    try:
        resources = ray.cluster_resources()
        yield RaySession(
            address=address,
            ray_version=ray.__version__,
            cluster_cpus=float(resources.get("CPU", 0.0)),
            nodes=sum(1 for n in ray.nodes() if n.get("Alive")),
            client=ray.util.client.ray.is_connected(),
        )
    finally:
        if owned:
            ray.shutdown()
