"""rosbag2 files without ROS: writing serialized messages and turning bags into datasets.

May import: rosbags plus `core`. Never rclpy or ROS message packages: `dodge-lstm dataset --bag`
runs on a laptop with no ROS at all (`test/test_layers.py`).
"""
