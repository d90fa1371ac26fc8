"""`dodge-lstm render`: an animated GIF of one arena episode or a recorded bag, or (`--still`) a
PNG of a bag's markers topic."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dodge_lstm.cli_args import non_negative_float, output_file, positive_float
from dodge_lstm.cli_backend import add_backend_arg, factory_from_args
from dodge_lstm.cli_sensing import add_sensing_args, sensing_from_args
from dodge_lstm.cli_spawn import add_spawn_args, spawn_config_from_args

if TYPE_CHECKING:
    from dodge_lstm.core.episode_trace import EpisodeTrace


def add_render_command(sub: argparse._SubParsersAction) -> None:
    """The `render` sub-command's flags."""
    p = sub.add_parser("render", help="animated GIF of one arena episode or a recorded bag")
    p.add_argument("--policy", default="expert",
                   help="expert | stationary | random | PATH.tflite | MODULE:CALLABLE "
                        "(default expert)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--seconds", type=positive_float, default=15.0,
                   help="episode length (default 15)")
    p.add_argument("--bag", type=Path, default=None,
                   help="draw this rosbag2 bag (directory, .mcap or .db3) instead of an arena "
                        "episode: odom, balls/odom, balls/outcome and cmd_vel")
    p.add_argument("--namespace", default="", help="namespace of the recorded topics (--bag)")
    p.add_argument("--still", type=non_negative_float, default=None, metavar="SECONDS",
                   help="with --bag: write a PNG of the markers topic (what rviz shows, seen "
                        "from above) at this bag time (seconds from the bag's first message) "
                        "instead of a GIF")
    p.add_argument("--out", type=output_file, required=True,
                   help="output .gif (.mp4 where ffmpeg is installed; .png with --still)")
    add_spawn_args(p)
    add_backend_arg(p)
    add_sensing_args(p)  # the policy drives on detections; the GIF draws them and the tracks
    p.add_argument("--view", choices=("top", "camera"), default="top",
                   help="top: the 2-D picture from above with trails and a command strip "
                        "(default); camera: with --backend mujoco, MuJoCo's own 3-D rendering "
                        "from a camera following the robot (headless: MUJOCO_GL=egl)")
    p.set_defaults(func=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    if args.still is not None:
        return render_still(args)
    if args.view == "camera" and args.backend != "mujoco":
        raise ValueError("--view camera renders MuJoCo's scene: add --backend mujoco")
    if args.bag is not None and not sensing_from_args(args)[0].is_truth:
        raise ValueError("--sensing applies to simulated episodes; a bag holds what was "
                         "recorded")
    if args.bag is not None and args.backend != "arena":
        raise ValueError("--backend applies to simulated episodes; a bag holds what was "
                         "recorded")
    if args.view == "camera":
        return render_camera(args)
    from dodge_lstm.viz.episode_gif import render_gif

    if args.bag is not None:
        from dodge_lstm.bags.bag_trace import trace_from_bag

        trace = trace_from_bag(args.bag, namespace=args.namespace)
        title = args.bag.name
    else:
        trace, title = simulated_episode(args)
    out = render_gif(trace, args.out, title=title)
    _, hits, balls = trace.resolved[-1]
    print(f"wrote {out}: {len(trace)} frames, {balls} balls, {hits} hits in "
          f"{len(trace) * trace.dt:.1f} s")
    return 0


def simulated_episode(args: argparse.Namespace, observe: Callable[[Any], None] | None = None
                      ) -> tuple[EpisodeTrace, str]:
    """The episode the flags describe (policy, seed, spawner, simulator, sensing), and its
    title; `observe` sees the world after every step."""
    from dodge_lstm.core.episode_trace import trace_episode
    from dodge_lstm.runtime.learned_policy import make_policy

    policy = make_policy(args.policy, seed=args.seed)
    sensing, tracker = sensing_from_args(args)
    trace = trace_episode(policy, args.seconds, args.seed, spawn_cfg=spawn_config_from_args(args),
                          make_arena=factory_from_args(args), observe=observe, sensing=sensing,
                          tracker=tracker)
    return trace, policy.name if sensing.is_truth else f"{policy.name}, {args.sensing}"


def render_camera(args: argparse.Namespace) -> int:
    """`render --backend mujoco --view camera`: MuJoCo's rendering of one episode, as a GIF."""
    import os

    if args.out.suffix.lower() != ".gif":
        raise ValueError(f"--view camera writes a GIF: --out must end in .gif, got {args.out}")
    if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"  # headless: before MuJoCo is first imported
    from dodge_lstm.physics.mujoco_view import EpisodeCamera
    from dodge_lstm.viz.episode_gif import write_frames_gif

    cameras: list[EpisodeCamera] = []

    def observe(arena) -> None:
        if not cameras:
            cameras.append(EpisodeCamera(arena))
        cameras[0](arena)

    trace, _ = simulated_episode(args, observe)
    cameras[0].close()
    out = write_frames_gif(cameras[0].frames, args.out)
    _, hits, balls = trace.resolved[-1]
    print(f"wrote {out}: {len(cameras[0].frames)} frames (MuJoCo camera), {balls} balls, "
          f"{hits} hits in {len(trace) * trace.dt:.1f} s")
    return 0


def render_still(args: argparse.Namespace) -> int:
    """`render --bag B --still T --out X.png`: the bag's `markers` topic at T s."""
    if args.bag is None:
        raise ValueError("--still needs --bag: it draws the markers topic of a recorded bag")
    if args.out.suffix.lower() != ".png":
        raise ValueError(f"--still writes a PNG: --out must end in .png, got {args.out}")
    from dodge_lstm.bags.bag_markers import markers_at
    from dodge_lstm.viz.marker_still import render_marker_still

    snap = markers_at(args.bag, args.still, namespace=args.namespace)
    if not snap.markers:
        raise ValueError(f"bag {args.bag}: no markers are shown {args.still:g} s after its "
                         f"first message ({snap.arrays} {snap.topic} messages before then)")
    out = render_marker_still(snap.markers, args.out, args.still,
                              title=f"{args.bag.name} {snap.topic}", stamp_s=snap.stamp_s)
    print(f"wrote {out}: {len(snap.markers)} markers of {snap.topic} at {args.still:g} s")
    return 0
