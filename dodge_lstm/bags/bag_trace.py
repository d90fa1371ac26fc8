"""A recorded bag as an `EpisodeTrace`, so `dodge-lstm render --bag` draws it like an arena run.

Robot poses from `odom` (one frame per control period, decimated like the feature rows), balls
from `balls/odom` tracked by the feature node's own `BallTracker` (propagated to the robot's
stamp), hits from `balls/outcome`, and the command in force from `cmd_vel` (by receive time, as
bag import aligns labels). A ball keeps its drawing slot from first sight until it is resolved.
Its threat colour is the arena's spawn label: would it hit a robot standing still from where it
was first seen; the outcome's own `threat` flag, when recorded, wins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dodge_lstm.bags.bag_replay import BALL, OUTCOME, ROBOT, replay_bag
from dodge_lstm.core.collision import line_miss_distance
from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.episode_trace import EpisodeTrace
from dodge_lstm.core.feature_rows import BallTracker
from dodge_lstm.core.odometry import robot_state, stamp_ns


def trace_from_bag(path: Path | str, namespace: str = "", cfg: ArenaConfig | None = None,
                   ball_timeout: float = 0.25, skip_first: bool = False) -> EpisodeTrace:
    """The bag's episode; `skip_first` drops the first robot state (a bag that starts with
    the simulator's initial pose holds one frame more than an arena trace of the same run)."""
    cfg = cfg or ArenaConfig()
    replay = replay_bag(path, namespace)
    tracker = BallTracker(ball_timeout)
    period_ns = round(cfg.dt * 1e9)
    slot_of: dict[str, int] = {}
    threat_of: dict[str, bool] = {}
    outcome_of: dict[str, dict] = {}
    frames: list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], int]] = []
    last_ns: int | None = None
    for event in replay.events:
        if event.kind == OUTCOME:
            name = event.payload["ball"]
            tracker.remove(name)
            if event.payload["outcome"] in ("hit", "passed"):
                outcome_of[name] = event.payload | {"frame": len(frames)}
        elif event.kind == BALL:
            tracker.update(event.payload)
        elif event.kind == ROBOT:
            now = stamp_ns(event.payload)
            if last_ns is not None and now - last_ns < 0.9 * period_ns:
                continue
            last_ns = now
            pos, yaw, _ = robot_state(event.payload)
            balls = {}
            for name, _id, p, v in tracker.states(now):
                if name not in threat_of:
                    threat_of[name] = bool(line_miss_distance(p - pos, v) < cfg.contact_distance)
                balls[name] = p
            frames.append((pos, np.array([np.cos(yaw), np.sin(yaw)]), balls, event.recv_ns))
    if skip_first:
        frames = frames[1:]
        for out in outcome_of.values():
            out["frame"] -= 1
    commands = replay.commands_in_force(np.array([f[3] for f in frames], dtype=np.int64))

    # Slots: first free at first sight, freed when the ball leaves the frames.
    free: list[int] = []
    used = 0
    alive: set[str] = set()
    per_frame_slots = []
    for _pos, _head, balls, _recv in frames:
        for name in sorted(alive - balls.keys(), key=lambda n: slot_of[n]):
            alive.discard(name)
            free.append(slot_of[name])
        free.sort()
        for name in balls:
            if name not in alive:
                if free:
                    slot_of[name] = free.pop(0)
                else:
                    slot_of[name], used = used, used + 1
                alive.add(name)
        per_frame_slots.append(dict(balls))
    k = max(used, 1)
    for name, out in outcome_of.items():
        threat_of[name] = bool(out.get("threat", threat_of.get(name, False)))

    tr = EpisodeTrace(dt=cfg.dt)
    hits = resolved = 0
    by_frame: dict[int, list[dict]] = {}
    for name, out in outcome_of.items():
        # An outcome stamped with a tick's time sorts before that tick's odom: it belongs to
        # the frame that odom starts (the state right after the step that resolved the ball).
        by_frame.setdefault(max(out["frame"], 0), []).append(out | {"ball": name})
    for i, ((pos, head, _balls, _recv), balls) in enumerate(zip(frames, per_frame_slots)):
        drawn = np.full((k, 2), np.nan)
        threat = np.zeros(k, dtype=bool)
        for name, p in balls.items():
            drawn[slot_of[name]] = p
            threat[slot_of[name]] = threat_of.get(name, False)
        for out in by_frame.get(i, []):
            resolved += 1
            if out["outcome"] == "hit":
                hits += 1
                tr.hits.append((i, pos.copy()))
        tr.robot.append(pos)
        tr.heading.append(head)
        tr.balls.append(drawn)
        tr.threat.append(threat)
        tr.resolved.append((i, hits, resolved))
        tr.commands.append(float(commands[i]))
    if not tr.robot:
        raise ValueError(f"bag {path}: no robot states to draw")
    return tr
