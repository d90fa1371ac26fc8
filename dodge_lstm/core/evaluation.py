"""Closed-loop evaluation: run a policy in B parallel arenas until N balls are resolved.

The 2020 project judged models by loss alone; this is the number that says whether a policy
dodges. The headline metric is the *threat dodge rate*: of the balls that would have hit a robot
standing still, the fraction the policy avoided, with a Wilson 95% interval.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from tqdm import tqdm

from dodge_lstm.core.arena import Arena, ArenaFactory
from dodge_lstm.core.ball_records import BallLog
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.perception import perceive
from dodge_lstm.core.scenarios import Scenario
from dodge_lstm.core.sensing import SensorConfig, sensing_label
from dodge_lstm.core.tracking import tracker_name

if TYPE_CHECKING:
    from dodge_lstm.core.tracking import TrackerConfig

SELECTION_SEED = 1001
"""Seed of the closed-loop evaluations that choose (a DAgger round, a sweep pair's training
seed, a default-model candidate); never a reported number."""
REPORTED_SEED = 7
"""Seed of every reported closed-loop number (README tables, `scores.reported`): no choice
ever saw it."""


class Policy(Protocol):
    """Anything that maps an arena's state to `linear.x` commands."""

    name: str

    def reset(self, arena: Arena) -> None:
        """Forget per-arena state before a run."""

    def act(self, arena: Arena) -> np.ndarray:
        """Commands `[B]` for the current state."""


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sane at 0 %, 100 % and small n)."""
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    # At 0 % or 100 % the bound is exactly the rate; rounding would leave it a hair inside.
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return (lo, hi)


@dataclass
class ThreatTally:
    """Running counts of resolved balls and the rates derived from them.

    The arena evaluation and the ROS graph's observer both count through this, so the threat
    dodge rate and its interval are computed one way wherever they are reported.
    """

    balls: int = 0
    hits: int = 0
    threat_balls: int = 0
    threat_hits: int = 0

    def add(self, hit: np.ndarray | bool, threat: np.ndarray | bool) -> None:
        """Count resolved balls: `hit` and `threat` flags, one per ball (arrays or scalars)."""
        hit = np.asarray(hit, dtype=bool)
        threat = np.asarray(threat, dtype=bool)
        self.balls += int(hit.size)
        self.hits += int(hit.sum())
        self.threat_balls += int(threat.sum())
        self.threat_hits += int((hit & threat).sum())

    @property
    def dodge_rate(self) -> float:
        """Share of all balls that did not hit (NaN before any ball)."""
        return 1.0 - self.hits / self.balls if self.balls else math.nan

    @property
    def threat_dodge_rate(self) -> float:
        """Share of threat balls avoided (NaN before any threat)."""
        dodged = self.threat_balls - self.threat_hits
        return dodged / self.threat_balls if self.threat_balls else math.nan

    @property
    def threat_dodge_ci95(self) -> list[float]:
        """Wilson 95% interval of the threat dodge rate."""
        return list(wilson_interval(self.threat_balls - self.threat_hits, self.threat_balls))


@dataclass
class EvalResult:
    """Counts and rates of one evaluation run."""

    policy: str
    balls: int
    hits: int
    threat_balls: int
    threat_hits: int
    seed: int
    targeting: str
    num_balls: int
    arenas: int
    sim_seconds: float
    wall_seconds: float
    scenario: str = "default"
    sensing: str = "truth"
    """What the policy saw of the balls (`core.sensing.sensing_label`)."""
    backend: str = "arena"
    """The simulator (`arena` or `mujoco`)."""
    tracker: str | None = None
    """The tracker between detector and policy (`core.tracking.tracker_name`); None on truth."""
    dodge_rate: float = field(init=False)
    threat_dodge_rate: float = field(init=False)
    threat_dodge_ci95: list[float] = field(init=False)

    def __post_init__(self) -> None:
        tally = ThreatTally(self.balls, self.hits, self.threat_balls, self.threat_hits)
        self.dodge_rate = tally.dodge_rate
        self.threat_dodge_rate = tally.threat_dodge_rate
        self.threat_dodge_ci95 = tally.threat_dodge_ci95

    def to_json(self) -> str:
        """One JSON object, as `dodge-lstm eval --json` prints it (NaN written as null)."""
        return json.dumps({k: None if isinstance(v, float) and math.isnan(v) else v
                           for k, v in asdict(self).items()})

    def table(self) -> str:
        """A readable summary for people."""
        lo, hi = self.threat_dodge_ci95
        rows = [
            ("policy", self.policy),
            ("balls resolved", f"{self.balls}"),
            ("hits", f"{self.hits}"),
            ("dodge rate", f"{self.dodge_rate:.2%}"),
            ("threat balls", f"{self.threat_balls}"),
            ("threat hits", f"{self.threat_hits}"),
            ("threat dodge rate", f"{self.threat_dodge_rate:.2%}  (95% CI {lo:.2%} - {hi:.2%})"),
            ("scenario", self.scenario),
            ("sensing", self.sensing if self.tracker is None
             else f"{self.sensing} (tracker {self.tracker})"),
            ("simulator", self.backend),
            ("targeting / balls", f"{self.targeting} / {self.num_balls}"),
            ("simulated", f"{self.sim_seconds:.0f} s in {self.arenas} arenas"),
            ("wall time", f"{self.wall_seconds:.2f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def evaluate(
    policy: Policy,
    balls: int,
    seed: int = 0,
    arena_cfg: ArenaConfig | None = None,
    spawn_cfg: SpawnConfig | None = None,
    arenas: int = 64,
    progress: bool = False,
    ball_log: BallLog | None = None,
    sensing: SensorConfig | None = None,
    tracker: TrackerConfig | None = None,
    make_arena: ArenaFactory = Arena,
) -> EvalResult:
    """Run `policy` until exactly `balls` balls are resolved (ties in the last tick are broken
    by arena index, so the result does not depend on timing); `ball_log` gets every ball
    counted, with where it was thrown (`core.ball_records`). With `sensing` (not `truth`) the
    policy sees the balls through that detector and `tracker` (`core.perception`), seeded from
    `seed`; balls, threats and hits stay the simulator's. `make_arena` picks the simulator
    (`physics.backends`): the same seed throws the same first balls in each."""
    import time

    if balls < 1:
        raise ValueError(f"balls must be >= 1, got {balls}")
    arena = make_arena(arenas, arena_cfg, spawn_cfg, seed=seed)
    view = perceive(arena, sensing, tracker, seed=seed)
    policy.reset(view)
    # A ball lives ~3 s at most; allow a generous bound so a broken policy cannot hang us.
    max_ticks = int(50 * balls / arenas + 50 * arena.cfg.control_rate_hz)
    tally = ThreatTally()
    start = time.perf_counter()
    with arena, tqdm(total=balls, disable=not progress, unit="ball",
                                   desc=policy.name) as bar:
        while tally.balls < balls:
            if arena.tick >= max_ticks:
                raise RuntimeError(f"only {tally.balls} of {balls} balls resolved in "
                                   f"{max_ticks} ticks")
            out = view.step(policy.act(view))
            take = min(len(out), balls - tally.balls)
            tally.add(out.hit[:take], out.threat[:take])
            if ball_log is not None:
                for placed in arena.placed:
                    ball_log.spawned_many(*placed[:2], arena.tick, *placed[2:])
                for i in range(take):
                    ball_log.resolved(out.arena[i], out.ball_id[i], out.hit[i], out.threat[i],
                                      arena.tick)
            bar.update(take)
    return EvalResult(
        policy=policy.name, balls=tally.balls, hits=tally.hits,
        threat_balls=tally.threat_balls, threat_hits=tally.threat_hits,
        seed=seed, targeting=arena.spawn_cfg.targeting, num_balls=arena.spawn_cfg.num_balls,
        arenas=arenas, sim_seconds=arena.time, wall_seconds=time.perf_counter() - start,
        sensing=sensing_label(sensing or SensorConfig()), backend=arena.backend,
        tracker=None if view is arena else tracker_name(tracker),
    )


def evaluate_scenario(
    policy: Policy,
    scenario: Scenario,
    balls: int,
    seed: int = 0,
    arena_cfg: ArenaConfig | None = None,
    arenas: int = 64,
    progress: bool = False,
    ball_log: BallLog | None = None,
    sensing: SensorConfig | None = None,
    tracker: TrackerConfig | None = None,
    make_arena: ArenaFactory = Arena,
) -> EvalResult:
    """`evaluate` over a scenario: one component is exactly `evaluate` with its spawner setting;
    a mixture spreads `balls` evenly over its components (each seeded from `seed` and its
    index, with enough balls per arena to leave the start-up transient) and adds the counts."""
    parts = scenario.components
    if len(parts) == 1:
        res = evaluate(policy, balls, seed, arena_cfg, parts[0], arenas, progress, ball_log,
                       sensing, tracker, make_arena)
        res.scenario = scenario.key
        return res
    if ball_log is not None:
        raise ValueError(f"scenario {scenario.name!r} is a mixture: per-ball logs take one "
                         f"setting")
    if balls < len(parts):
        raise ValueError(f"scenario {scenario.name!r} has {len(parts)} components: evaluate "
                         f"at least that many balls, got {balls}")
    shares = np.full(len(parts), balls // len(parts))
    shares[: balls % len(parts)] += 1
    seeds = np.random.SeedSequence(seed).generate_state(len(parts))
    tally, sim_s, wall_s = ThreatTally(), 0.0, 0.0
    for cfg, n, s in tqdm(list(zip(parts, shares, seeds, strict=True)), disable=not progress,
                          unit="setting", desc=f"{policy.name} {scenario.name}"):
        part = evaluate(policy, int(n), int(s), arena_cfg, cfg,
                        arenas=max(1, min(arenas, int(n) // 10)), sensing=sensing,
                        tracker=tracker, make_arena=make_arena)
        tally.balls += part.balls
        tally.hits += part.hits
        tally.threat_balls += part.threat_balls
        tally.threat_hits += part.threat_hits
        sim_s += part.sim_seconds
        wall_s += part.wall_seconds
    return EvalResult(
        policy=policy.name, balls=tally.balls, hits=tally.hits,
        threat_balls=tally.threat_balls, threat_hits=tally.threat_hits, seed=seed,
        targeting="mixed", num_balls=max(c.num_balls for c in parts), arenas=arenas,
        sim_seconds=sim_s, wall_seconds=wall_s, scenario=scenario.key, sensing=part.sensing,
        backend=part.backend, tracker=part.tracker,
    )


def scenario_table(results: list[EvalResult]) -> str:
    """One row per scenario: the held-out comparison `dodge-lstm eval --scenario a,b` prints."""
    head = f"{'scenario':<9} {'balls':>6} {'threats':>7} {'hits':>5}  threat dodge rate (95% CI)"
    lines = [f"policy {results[0].policy}, seed {results[0].seed}", head]
    for r in results:
        lo, hi = r.threat_dodge_ci95
        lines.append(f"{r.scenario:<9} {r.balls:>6} {r.threat_balls:>7} {r.threat_hits:>5}  "
                     f"{r.threat_dodge_rate:7.2%} ({lo:.2%} - {hi:.2%})")
    return "\n".join(lines)
