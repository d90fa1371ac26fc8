"""Running a converted model on the robot: TFLite inference, model metadata, arena adapters.

May import: what the core may, plus ai-edge-litert and `dodge_lstm.core`. Never TensorFlow or
Keras: a robot that runs a policy installs `requirements.txt` only (`test/test_layers.py`).
"""
