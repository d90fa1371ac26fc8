"""The QoS profiles of the dodge topics, chosen once for every node that uses them."""

from rclpy.qos import QoSProfile, ReliabilityPolicy

STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
"""`odom`, `balls/odom`, `/clock`: reliable so the recorder and the feature node see every tick,
shallow because a late state is worth less than the next one."""

CMD_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
"""`cmd_vel`: only the newest command matters."""

WINDOW_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
"""`dodge/window`: the policy only ever wants the newest window."""

EVENT_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
"""`balls/spawn`, `balls/outcome`: events, none may be lost."""
