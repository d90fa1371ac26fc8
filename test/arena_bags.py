"""Bags of an arena episode, written without rclpy: what the simulator would have published.

Messages are the rosbags Kilted dataclasses serialized to CDR by rosbags, written by our
rosbags-based writer (MCAP or sqlite3), or by the independent `mcap` library as a bare .mcap
file with embedded ros2msg schemas, as `ros2 bag record` writes them. Receive stamps follow the
graph's order per tick: balls, then the robot's odom, then the command answering it, then the
outcomes of the step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ODOM, TWIST, STRING = "nav_msgs/msg/Odometry", "geometry_msgs/msg/Twist", "std_msgs/msg/String"


@dataclass
class ArenaEpisode:
    """What was written, for comparison: rows per state and the command of each step."""

    rows: list[np.ndarray] = field(default_factory=list)
    commands: list[float] = field(default_factory=list)
    messages: list[tuple[str, str, bytes, int]] = field(default_factory=list)
    """(topic, type, CDR bytes, receive stamp [ns]) in writing order."""


def record_arena(ticks: int = 30, seed: int = 3,
                 command: Callable[[int], float] = lambda k: 0.0) -> ArenaEpisode:
    """Run one arena `ticks` steps with `command(k)` and serialize every state s_0..s_ticks."""
    from rosbags.typesys.stores import ros2_kilted as t

    from dodge_lstm.bags.rosbag_io import typestore
    from dodge_lstm.core.arena import Arena
    from dodge_lstm.core.features import ball_features
    from dodge_lstm.core.outcomes import encode_outcome

    store = typestore()
    cov = np.zeros(36)
    zero = t.geometry_msgs__msg__Vector3(x=0.0, y=0.0, z=0.0)

    def odometry(t_ns: int, child: str, x: float, y: float, vx: float, vy: float,
                 yaw: float = 0.0) -> bytes:
        sec, nanosec = divmod(t_ns, 1_000_000_000)
        msg = t.nav_msgs__msg__Odometry(
            header=t.std_msgs__msg__Header(stamp=t.builtin_interfaces__msg__Time(
                sec=sec, nanosec=nanosec), frame_id="odom"),
            child_frame_id=child,
            pose=t.geometry_msgs__msg__PoseWithCovariance(
                pose=t.geometry_msgs__msg__Pose(
                    position=t.geometry_msgs__msg__Point(x=x, y=y, z=0.0),
                    orientation=t.geometry_msgs__msg__Quaternion(
                        x=0.0, y=0.0, z=float(np.sin(yaw / 2)), w=float(np.cos(yaw / 2)))),
                covariance=cov),
            twist=t.geometry_msgs__msg__TwistWithCovariance(
                twist=t.geometry_msgs__msg__Twist(
                    linear=t.geometry_msgs__msg__Vector3(x=vx, y=vy, z=0.0), angular=zero),
                covariance=cov))
        return bytes(store.serialize_cdr(msg, ODOM))

    arena = Arena(1, seed=seed)
    ep = ArenaEpisode()
    recv = 1_000_000_000
    for k in range(ticks + 1):
        stamp = round(arena.time * 1e9)
        r, _ = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel, arena.ball_pos,
                             arena.ball_vel, arena.alive, arena.ball_id)
        ep.rows.append(r[0])
        for slot in np.flatnonzero(arena.alive[0]):
            recv += 1000
            ep.messages.append(("/balls/odom", ODOM, odometry(
                stamp, f"ball_{arena.ball_id[0, slot]}", *map(float, arena.ball_pos[0, slot]),
                *map(float, arena.ball_vel[0, slot])), recv))
        recv += 1000
        ep.messages.append(("/odom", ODOM, odometry(
            stamp, "base_link", *map(float, arena.robot_pos[0]), float(arena.robot_speed[0]),
            0.0, float(arena.robot_yaw[0])), recv))
        if k == ticks:
            break
        cmd = float(command(k))
        ep.commands.append(cmd)
        recv += 1000
        ep.messages.append(("/cmd_vel", TWIST, bytes(store.serialize_cdr(
            t.geometry_msgs__msg__Twist(
                linear=t.geometry_msgs__msg__Vector3(x=cmd, y=0.0, z=0.0), angular=zero),
            TWIST)), recv))
        out = arena.step(cmd)
        for ball_id, hit, threat in zip(out.ball_id, out.hit, out.threat):
            recv += 1000
            text = encode_outcome(f"ball_{ball_id}", "hit" if hit else "passed", bool(threat),
                                  arena.time)
            ep.messages.append(("/balls/outcome", STRING, bytes(store.serialize_cdr(
                t.std_msgs__msg__String(data=text), STRING)), recv))
        recv += 100_000_000 - 5000
    return ep


def write_rosbags(ep: ArenaEpisode, path: Path, storage: str = "mcap",
                  topics: tuple[str, ...] | None = None) -> Path:
    """The episode as a rosbag2 bag directory through our rosbags writer."""
    from dodge_lstm.bags.rosbag_io import open_writer

    with open_writer(path, storage=storage) as bag:
        for topic, msgtype, data, recv in ep.messages:
            if topics is not None and topic not in topics:
                continue
            bag.add_topic(topic, msgtype)
            bag.write(topic, data, recv)
    return path


def write_bare_mcap(ep: ArenaEpisode, path: Path) -> Path:
    """The episode as one .mcap file written by the `mcap` library (no metadata.yaml)."""
    from mcap.writer import Writer

    from dodge_lstm.bags.rosbag_io import typestore

    store = typestore()
    with path.open("wb") as fh:
        writer = Writer(fh)
        writer.start(profile="ros2", library="arena_bags")
        channels: dict[str, int] = {}
        for topic, msgtype, data, recv in ep.messages:
            if topic not in channels:
                schema = writer.register_schema(
                    name=msgtype, encoding="ros2msg",
                    data=store.generate_msgdef(msgtype)[0].encode())
                channels[topic] = writer.register_channel(
                    topic=topic, message_encoding="cdr", schema_id=schema)
            writer.add_message(channel_id=channels[topic], log_time=recv, data=data,
                               publish_time=recv)
        writer.finish()
    return path
