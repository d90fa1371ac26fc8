"""TrainConfig: the one home of the training defaults, the CLI built from it, validation."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from dodge_lstm.cli import build_parser
from dodge_lstm.cli import main as cli_main
from dodge_lstm.cli_training import SWEEP_GRID
from dodge_lstm.core.config import field_docs
from dodge_lstm.learning.train_config import TrainConfig, train_config_from_args

REPO = Path(__file__).resolve().parents[2]
FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_defaults_are_the_2020_numbers() -> None:
    # The CLI's historical defaults: changing one changes every command's behaviour.
    assert asdict(TrainConfig()) == {
        "timesteps": 5, "units": 15, "epochs": 40, "batch_size": 256, "patience": 5,
        "eval_fraction": 0.2, "segment_seconds": 30.0, "learning_rate": 1e-3, "seed": 0,
    }
    assert TrainConfig().validate() == TrainConfig()


@pytest.mark.parametrize("command", ["train", "dagger"])
def test_parser_defaults_are_train_config_defaults(command: str) -> None:
    args = parse(command, "--data", __file__, "--out", "o")
    default = TrainConfig()
    for name in FIELDS:
        assert getattr(args, name) == getattr(default, name), name
        assert type(getattr(args, name)) is type(getattr(default, name)), name
    assert train_config_from_args(args) == default


def test_sweep_parser_defaults_except_its_grid() -> None:
    args = parse("sweep", "--data", __file__, "--out", "o")
    default = TrainConfig()
    for name in FIELDS:
        if name not in SWEEP_GRID:
            assert getattr(args, name) == getattr(default, name), name
    assert (args.timesteps, args.units, args.seeds) == (
        [1, 3, 5, 8, 10], [4, 8, 15, 20, 32], [0])  # the grid
    assert train_config_from_args(args, skip=SWEEP_GRID) == default


def test_every_field_has_a_flag_and_its_docstring_as_help() -> None:
    flags = {"timesteps": "--timesteps", "units": "--units", "epochs": "--epochs",
             "batch_size": "--batch-size", "patience": "--patience",
             "eval_fraction": "--eval-fraction", "segment_seconds": "--segment-seconds",
             "learning_rate": "--learning-rate", "seed": "--seed"}
    assert set(flags) == set(FIELDS)
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    train = sub.choices["train"]
    by_flag = {opt: a for a in train._actions for opt in a.option_strings}
    docs = field_docs(TrainConfig)
    for name, flag in flags.items():
        action = by_flag[flag]
        assert action.dest == name and action.default == getattr(TrainConfig(), name)
        assert docs[name].rstrip(".") in action.help, (name, action.help)


def test_parsed_options_become_the_config() -> None:
    args = parse("train", "--data", __file__, "--out", "o", "--timesteps", "8", "--units", "20",
                 "--epochs", "3", "--batch-size", "64", "--patience", "2",
                 "--eval-fraction", "0.3", "--learning-rate", "5e-3", "--seed", "9")
    assert train_config_from_args(args) == TrainConfig(
        timesteps=8, units=20, epochs=3, batch_size=64, patience=2, eval_fraction=0.3,
        learning_rate=5e-3, seed=9)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eval_fraction": 1.0}, "eval_fraction"),
        ({"eval_fraction": -0.1}, "eval_fraction"),
        ({"epochs": 0}, "epochs"),
        ({"timesteps": 0}, "timesteps"),
        ({"units": 0}, "units"),
        ({"batch_size": 0}, "batch_size"),
        ({"patience": -1}, "patience"),
        ({"seed": -1}, "seed"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"epochs": 2.5}, "epochs"),
        ({"units": True}, "units"),
    ],
)
def test_validate_names_the_bad_field(change: dict, field: str) -> None:
    bad = TrainConfig(**change)
    with pytest.raises(ValueError, match=rf"^{field} must"):
        bad.validate()
    with pytest.raises(ValueError, match=rf"^{field} must"):
        TrainConfig().with_(**change)


def test_with_is_a_validated_copy() -> None:
    base = TrainConfig(epochs=3)
    pair = base.with_(timesteps=8, units=32)
    assert (pair.timesteps, pair.units, pair.epochs) == (8, 32, 3)
    assert base.timesteps == 5  # frozen: the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.epochs = 4  # type: ignore[misc]


def test_cli_rejects_a_bad_option_naming_it(tmp_path: Path, capsys) -> None:
    # Validation runs before any data is read or TensorFlow imported.
    (tmp_path / "none.npz").write_bytes(b"")  # exists (argparse checks that), never read
    code = cli_main(["train", "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path),
                     "--eval-fraction", "1"])
    assert code == 2
    assert "eval_fraction must be in [0, 1)" in capsys.readouterr().err


def test_train_dataset_validates_before_reading(tmp_path: Path) -> None:
    from dodge_lstm.learning.training import train_dataset

    with pytest.raises(ValueError, match=r"^epochs must"):
        train_dataset(tmp_path / "missing.npz", TrainConfig(epochs=0), out_dir=tmp_path)


def test_learning_modules_and_the_parser_stay_tensorflow_free() -> None:
    code = (
        "import sys\n"
        "import dodge_lstm.learning.train_config, dodge_lstm.learning.sweep\n"
        "import dodge_lstm.learning.sweep_report, dodge_lstm.learning.dagger\n"
        "import dodge_lstm.viz.sweep_plots, dodge_lstm.viz.loss_plot, dodge_lstm.cli\n"
        "dodge_lstm.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
