"""ament_python build for dodge_lstm (colcon) and plain pip installs (`pip install -e .`)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dodge_lstm"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/params", glob("params/*.yaml")),
        (f"share/{PACKAGE}/worlds", glob("worlds/*")),
        (f"share/{PACKAGE}/models", glob("models/*.tflite") + glob("models/*.json")),
        (f"share/{PACKAGE}/rviz", glob("rviz/*.rviz")),
        (f"share/{PACKAGE}/foxglove", glob("foxglove/*.json")),
    ],
    install_requires=["setuptools"],
    extras_require={"test": ["pytest"]},
    tests_require=["pytest"],
    zip_safe=True,
    maintainer="dodge_lstm maintainers",
    maintainer_email="maintainers@dodge-lstm.invalid",
    description="A mobile robot learns to dodge incoming balls with an LSTM in ROS 2.",
    license="Apache-2.0",
    python_requires=">=3.11",
    entry_points={
        "console_scripts": [
            "dodge-lstm = dodge_lstm.cli:main",
            "dodge_sim = dodge_lstm.ros.nodes.sim_node:main",
            "mujoco_sim = dodge_lstm.ros.nodes.mujoco_sim_node:main",
            "ball_detector = dodge_lstm.ros.nodes.detector_node:main",
            "ball_spawner = dodge_lstm.ros.nodes.spawner_node:main",
            "ball_features = dodge_lstm.ros.nodes.features_node:main",
            "dodge_policy = dodge_lstm.ros.nodes.policy_node:main",
            "expert_driver = dodge_lstm.ros.nodes.expert_node:main",
            "dodge_recorder = dodge_lstm.ros.nodes.recorder_node:main",
            "dodge_markers = dodge_lstm.ros.nodes.markers_node:main",
        ],
    },
)
