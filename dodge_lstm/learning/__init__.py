"""The offline learning pipeline: training, conversion, DAgger and sweeps.

May import: TensorFlow/Keras (only inside `training` and `conversion`, and only inside the
functions that need it), plus `core`, `runtime`, `bags` and `viz`. `train_config` stays
TensorFlow-free so the CLI can build a configuration on any machine.
"""
