"""Per-call inference latency at batch 1: TFLitePolicy vs eager Keras vs numpy forward.

Why: the policy runs once per control tick inside a ROS callback, so per-call latency (not
throughput) is what matters. Builds a random-weight t5/u15 model (latency does not depend on
the weight values), converts it with the production path, times each implementation call by
call and writes the table to JSON.

    .venv/bin/python bench/bench_inference.py [--calls 2000] [--out bench/results/inference.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a source checkout without installing
    sys.path.insert(0, str(REPO))

TIMESTEPS, UNITS, FEATURES = 5, 15, 8


def time_calls(fn: Callable[[], object], calls: int, warmup: int = 50) -> np.ndarray:
    """Per-call wall times in microseconds."""
    for _ in range(warmup):
        fn()
    ts = np.empty(calls)
    for k in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        ts[k] = time.perf_counter_ns() - t0
    return ts / 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per implementation")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "inference.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from dodge_lstm.learning.conversion import convert
    from dodge_lstm.learning.training import build_model, default_feature_names
    from dodge_lstm.runtime.lstm_numpy import LSTMWeights, numpy_forward
    from dodge_lstm.runtime.model_metadata import write_metadata
    from dodge_lstm.runtime.tflite_policy import TFLitePolicy

    rng = np.random.default_rng(args.seed)
    mean = rng.normal(size=FEATURES).astype(np.float32)
    std = rng.uniform(0.5, 2.0, size=FEATURES).astype(np.float32)
    keras.utils.set_random_seed(args.seed)
    model = build_model(TIMESTEPS, UNITS, FEATURES, speed_limit=1.0)

    with tempfile.TemporaryDirectory(prefix="bench_inference_") as tmp:
        run = Path(tmp) / "run"
        run.mkdir()
        model.save(run / "model.keras")
        write_metadata(
            run / "model.json",
            timesteps=TIMESTEPS,
            units=UNITS,
            num_features=FEATURES,
            feature_names=default_feature_names(FEATURES),
            feature_mean=mean,
            feature_std=std,
            speed_limit=1.0,
            dataset_sha256=None,
            train_loss=None,
            eval_loss=None,
            seed=args.seed,
        )
        raw = (mean + std * rng.standard_normal((500, TIMESTEPS, FEATURES))).astype(np.float32)
        report = convert(run, Path(tmp) / "lstm_t5_u15.tflite", check_windows=raw)
        policy = TFLitePolicy(report.tflite_path, timesteps=TIMESTEPS)

        window = raw[0]
        x_norm = policy.normalize(window)[None]  # [1, N, F] as Keras sees it
        weights = LSTMWeights.from_keras(model)
        inv_std = (1.0 / std).astype(np.float32)

        interp = policy._interp  # raw interpreter floor, no normalization/checks
        in_i = interp.get_input_details()[0]["index"]
        out_i = interp.get_output_details()[0]["index"]

        def raw_tflite() -> float:
            interp.set_tensor(in_i, x_norm)
            interp.invoke()
            return float(interp.get_tensor(out_i)[0, 0])

        impls: dict[str, Callable[[], object]] = {
            "keras eager model(x)": lambda: float(model(x_norm, training=False)[0, 0]),
            "TFLitePolicy(window)": lambda: policy(window),
            "tflite raw set/invoke/get": raw_tflite,
            "numpy forward (+normalize)": lambda: numpy_forward(weights, (window - mean) * inv_std),
        }
        outputs = {name: float(fn()) for name, fn in impls.items()}
        spread = max(outputs.values()) - min(outputs.values())
        times = {name: time_calls(fn, args.calls) for name, fn in impls.items()}

    keras_median = float(np.median(times["keras eager model(x)"]))
    rows = [
        {
            "name": name,
            "median_us": float(np.median(t)),
            "p99_us": float(np.percentile(t, 99)),
            "mean_us": float(np.mean(t)),
            "speedup_vs_keras_eager": keras_median / float(np.median(t)),
        }
        for name, t in times.items()
    ]

    print(
        f"t{TIMESTEPS}/u{UNITS}, batch 1, {args.calls} calls each "
        f"(conversion: {report.route}, {report.tflite_bytes} B, "
        f"max |tflite - keras| {report.max_abs_err:.2g} over {report.n_checked} windows)"
    )
    print(f"{'implementation':<28} {'median us':>10} {'p99 us':>10} {'speed-up':>9}")
    for r in rows:
        print(
            f"{r['name']:<28} {r['median_us']:>10.1f} {r['p99_us']:>10.1f} "
            f"{r['speedup_vs_keras_eager']:>8.0f}x"
        )
    print(f"outputs agree within {spread:.2g}")

    result = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {
            "timesteps": TIMESTEPS,
            "units": UNITS,
            "num_features": FEATURES,
            "batch": 1,
            "calls": args.calls,
            "seed": args.seed,
        },
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "ai_edge_litert": version("ai-edge-litert"),
        },
        "conversion": {
            "route": report.route,
            "tflite_bytes": report.tflite_bytes,
            "max_abs_err": report.max_abs_err,
            "n_checked": report.n_checked,
            "seconds": report.seconds,
            "ops": report.ops,
        },
        "output_spread": spread,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
