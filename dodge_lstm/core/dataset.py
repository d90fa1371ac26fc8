"""Raw recordings: expert-labelled rows from the arena, stored so any window length can be cut.

A recording keeps per-row features, the command in force, and the episode id (docs/DESIGN.md);
windows are cut later by `windows.make_windows` for whatever `timesteps` a model wants. Bags
recorded through ROS become the same structure (`bag_dataset`).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from dodge_lstm import __version__
from dodge_lstm.core.arena import Arena, ArenaFactory
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.evaluation import Policy
from dodge_lstm.core.expert import ExpertConfig, ExpertPolicy
from dodge_lstm.core.features import ball_features, feature_names, mirror_fore_aft
from dodge_lstm.core.perception import perceive
from dodge_lstm.core.scenarios import Scenario
from dodge_lstm.core.sensing import SensorConfig, sensing_label
from dodge_lstm.core.teachers import check_teacher, teacher_commands
from dodge_lstm.core.tracking import TrackerConfig, tracker_name

DATASET_FORMAT = "dodge_lstm.core.dataset/1"
STD_FLOOR = 1e-3


@dataclass
class Recording:
    """Rows of features and commands, grouped in episodes."""

    features: np.ndarray
    """`[T, F]` float32."""
    commands: np.ndarray
    """`[T]` float32: the command in force at each row."""
    episode: np.ndarray
    """`[T]` int64 episode id."""
    meta: dict[str, Any] = field(default_factory=dict)
    origin: np.ndarray | None = None
    """`[T]` int64: the episode a row's episode is a mirror image of, else its own id (twins
    share it, so the eval split keeps them together). None means no mirror images."""

    def __post_init__(self) -> None:
        if self.origin is None:
            self.origin = np.asarray(self.episode, dtype=np.int64).copy()

    @property
    def num_features(self) -> int:
        return int(self.features.shape[1])

    def normalization(self, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature mean and std of `rows` (a boolean mask; default all), std floored so
        constant columns do not blow up. Training passes its own rows: eval rows must not
        shape the statistics the eval loss is measured with."""
        x = self.features if rows is None else self.features[np.asarray(rows, dtype=bool)]
        if x.shape[0] == 0:
            raise ValueError("no rows to compute normalization statistics from")
        mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
        std = x.std(axis=0, dtype=np.float64).astype(np.float32)
        return mean, np.maximum(std, STD_FLOOR).astype(np.float32)

    def mirrored(self) -> Recording:
        """This recording plus its fore/aft mirror image as new episodes."""
        f, c = mirror_fore_aft(self.features, self.commands)
        offset = int(self.episode.max()) + 1 if self.episode.size else 0
        return Recording(
            features=np.concatenate([self.features, f]),
            commands=np.concatenate([self.commands, c]).astype(np.float32),
            episode=np.concatenate([self.episode, self.episode + offset]),
            meta=self.meta | {"mirrored": True},
            origin=np.concatenate([self.origin, self.origin]),
        )

    @classmethod
    def concat(cls, recordings: list[Recording]) -> Recording:
        """Several recordings as one, episode ids renumbered so none collide."""
        if not recordings:
            raise ValueError("nothing to concatenate")
        episodes, origins, offset = [], [], 0
        for rec in recordings:
            # One renumbering for both arrays: an origin names an episode of its recording.
            ids, both = np.unique(np.concatenate([rec.episode, rec.origin]), return_inverse=True)
            both = both.reshape(-1).astype(np.int64) + offset
            episodes.append(both[: rec.episode.size])
            origins.append(both[rec.episode.size:])
            offset += ids.size
        sources = [r.meta.get("source", "?") for r in recordings]
        return cls(features=np.concatenate([r.features for r in recordings]),
                   commands=np.concatenate([r.commands for r in recordings]),
                   episode=np.concatenate(episodes), origin=np.concatenate(origins),
                   meta=recordings[0].meta | {"source": "+".join(sources),
                                              "parts": [r.meta for r in recordings]})

    def save(self, path: Path | str) -> Path:
        """Write an `.npz` with the arrays, normalization statistics and metadata."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        mean, std = self.normalization()
        with path.open("wb") as fh:
            np.savez_compressed(fh, features=self.features, commands=self.commands,
                                episode=self.episode, origin=self.origin,
                                feature_mean=mean, feature_std=std,
                                meta=np.array(json.dumps(self.meta)))
        return path

    @classmethod
    def load(cls, path: Path | str) -> Recording:
        """Read an `.npz` written by `save`; raises ValueError naming what is wrong."""
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            if isinstance(exc, FileNotFoundError | IsADirectoryError):
                raise
            raise ValueError(f"{path} is not a dodge_lstm dataset: an .npz written by "
                             f"`dodge-lstm dataset` was expected ({exc})") from None
        if not hasattr(data, "files"):  # a bare .npy array, not an .npz archive
            raise ValueError(f"{path} is not a dodge_lstm dataset: it holds one array, not an "
                             f".npz written by `dodge-lstm dataset`")
        with data:
            missing = {"features", "commands", "episode", "meta"} - set(data.files)
            if missing:
                raise ValueError(f"{path} is not a dodge_lstm dataset: missing {sorted(missing)}")
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != DATASET_FORMAT:
                raise ValueError(f"{path}: unknown dataset format {meta.get('format')!r}")
            return cls(features=data["features"], commands=data["commands"],
                       episode=data["episode"], meta=meta,
                       origin=data["origin"] if "origin" in data.files else None)


def file_sha256(path: Path | str) -> str:
    """Hash of a dataset file, recorded in model metadata for provenance."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def base_meta(source: str, num_slots: int, arena_cfg: ArenaConfig, **extra: Any) -> dict[str, Any]:
    """Metadata every recording carries, whatever its source."""
    return {
        "format": DATASET_FORMAT,
        "source": source,
        "num_slots": num_slots,
        "feature_names": feature_names(num_slots),
        "speed_limit": arena_cfg.speed_limit,
        "control_rate_hz": arena_cfg.control_rate_hz,
        "mirrored": False,
        "package_version": __version__,
    } | extra


