"""The QoS profiles of the dodge topics, chosen once for every node that uses them."""

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
"""`odom`, `balls/odom`, `/clock`: reliable so the recorder and the feature node see every tick,
shallow because a late state is worth less than the next one."""

CMD_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
"""`cmd_vel`: only the newest command matters."""

WINDOW_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
"""`dodge/window` as the feature node publishes it: only the newest window matters."""

POLICY_WINDOW_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
"""`dodge/window` as the policy takes it: ten deep. Every publisher on the topic shares the
subscriber's queue; one deep, any message arriving between a real window and the moment the
executor takes it displaces that window. 36 junk windows/s beside the real stream lost 11% of
the commands that way on a busy 2-core machine, 16-27% with two more busy processes
(`bench/bench_graph.py --junk`); ten deep, none. Queued windows are taken oldest first, each
checked; the rate limit and the watchdog are unchanged."""

EVENT_QOS = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
"""`balls/spawn`, `balls/outcome`: events, none may be lost."""

SPEC_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""`dodge/window_spec`: latched, so a feature node started (or restarted) after the policy
configured still learns the window the loaded model takes."""
