"""Learn to dodge balls with an LSTM in ROS 2."""

__version__ = "0.1.0"
