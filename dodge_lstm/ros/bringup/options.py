"""What a run of the graph chooses: `dodge-lstm sim`'s flags and the launch files' arguments
both become a `SimOptions` (`cli.sim_options`, `launch_arguments.options_from_launch`), and
`graph_nodes` turns it into what every node is started with.

`SimOptions` is plain data; `check_options` refuses what cannot run, and `checked_params_path`
is the one place that looks at the disk (does the parameters file exist), called explicitly when
the run starts.
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
    """`lstm` (the lifecycle TFLite node), `expert`, or `teleop` (no driver node: a person
    drives with teleop_twist_keyboard)."""
    timesteps: int | None = None
    """With `units`, picks the grid model `lstm_t<N>_u<U>`; neither: the default model."""
    units: int | None = None
    model: str = ""
    """A .tflite path; overrides `timesteps`/`units` for the choice (they are still checked)."""
    record: str | None = None
    """Record a bag: into this directory, or (`""`) the recorder's default
    `./dodge_bag_<stamp>`; None records nothing."""
    params_file: str = ""
    real_time_factor: float | None = None
    """Simulated seconds per wall second; None: the parameters file's (`dodge_sim`)."""
    seed: int | None = None
    """The ball spawner's seed; None: the parameters file's."""
    markers: bool = True
    """Draw the game on `markers` (`dodge_markers`)."""
    sim: str = "embedded"
    """The simulator backend: `embedded` (the kinematic arena) or `mujoco` (`mujoco_sim`)."""
    spawner: str | None = None
    """Who throws the balls: `node` (the ball_spawner node, as a Gazebo world would be served)
    or `sim` (the simulator, with the arena's own draws: the exact twin of `dodge-lstm eval
    --arenas 1`); None: `sim` in lockstep, `node` otherwise."""
    processes: bool = False
    lockstep: bool = False
    """The simulator steps when the driver has answered (as fast as the graph can go)."""
    balls: int | None = None
    """Stop after exactly this many resolved balls instead of after `duration`."""
    stamped: bool = False
    """`cmd_vel` as geometry_msgs/TwistStamped instead of Twist (driver and simulator)."""
    executor: str = "events"
    """What spins the bringup's nodes (all of the graph, in-process): `events` (rclpy's
    EventsExecutor, dispatching from C++) or `single` (the SingleThreadedExecutor, rebuilding
    its wait set in Python before each wait: ~4x slower in lockstep, kept as a fallback for the
    experimental one and as the bench's baseline)."""
    progress: bool = False
    """A progress line on stderr (sim time, balls, threat dodge rate so far)."""
    spawn: dict[str, Any] = field(default_factory=dict)
    """Spawner parameter overrides (a scenario's `SpawnConfig` fields), e.g. `speed_min`."""
    label: str = ""
    """`expert`: a shadow expert answers every tick on `expert/cmd_vel` (TwistStamped, stamped
    with the odom it answers) while the LSTM drives: DAgger labels, recorded with `record`."""
    sensing: str = "truth"
    """What the policy sees of the balls: `truth` (the simulator's balls/odom) or a preset of
    `core.sensing.PRESETS` (`realistic`): then `ball_detector` turns balls/odom into
    balls/detections and the feature node tracks those."""
    sensing_knobs: dict[str, float] = field(default_factory=dict)
    """`SensorConfig` fields overriding the preset's (`--noise-std`, ...)."""
    tracker: str = ""
    """The feature node's tracker for a model trained on ground truth (`kf`, `cv` or `raw`;
    empty: the parameters file's); a model trained on detections brings its own."""

    @property
    def senses(self) -> bool:
        """A detector and a tracker stand between the world and the policy."""
        return self.sensing != "truth" or bool(self.sensing_knobs)

    @property
    def params_path(self) -> Path:
        """The parameters file in use (the package's own unless one was given)."""
        return Path(self.params_file) if self.params_file else default_params_file()

    @property
    def model_path(self) -> Path:
        """The model the policy node will load (`resources.resolve_model`)."""
        return resolve_model(self.model, self.timesteps, self.units, detections=self.senses)

    @property
    def spawner_mode(self) -> str:
        """`spawner`, or its default for the run (see there)."""
        return self.spawner or ("sim" if self.lockstep else "node")

    @property
    def policy_label(self) -> str:
        """Who drives, as the summary names it: `lstm:<model file>`, `expert` or `teleop`."""
        return f"lstm:{self.model_path.name}" if self.policy == "lstm" else self.policy

    def rtf(self) -> float:
        """The real-time factor the simulator runs at (the parameters file's if not set)."""
        if self.real_time_factor is not None:
            return float(self.real_time_factor)
        from dodge_lstm.ros.params_file import node_parameters

        return float(node_parameters(self.params_path, "dodge_sim").get("real_time_factor",
                                                                        1.0))


