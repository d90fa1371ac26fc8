"""`dodge-lstm sim`: the graph of `sim.launch.py` without the launch system.

Its flags mean what the launch files' arguments mean: both become a `SimOptions`, and
`graph_nodes` turns that into the nodes (`test/ros/test_one_source.py` holds them together,
argument by argument).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from dodge_lstm.cli_args import existing_file, positive_float, positive_int
from dodge_lstm.cli_outcomes import add_outcome_args, ball_log_for, finish_outcomes
from dodge_lstm.cli_sensing import add_sensing_args, sensing_knobs
from dodge_lstm.cli_spawn import add_spawn_args, scenario_from_args
from dodge_lstm.core.config import SpawnConfig

if TYPE_CHECKING:
    from dodge_lstm.ros.bringup.options import SimOptions


def sim_options(args: argparse.Namespace) -> SimOptions:
    """The `SimOptions` of parsed `sim` flags; the spawner gets only what the scenario and its
    overrides change, so a parameters file's own spawner settings stand otherwise."""
    from dodge_lstm.ros.bringup.options import SimOptions

    spawn = scenario_from_args(args).single
    default = SpawnConfig()
    return SimOptions(duration=args.duration, policy=args.policy, timesteps=args.timesteps,
                      units=args.units, model=args.model or "",
                      spawn={f.name: getattr(spawn, f.name) for f in dataclasses.fields(spawn)
                             if getattr(spawn, f.name) != getattr(default, f.name)},
                      record=args.record,
                      params_file=str(args.params_file) if args.params_file else "",
                      real_time_factor=args.real_time_factor, seed=args.seed,
                      markers=args.markers, sim=args.sim, spawner=args.spawner,
                      processes=args.processes, lockstep=args.lockstep, balls=args.balls,
                      stamped=args.stamped, label=args.label or "", executor=args.executor,
                      sensing=args.sensing, sensing_knobs=sensing_knobs(args),
                      tracker=args.tracker or "", progress=True)


def cmd_sim(args: argparse.Namespace) -> int:
    """Run the graph and print its summary; exit 1 if the policy did not end active or said it
    was not answering (every window rejected)."""
    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.report import format_summary, summary_json

    log = ball_log_for(args)
    summary = run_sim(sim_options(args), ball_log=log)
    compared = finish_outcomes(args, log.records(args.balls)) if log is not None else None
    summary |= compared or {}
    print(summary_json(summary) if args.json else format_summary(summary))
    ok = summary.get("policy_state") in ("active", "unmanaged") and "policy_error" not in summary
    return 0 if ok and (compared is None or compared["outcomes_match"]) else 1


def add_sim_command(sub: argparse._SubParsersAction) -> None:
    """The `sim` sub-command's flags (each launch argument has one; see the module doc)."""
    from dodge_lstm.ros.bringup.options import EXECUTORS, POLICIES, SIMULATORS, SPAWNERS

    p = sub.add_parser("sim", help="the sim.launch.py graph in one process, without launch")
    p.add_argument("--duration", type=positive_float, default=30.0,
                   help="simulated seconds to run (default 30)")
    p.add_argument("--policy", choices=POLICIES, default="lstm",
                   help="who drives: the TFLite LSTM (lifecycle node), the expert, or nobody "
                        "here (teleop: drive with teleop_twist_keyboard)")
    p.add_argument("--timesteps", type=positive_int, default=None,
                   help="with --units: run the grid model models/lstm_t<N>_u<U>.tflite (the "
                        "other defaults to 5 or 15); neither: the default model, "
                        "models/default.tflite")
    p.add_argument("--units", type=positive_int, default=None, help="LSTM units (see above)")
    p.add_argument("--model", default=None,
                   help="a .tflite path (default: see --timesteps)")
    p.add_argument("--record", nargs="?", const="", default=None, metavar="DIR",
                   help="record a rosbag2 (MCAP) bag into DIR (without DIR: "
                        "./dodge_bag_<timestamp>)")
    p.add_argument("--params-file", type=existing_file, default=None,
                   help="parameters YAML (default: the package's params/dodge_lstm.yaml)")
    p.add_argument("--real-time-factor", type=positive_float, default=None,
                   help="simulated seconds per wall second (default: the parameters file's, 1)")
    p.add_argument("--seed", type=int, default=None,
                   help="ball spawner seed (default: the parameters file's, 0)")
    p.add_argument("--sim", choices=SIMULATORS, default="embedded",
                   help="simulator backend: embedded (the kinematic arena, default) or mujoco "
                        "(MuJoCo physics, same topics; gazebo is not available yet)")
    p.add_argument("--no-markers", dest="markers", action="store_false",
                   help="do not run dodge_markers (the game drawn on /markers)")
    p.add_argument("--processes", action="store_true",
                   help="one process per node, as `ros2 launch` runs them (default: one process)")
    p.add_argument("--lockstep", action="store_true",
                   help="the simulator steps when the driver has answered: as fast as the graph "
                        "can go, independent of machine load (--real-time-factor is ignored)")
    p.add_argument("--spawner", choices=SPAWNERS, default=None,
                   help="who throws the balls: node (ball_spawner) or sim (the simulator, with "
                        "the arena's own draws: with --lockstep the exact twin of `eval "
                        "--arenas 1`); default: sim with --lockstep, node otherwise")
    p.add_argument("--balls", type=positive_int, default=None,
                   help="stop after exactly N resolved balls instead of after --duration")
    p.add_argument("--stamped", action="store_true",
                   help="cmd_vel as geometry_msgs/TwistStamped (nav2's default) instead of Twist")
    p.add_argument("--label", choices=("expert",), default=None,
                   help="with --policy lstm: a shadow expert answers every tick on "
                        "expert/cmd_vel (TwistStamped, stamped with the odom it answers) while "
                        "the LSTM drives; recorded with --record, for `dataset --label-topic "
                        "expert/cmd_vel` (DAgger through ROS)")
    p.add_argument("--executor", choices=EXECUTORS, default="events",
                   help="what spins the nodes of this process: events (rclpy's EventsExecutor, "
                        "default) or single (SingleThreadedExecutor: slower, the fallback)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_outcome_args(p)
    add_sensing_args(p)  # a detector and a tracker between the world and the policy
    add_spawn_args(p)  # the spawner's settings: a one-setting scenario and its overrides
    p.set_defaults(func=cmd_sim)
