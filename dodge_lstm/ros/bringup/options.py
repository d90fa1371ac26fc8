"""What `dodge-lstm sim` (and the launch file's arguments) choose.

`SimOptions` is plain data; `ros_args` is the one place that looks at the disk (does the
parameters file exist), called explicitly when the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dodge_lstm.resources import default_params_file, resolve_model


@dataclass
class SimOptions:
    """One `dodge-lstm sim` run, as the CLI flags (or a test) set it."""

    duration: float = 30.0
    policy: str = "lstm"
    timesteps: int | None = None
    """With `units`, picks the grid model `lstm_t<N>_u<U>`; neither: the default model."""
    units: int | None = None
    model: str = ""
    """A .tflite path; overrides `timesteps`/`units` for the choice (they are still checked)."""
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
    spawn: dict[str, Any] = field(default_factory=dict)
    """Spawner parameter overrides (a scenario's `SpawnConfig` fields), e.g. `speed_min`."""
    label: str = ""
    """`expert`: a shadow expert answers every tick on `expert/cmd_vel` (TwistStamped, stamped
    with the odom it answers) while the LSTM drives: DAgger labels, recorded with `record`."""

    @property
    def params_path(self) -> Path:
        """The parameters file in use (the package's own unless one was given)."""
        return Path(self.params_file) if self.params_file else default_params_file()

    @property
    def model_path(self) -> Path:
        """The model the policy node will load (`resources.resolve_model`)."""
        return resolve_model(self.model, self.timesteps, self.units)

    @property
    def policy_label(self) -> str:
        """Who drives, as the summary names it: `lstm:<model file>` or `expert`."""
        return f"lstm:{self.model_path.name}" if self.policy == "lstm" else "expert"


@dataclass(frozen=True)
class ModelShape:
    """What the feature node must produce for the chosen model."""

    path: Path
    timesteps: int
    """Window length: `SimOptions.timesteps` if given (the policy node checks it against the
    model), else the model's own."""
    num_slots: int


def model_shape(opts: SimOptions) -> ModelShape:
    """Read the chosen model's metadata once at bringup, so the feature node cuts windows of
    the model's length and ball slots. A missing or unreadable model is left to the policy
    node's `configure`, which fails with a message saying what to do."""
    from dodge_lstm.runtime.model_metadata import metadata_path_for, read_metadata

    path = opts.model_path
    timesteps, slots = opts.timesteps, 2
    try:
        meta = read_metadata(metadata_path_for(path), model_path=path)
        timesteps = timesteps or int(meta["timesteps"])
        slots = int(meta["num_features"]) // 4
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ModelShape(path, timesteps or 5, slots)


LABEL_TOPIC = "expert/cmd_vel"
"""Where the shadow expert answers (relative: follows the graph's namespace)."""

SHADOW_NODE = "expert_shadow"
"""The shadow expert's node name: `expert_driver`'s code, renamed so both can run."""

SHADOW_REMAPS = ["-r", f"__node:={SHADOW_NODE}", "-r", f"cmd_vel:={LABEL_TOPIC}"]
"""`--ros-args` remappings that turn an `expert_driver` into the shadow."""


def check_label(opts: SimOptions) -> None:
    """ValueError unless the label choice makes sense: labels are for a learner that drives."""
    if opts.label not in ("", "expert"):
        raise ValueError(f"label must be expert (or empty), got {opts.label!r}")
    if opts.label and opts.policy != "lstm":
        raise ValueError(f"--label {opts.label} needs --policy lstm: the shadow expert labels "
                         f"what the learner does (with --policy {opts.policy} the driver's "
                         f"own cmd_vel already is the label)")


def recorder_topics(opts: SimOptions) -> list[str] | None:
    """The recorder's `topics` for a label run: the parameters file's list (or the node's
    default) plus the label topic; None otherwise (the file's list stands). The label topic is
    not in the default list, since graphs without a shadow would warn it was never found."""
    if not opts.label:
        return None
    from dodge_lstm.ros.nodes.recorder_node import DEFAULT_TOPICS
    from dodge_lstm.ros.params_file import node_parameters

    topics = list(node_parameters(opts.params_path, "dodge_recorder").get(
        "topics", DEFAULT_TOPICS))
    return topics if LABEL_TOPIC in topics else [*topics, LABEL_TOPIC]


def ros_args(opts: SimOptions) -> list[str]:
    """Context arguments: the parameters file, applied by node name (as `--params-file` in the
    launch file); raises FileNotFoundError before anything starts if it is missing."""
    params = opts.params_path
    if not params.is_file():
        raise FileNotFoundError(f"parameters file {params} not found")
    return ["--ros-args", "--params-file", str(params)]
