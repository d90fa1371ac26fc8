"""What `dodge-lstm sim` (and the launch file's arguments) choose.

`SimOptions` is plain data; `ros_args` is the one place that looks at the disk (does the
parameters file exist), called explicitly when the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dodge_lstm.resources import default_params_file


@dataclass
class SimOptions:
    """One `dodge-lstm sim` run, as the CLI flags (or a test) set it."""

    duration: float = 30.0
    policy: str = "lstm"
    timesteps: int = 5
    units: int = 15
    model: str = ""
    record: str = ""
    params_file: str = ""
    real_time_factor: float = 1.0
    seed: int = 0
    processes: bool = False
    lockstep: bool = False
    """The simulator steps when the driver has answered (as fast as the graph can go)."""
    balls: int | None = None
    """Stop after exactly this many resolved balls instead of after `duration`."""
    stamped: bool = False
    """`cmd_vel` as geometry_msgs/TwistStamped instead of Twist (driver and simulator)."""
    progress: bool = False
    """A progress line on stderr (sim time, balls, threat dodge rate so far)."""

    @property
    def params_path(self) -> Path:
        """The parameters file in use (the package's own unless one was given)."""
        return Path(self.params_file) if self.params_file else default_params_file()

    @property
    def policy_label(self) -> str:
        """Who drives, as the summary names it: `lstm:<model file>` or `expert`."""
        if self.policy != "lstm":
            return "expert"
        model = Path(self.model).name if self.model else \
            f"lstm_t{self.timesteps}_u{self.units}.tflite"
        return f"lstm:{model}"


def ros_args(opts: SimOptions) -> list[str]:
    """Context arguments: the parameters file, applied by node name (as `--params-file` in the
    launch file); raises FileNotFoundError before anything starts if it is missing."""
    params = opts.params_path
    if not params.is_file():
        raise FileNotFoundError(f"parameters file {params} not found")
    return ["--ros-args", "--params-file", str(params)]
