"""`dodge-lstm sim`: the `sim.launch.py` graph without the launch system.

`graph` runs it (`run_sim`), `options` holds what a run chooses, `observer` measures it through
topics, `lifecycle_client` drives the policy node's lifecycle services, `processes` starts one
process per node like `ros2 launch`, `report` prints the summary.
"""
