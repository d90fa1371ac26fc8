"""How `dodge-lstm sim` prints a run's summary: a table for people, one JSON object for tools."""

from __future__ import annotations

import json
import math
from typing import Any


def format_summary(s: dict[str, Any]) -> str:
    """Readable table of a `run_sim` summary."""
    return "\n".join(f"{k:<28} {json.dumps(v) if isinstance(v, (list, dict)) else v}"
                     for k, v in s.items())


def summary_json(s: dict[str, Any]) -> str:
    """One JSON object (NaN written as null)."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in s.items()}
    return json.dumps(clean)
