"""JSON for the package's outputs: numpy-aware, and written atomically.

Model metadata, dataset metadata, DAgger and sweep summaries all go through here, so numpy
scalars, arrays and paths serialize the same way everywhere, and a reader watching a long job
never sees half a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """`value` with numpy arrays/scalars, paths and tuples turned into plain JSON types."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    """`json.dumps` after `to_jsonable`."""
    return json.dumps(to_jsonable(value), indent=indent)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` through a temporary file and a rename: all of it or none of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """Write `value` as JSON (numpy-aware, atomic, newline-terminated)."""
    return write_text_atomic(path, dumps(value, indent) + "\n")
