"""The `balls/outcome` payload: one JSON object per resolved ball.

`{"ball": name, "outcome": "hit" | "passed" | "rejected", "threat": bool, "t": seconds}`;
"rejected" answers a spawn request the simulator refused. The simulator writes it, the spawner,
feature node, expert, observer and bag import read it: the format lives here, once.
"""

from __future__ import annotations

import json
from typing import Any

OUTCOMES = ("hit", "passed", "rejected")


def ball_name(number: int) -> str:
    """The name the simulator and the spawner give ball `number`: `ball_<number>`."""
    return f"ball_{int(number)}"


def ball_number(name: str) -> int | None:
    """The number in a `ball_name`; None for a name of another form (a foreign spawner's)."""
    prefix, _, number = name.rpartition("_")
    return int(number) if prefix == "ball" and number.isdigit() else None


def encode_outcome(ball: str, outcome: str, threat: bool, t_sec: float) -> str:
    """The JSON text of one outcome; raises ValueError on an unknown outcome."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    return json.dumps({"ball": ball, "outcome": outcome, "threat": bool(threat),
                       "t": round(t_sec, 3)})


def decode_outcome(text: str) -> dict[str, Any]:
    """Parse one outcome; raises ValueError if `text` is not one."""
    try:
        out = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"not an outcome: {text!r}") from exc
    if (not isinstance(out, dict) or {"ball", "outcome", "threat"} - out.keys()
            or out["outcome"] not in OUTCOMES):
        raise ValueError(f"not an outcome: {text!r}")
    return out
