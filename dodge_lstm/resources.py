"""Where the package's installed data lives: models and parameter files.

Under colcon/ROS the data is in the ament share directory; in a pip or source checkout it sits
next to the Python package. Nodes and the CLI ask here instead of guessing paths.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = "dodge_lstm"


def share_dir() -> Path:
    """`share/dodge_lstm` of an ament install, else the source checkout's root."""
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )

        try:
            share = Path(get_package_share_directory(PACKAGE))
            if (share / "models").is_dir():
                return share
        except (PackageNotFoundError, OSError):  # not installed, or no AMENT_PREFIX_PATH
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """Folder holding the shipped `lstm_t<N>_u<U>.tflite` models."""
    return share_dir() / "models"


def default_params_file() -> Path:
    """The package's `params/dodge_lstm.yaml`."""
    return share_dir() / "params" / "dodge_lstm.yaml"


DEFAULT_MODEL = "default.tflite"
"""The model a graph runs unless `timesteps`/`units` or `model` pick another: trained on the
scenario mixture with four ball slots (its metadata says how), so it holds up off the 2020
setting; the `lstm_t<N>_u<U>` grid models are the 2020 study's two-slot configurations."""


SENSING_MODEL = "default_sensing.tflite"
"""The model a graph runs instead of `DEFAULT_MODEL` when its rows come from a detector
(`sensing` not `truth`): the default model's shape, trained by DAgger on rows through the
`realistic` detector and its metadata's tracker, labelled by the expert on those tracks (the
`tracker` teacher, `core.teachers`; issue 16)."""


def model_for(timesteps: int, units: int, directory: Path | None = None) -> Path:
    """Path of the grid model named by its hyperparameters (it may not exist)."""
    return (directory or models_dir()) / f"lstm_t{timesteps}_u{units}.tflite"


def default_model(directory: Path | None = None, detections: bool = False) -> Path:
    """Path of the default model (see `DEFAULT_MODEL`), or with `detections` the one trained
    on a detector's rows (`SENSING_MODEL`)."""
    return (directory or models_dir()) / (SENSING_MODEL if detections else DEFAULT_MODEL)


def resolve_model(model: str = "", timesteps: int | None = None,
                  units: int | None = None, directory: Path | None = None,
                  detections: bool = False) -> Path:
    """The model a run uses: `model` if given; else the grid model of `timesteps` and `units`
    if either is given (the other from the 2020 pick, 5 and 15); else the default model, the
    sensing-trained one if the rows come from `detections`. `dodge-lstm sim`, `eval`, the
    launch files and the policy node all choose through here."""
    if model:
        return Path(model)
    if timesteps is None and units is None:
        return default_model(directory, detections)
    return model_for(5 if timesteps is None else timesteps, 15 if units is None else units,
                     directory)


def shipped_pairs(directory: Path | None = None) -> list[tuple[int, int]]:
    """The `(timesteps, units)` of the grid models in `directory` (default: the shipped ones)."""
    pairs = []
    for path in (directory or models_dir()).glob("lstm_t*_u*.tflite"):
        t, _, u = path.stem.removeprefix("lstm_t").partition("_u")
        if t.isdigit() and u.isdigit():
            pairs.append((int(t), int(u)))
    return sorted(pairs)


def missing_model_hint(path: Path) -> str:
    """The error for a model file that does not exist: what was looked for and what ships."""
    pairs = shipped_pairs(path.parent) or shipped_pairs()
    by_t: dict[int, list[int]] = {}
    for t, u in pairs:
        by_t.setdefault(t, []).append(u)
    listed = "; ".join(f"timesteps {t}: units {', '.join(map(str, us))}"
                       for t, us in by_t.items()) or "none found"
    return (f"model {path} does not exist. Shipped (timesteps, units) pairs, picked with "
            f"`timesteps:=N units:=U` or `--timesteps N --units U`: {listed}. Leave both unset "
            f"for {DEFAULT_MODEL}, or give a converted model's path (`model:=PATH`, `--model "
            f"PATH`; `dodge-lstm convert` makes one)")
