"""The layers are folders, and a folder's name says what it may import.

Two checks, each catching what the other cannot:
- statically, every `import` in every module (function-level ones included) against the
  folder's allowance, so a lazy `import rclpy` deep in a core function fails here too;
- dynamically, in fresh interpreters: importing a layer loads none of the heavy stacks it must
  not need, and `dodge-lstm dataset --bag` works with rclpy and every ROS message package made
  unimportable (as on a laptop without ROS), reading a bag written with rosbags alone.

The plausible bug: someone adds a convenience import (`from dodge_lstm.ros.messages import ...`
in core, `import tensorflow` in the runtime, a module-level `import matplotlib` in training)
and the robot, the laptop or the CI image without TensorFlow silently starts needing it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "dodge_lstm"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

ROS_PACKAGES = {"rclpy", "ament_index_python", "builtin_interfaces", "diagnostic_msgs",
                "geometry_msgs", "lifecycle_msgs", "nav_msgs", "rcl_interfaces",
                "rosgraph_msgs", "std_msgs", "std_srvs", "rosidl_runtime_py",
                "visualization_msgs", "tf2_msgs"}
HEAVY = {"rclpy", "tensorflow", "keras", "ai_edge_litert", "rosbags", "matplotlib", "mujoco"}

# Folder -> (third-party top-level packages it may import, package folders it may import).
# "" is the package root (`from dodge_lstm import __version__`).
RULES: dict[str, tuple[set[str], set[str]]] = {
    "core": ({"numpy", "tqdm", "scipy"}, {"", "core"}),  # scipy: the tracker's assignment
    "runtime": ({"numpy", "tqdm", "ai_edge_litert"}, {"", "core", "runtime"}),
    "bags": ({"numpy", "tqdm", "rosbags"}, {"", "core", "bags"}),
    "viz": ({"numpy", "matplotlib", "PIL"}, {"", "core", "runtime", "viz"}),
    "gym": ({"numpy", "gymnasium"}, {"", "core", "runtime", "gym", "physics"}),
    "physics": ({"numpy", "mujoco"}, {"", "core", "physics"}),
    "learning": ({"numpy", "tqdm", "tensorflow", "keras", "ray"},
                 {"", "core", "runtime", "bags", "viz", "learning", "physics"}),
    "ros": ({"numpy", "tqdm", "yaml", "rosbags"} | ROS_PACKAGES,
            {"", "core", "runtime", "bags", "ros", "resources", "physics"}),
}
# TensorFlow only inside functions, and only in these two modules.
TF_MODULES = {"learning/training.py", "learning/conversion.py"}


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(dotted module, line, at module level) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "dodge_lstm":  # `from dodge_lstm import x`: x is the target
                found += [(f"dodge_lstm.{a.name}" if a.name != "__version__" else "dodge_lstm",
                           node.lineno, id(node) in top_level) for a in node.names]
            else:
                found.append((node.module, node.lineno, id(node) in top_level))
    return found


def layer_violations(package: Path = PACKAGE) -> list[str]:
    """Every import that breaks its folder's rule, as `path:line: message`."""
    problems = []
    for folder, (external, internal) in RULES.items():
        for path in sorted((package / folder).rglob("*.py")):
            rel = path.relative_to(package).as_posix()
            for module, line, top in _imports(path):
                root = module.split(".")[0]
                where = f"{rel}:{line}"
                if root == "dodge_lstm":
                    target = module.split(".")[1] if "." in module else ""
                    if target not in internal:
                        problems.append(f"{where}: {folder}/ may not import {module}")
                elif root in ("tensorflow", "keras") and (rel not in TF_MODULES or top):
                    problems.append(f"{where}: {module} outside a function of "
                                    f"{sorted(TF_MODULES)}")
                elif root not in STDLIB and root not in external:
                    problems.append(f"{where}: {folder}/ may not import {module}")
    return problems