def record_expert(
    episodes: int,
    seed: int = 0,
    episode_s: float = 30.0,
    arena_cfg: ArenaConfig | None = None,
    spawn_cfg: SpawnConfig | None = None,
    expert_cfg: ExpertConfig | None = None,
    num_slots: int = 2,
    batch: int = 256,
    progress: bool = False,
    driver: Policy | None = None,
    expert_share: float = 0.0,
    sensing: SensorConfig | None = None,
    tracker: TrackerConfig | None = None,
    make_arena: ArenaFactory = Arena,
    teacher: str = "truth",
) -> Recording:
    """Expert-labelled episodes from `episodes` arenas (vectorized in chunks of `batch`).

    Without `driver` the expert drives (behaviour cloning). With a `driver` (the learned policy,
    for DAgger) the driver's command is executed, except in arenas/ticks drawn with probability
    `expert_share`, while the expert still labels every row: row t's command is the expert's
    command for row t-1, which is what the window ending at t-1 is trained to output.

    With `sensing` (not `truth`) the rows, and the driver, see the balls through that detector
    and `tracker` (`core.perception`), while the expert labels from the true state: the
    privileged teacher of "learning by cheating" (`teacher`, `core.teachers`, picks another).
    A driverless run is driven by the teacher (its labels are the commands executed).
    `make_arena` picks the simulator (`physics.backends`), recorded as `backend`.
    """
    check_teacher(teacher)
    arena_cfg = (arena_cfg or ArenaConfig()).validate()
    spawn_cfg = (spawn_cfg or SpawnConfig()).validate()
    expert = ExpertPolicy(expert_cfg)
    ticks = round(episode_s * arena_cfg.control_rate_hz)
    f = 4 * num_slots
    features = np.empty((episodes, ticks, f), dtype=np.float32)
    commands = np.empty((episodes, ticks), dtype=np.float32)
    seeds = np.random.SeedSequence(seed).spawn((episodes + batch - 1) // batch)
    desc = "expert" if driver is None else f"dagger({driver.name})"
    with tqdm(total=episodes * ticks, disable=not progress, unit="row", unit_scale=True,
              desc=desc) as bar:
        for chunk, start in enumerate(range(0, episodes, batch)):
            stop = min(start + batch, episodes)
            chunk_seed = int(seeds[chunk].generate_state(1)[0])
            with make_arena(stop - start, arena_cfg, spawn_cfg, seed=chunk_seed) as arena:
                view = perceive(arena, sensing, tracker, seed=chunk_seed)
                mix_rng = np.random.default_rng(chunk_seed + 1)
                if driver is not None:
                    driver.reset(view)
                label = np.zeros(stop - start)
                for t in range(ticks):
                    rows, _ = ball_features(view.robot_pos, view.robot_yaw, view.robot_vel,
                                            view.ball_pos, view.ball_vel, view.alive,
                                            view.ball_id, num_slots)
                    features[start:stop, t] = rows
                    commands[start:stop, t] = label
                    label = teacher_commands(expert, arena, view, teacher)
                    if driver is None:
                        view.step(label)
                    else:
                        executed = driver.act(view)
                        use_expert = mix_rng.random(stop - start) < expert_share
                        view.step(np.where(use_expert, label, executed))
                    bar.update(stop - start)
    meta = base_meta("arena-expert" if driver is None else "arena-dagger", num_slots, arena_cfg,
                     seed=seed, episodes=episodes, episode_s=episode_s,
                     targeting=spawn_cfg.targeting, num_balls=spawn_cfg.num_balls,
                     driver=None if driver is None else driver.name, expert_share=expert_share,
                     sensing=sensing_label(sensing or SensorConfig()),
                     tracker=None if view is arena else tracker_name(tracker),
                     teacher="truth" if view is arena else teacher, backend=arena.backend)
    return Recording(
        features=features.reshape(-1, f),
        commands=commands.reshape(-1),
        episode=np.repeat(np.arange(episodes, dtype=np.int64), ticks),
        meta=meta,
    )


def record_scenario(
    scenario: Scenario,
    episodes: int,
    seed: int = 0,
    episode_s: float = 30.0,
    num_slots: int = 2,
    progress: bool = False,
    driver: Policy | None = None,
    expert_share: float = 0.0,
    sensing: SensorConfig | None = None,
    tracker: TrackerConfig | None = None,
    make_arena: ArenaFactory = Arena,
    teacher: str = "truth",
) -> Recording:
    """`record_expert` over a scenario: episodes spread evenly over its components (at least
    one each), each component seeded from `seed` and its index."""
    parts = scenario.components
    if len(parts) == 1:
        rec = record_expert(episodes, seed, episode_s, spawn_cfg=parts[0], num_slots=num_slots,
                            progress=progress, driver=driver, expert_share=expert_share,
                            sensing=sensing, tracker=tracker, make_arena=make_arena,
                            teacher=teacher)
        rec.meta["scenario"] = scenario.key  # with any overrides: what was recorded
        return rec
    shares = np.full(len(parts), max(1, episodes // len(parts)))
    shares[: max(0, episodes - int(shares.sum()))] += 1
    seeds = np.random.SeedSequence(seed).generate_state(len(parts))
    recs = [record_expert(int(n), int(s), episode_s, spawn_cfg=cfg, num_slots=num_slots,
                          driver=driver, expert_share=expert_share, sensing=sensing,
                          tracker=tracker, make_arena=make_arena, teacher=teacher)
            for cfg, n, s in tqdm(list(zip(parts, shares, seeds, strict=True)),
                                  disable=not progress, unit="setting", desc=scenario.name)]
    rec = Recording.concat(recs)
    rec.meta = recs[0].meta | {"scenario": scenario.key, "episodes": int(shares.sum()),
                               "targeting": "mixed", "num_balls": None, "seed": seed,
                               "components": len(parts)}
    return rec
