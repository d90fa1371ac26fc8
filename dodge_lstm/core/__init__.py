"""The ROS-free core: arena physics, spawning, the expert, features, windows, evaluation.

May import: the standard library, numpy, tqdm and `dodge_lstm.core` itself. Nothing here loads
rclpy, ROS messages, TensorFlow, ai-edge-litert, rosbags or matplotlib (`test/test_layers.py`),
so the core runs and is tested on any machine with numpy.
"""
