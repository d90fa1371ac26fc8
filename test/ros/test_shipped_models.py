"""Every shipped model launches: the 2020 grid (timesteps x units) and the default model,
each resolved by the policy node from its parameters alone, configured through a real lifecycle
transition, and checked against its name and its recorded closed-loop scores."""

from __future__ import annotations

import itertools
import json

import pytest

from dodge_lstm.resources import default_model, model_for
from dodge_lstm.runtime.model_metadata import metadata_path_for

pytestmark = pytest.mark.ros

GRID_TIMESTEPS = (1, 3, 5, 8, 10)
GRID_UNITS = (4, 8, 15, 20, 32)


def configure(ros_context, overrides: dict) -> tuple[str, object]:
    """A fresh policy node with `overrides`, through `configure`; (the transition's result,
    the model it loaded)."""
    from rclpy.parameter import Parameter

    from dodge_lstm.ros.nodes.policy_node import DodgePolicy

    node = DodgePolicy(context=ros_context,
                       parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
    try:
        result = node.trigger_configure()  # the real rcl lifecycle transition, in-process
        return result.name, node.model
    finally:
        node.destroy_node()


@pytest.mark.parametrize("timesteps,units", list(itertools.product(GRID_TIMESTEPS, GRID_UNITS)))
def test_every_grid_pair_resolves_configures_and_names_itself(ros_context, timesteps, units):
    path = model_for(timesteps, units)
    assert path.is_file(), f"{path.name} is not shipped: `ros2 launch dodge_lstm sim.launch.py " \
        f"timesteps:={timesteps} units:={units}` would fail at configure"
    state, model = configure(ros_context, {"timesteps": timesteps, "units": units})
    assert state == "SUCCESS", state
    assert model.path == path
    meta = json.loads(metadata_path_for(path).read_text())
    assert (meta["timesteps"], meta["units"], meta["num_features"]) == (timesteps, units, 8)
    assert meta["input_shape"] == [1, timesteps, 8]
    scores = meta["scores"]
    rate = scores["reported"]["threat_dodge_rate"]
    lo, hi = scores["reported"]["threat_dodge_ci95"]
    assert 0.0 <= lo <= rate <= hi <= 1.0 and scores["reported"]["seed"] == 7


def test_the_default_model_has_four_slots_and_is_what_the_node_runs(ros_context):
    meta = json.loads(metadata_path_for(default_model()).read_text())
    assert meta["num_features"] == 16  # four ball slots
    state, model = configure(ros_context, {"model": str(default_model()),
                                           "timesteps": meta["timesteps"]})
    assert state == "SUCCESS" and model.num_features == 16


def test_with_detections_the_node_runs_the_sensing_model_and_its_tracker(ros_context):
    """`input: detections` (what `sensing:=realistic` sets) loads the shipped sensing model,
    whose metadata names the sensing and tracker it was trained through, so the feature node
    builds that pipeline. Plausible bugs: the sensing model shipped but never picked (the
    graph runs the ground-truth model on detections), or picked without its tracker."""
    from dodge_lstm.core.features import WindowSpec

    path = default_model(detections=True)
    assert path.is_file() and path != default_model()
    meta = json.loads(metadata_path_for(path).read_text())
    assert (meta["sensing"], meta["tracker"]) == ("realistic", "kf")
    state, model = configure(ros_context, {"input": "detections"})
    assert state == "SUCCESS" and model.path == path
    assert WindowSpec.from_metadata(model.metadata, path.name).tracker == "kf"
    state, model = configure(ros_context, {"input": "balls"})
    assert state == "SUCCESS" and model.path == default_model()
    state, model = configure(ros_context, {"input": "lidar"})  # refused: FAILURE, no model
    assert state == "FAILURE" and model is None