POLICIES = ("lstm", "expert", "teleop")
SIMULATORS = ("embedded", "mujoco", "gazebo")
"""Accepted backends; `check_options` says which of them run."""
SIM_EXECUTABLES = {"embedded": "dodge_sim", "mujoco": "mujoco_sim"}
"""The simulator node's executable per backend; either runs under the node name `dodge_sim`
(one parameters section, one interface)."""
SPAWNERS = ("node", "sim")
EXECUTORS = ("events", "single")


LABEL_TOPIC = "expert/cmd_vel"
"""Where the shadow expert answers (relative: follows the graph's namespace)."""

SHADOW_NODE = "expert_shadow"
"""The shadow expert's node name: `expert_driver`'s code, renamed so both can run."""

def check_options(opts: SimOptions) -> None:
    """ValueError, saying what to do, unless the graph can run as chosen (every entry point
    refuses the same things with the same words)."""
    if opts.policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {opts.policy!r}")
    if opts.sim not in SIMULATORS:
        raise ValueError(f"sim must be one of {', '.join(SIMULATORS)}, got {opts.sim!r}")
    if opts.spawner not in (None, *SPAWNERS):
        raise ValueError(f"spawner must be one of {', '.join(SPAWNERS)}, got {opts.spawner!r}")
    if opts.executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, "
                         f"got {opts.executor!r}")
    if opts.sim == "gazebo":
        raise ValueError("sim gazebo is not available yet; use the embedded simulator or "
                         "MuJoCo (sim:=embedded|mujoco, --sim embedded|mujoco)")
    if opts.policy == "teleop" and opts.lockstep:
        raise ValueError("lockstep needs a driver that answers every tick; a person at a "
                         "keyboard does not (use policy lstm or expert)")
    check_label(opts)
    check_sensing(opts)


def check_sensing(opts: SimOptions) -> None:
    """ValueError unless the sensing choice is one the graph can build."""
    from dodge_lstm.core.sensing import PRESETS, sensor_config

    if opts.sensing not in PRESETS:
        raise ValueError(f"sensing must be one of {', '.join(PRESETS)}, got {opts.sensing!r}")
    sensor_config(opts.sensing, **opts.sensing_knobs)  # a bad knob: its own one-line error
    if opts.senses and opts.policy == "teleop":
        raise ValueError(f"sensing {opts.sensing} needs policy lstm (the feature node tracks "
                         f"the detections) or expert (it drives on ground truth while the "
                         f"detector reports: the privileged teacher's demonstrations)")


def check_label(opts: SimOptions) -> None:
    """ValueError unless the label choice makes sense: labels are for a learner that drives."""
    if opts.label not in ("", "expert"):
        raise ValueError(f"label must be expert (or empty), got {opts.label!r}")
    if opts.label and opts.policy != "lstm":
        raise ValueError(f"label {opts.label} needs policy lstm (label:=expert with "
                         f"policy:=lstm; --label expert with --policy lstm): the shadow expert "
                         f"labels what the learner does (with policy {opts.policy} the "
                         f"driver's own cmd_vel already is the label)")


DETECTIONS_TOPIC = "balls/detections"
"""Where `ball_detector` reports (relative)."""


def recorder_topics(opts: SimOptions) -> list[str] | None:
    """The recorder's `topics` for a label or sensing run: the parameters file's list (or the
    node's default) plus the label topic and/or the detections; None otherwise (the file's list
    stands). Neither is in the default list, since graphs without a shadow or a detector would
    warn it was never found."""
    extra = ([LABEL_TOPIC] if opts.label else []) + ([DETECTIONS_TOPIC] if opts.senses else [])
    if not extra:
        return None
    from dodge_lstm.ros.nodes.recorder_node import DEFAULT_TOPICS
    from dodge_lstm.ros.params_file import node_parameters

    topics = list(node_parameters(opts.params_path, "dodge_recorder").get(
        "topics", DEFAULT_TOPICS))
    return topics + [t for t in extra if t not in topics]


def checked_params_path(opts: SimOptions) -> Path:
    """The parameters file every node reads first; raises FileNotFoundError before anything
    starts if it is missing."""
    params = opts.params_path
    if not params.is_file():
        raise FileNotFoundError(f"parameters file {params} not found")
    return params