def test_every_import_respects_its_folder():
    assert layer_violations() == []


def test_the_static_check_catches_a_forbidden_import(tmp_path):
    """The rule bites: a copy of the core with one lazy `import rclpy` added is flagged."""
    for folder in RULES:
        (tmp_path / folder).mkdir()
    (tmp_path / "core" / "arena.py").write_text(
        (PACKAGE / "core" / "arena.py").read_text()
        + "\n\ndef _sneaky():\n    import rclpy\n    return rclpy\n")
    (tmp_path / "runtime" / "tflite_policy.py").write_text("import tensorflow as tf\n")
    (tmp_path / "learning" / "training.py").write_text("import keras\n")
    (tmp_path / "bags" / "x.py").write_text("from dodge_lstm.ros.messages import msg_to_window\n")
    found = "\n".join(layer_violations(tmp_path))
    assert "core/arena.py" in found and "rclpy" in found
    assert "runtime/tflite_policy.py:1" in found
    assert "learning/training.py:1" in found  # keras at module level
    assert "bags/x.py:1" in found


def _modules(folder: str) -> list[str]:
    return [".".join(p.relative_to(REPO).with_suffix("").parts)
            for p in sorted((PACKAGE / folder).rglob("*.py"))]


def _loaded_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages in sys.modules after running `code` in a fresh interpreter."""
    script = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] " \
                    "for m in sys.modules})))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_core_loads_no_heavy_stack():
    imports = "\n".join(f"import {m}" for m in _modules("core"))
    loaded = _loaded_after(imports)
    assert "numpy" in loaded  # the check itself works
    assert not loaded & (HEAVY | ROS_PACKAGES), sorted(loaded & (HEAVY | ROS_PACKAGES))


def test_running_a_model_loads_no_tensorflow():
    """The robot path: import the runtime, load the shipped model, run it once."""
    imports = "\n".join(f"import {m}" for m in _modules("runtime"))
    code = (imports + "\nimport numpy as np\n"
            "from dodge_lstm.resources import model_for\n"
            "from dodge_lstm.runtime.tflite_policy import TFLitePolicy\n"
            "p = TFLitePolicy(model_for(5, 15))\n"
            "assert abs(p(np.zeros((5, 8), np.float32))) <= p.speed_limit\n")
    loaded = _loaded_after(code)
    assert "ai_edge_litert" in loaded
    assert not loaded & {"tensorflow", "keras", "rclpy", "matplotlib", "rosbags"}


# Makes rclpy and the ROS message packages unimportable, as on a machine without ROS.
_NO_ROS = """
import importlib.abc, sys
BLOCKED = {blocked!r}
class NoRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: no ROS here)")
        return None
sys.meta_path.insert(0, NoRos())
"""


def test_dataset_from_a_bag_needs_no_ros(tmp_path):
    pytest.importorskip("rosbags")
    from arena_bags import record_arena, write_rosbags

    episode = record_arena(30, seed=3)
    bag = write_rosbags(episode, tmp_path / "bag")
    truth = np.stack(episode.rows)
    assert np.any(truth != truth[0])  # balls appear: the bag holds more than placeholders
    out = tmp_path / "data.npz"
    blocked = sorted(ROS_PACKAGES | {"rosidl_parser", "rpyutils"})
    code = (_NO_ROS.format(blocked=blocked)
            + "from dodge_lstm.cli import main\n"
            + f"rc = main(['dataset', '--bag', {str(bag)!r}, '--out', {str(out)!r}])\n"
            + "assert rc == 0, rc\n"
            + "try:\n    import rclpy\nexcept ModuleNotFoundError:\n    pass\n"
            + "else:\n    raise AssertionError('the blocker let rclpy through')\n")
    loaded = _loaded_after(code)
    assert "rosbags" in loaded and not loaded & ROS_PACKAGES
    with np.load(out) as data:
        np.testing.assert_allclose(data["features"], truth, atol=1e-5)
