"""The ROS 2 adapters: rclpy nodes, message conversions, QoS, parameters and bringup.

May import: rclpy and ROS message packages, PyYAML, plus every ROS-free layer. The nodes stay
thin: the logic they run lives in `core` and `runtime`.
"""
