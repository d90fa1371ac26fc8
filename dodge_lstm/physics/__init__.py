"""Rigid-body physics for the dodgeball world (MuJoCo): the second simulator (issue 17).

`mjcf_world` writes the MJCF world from the same `ArenaConfig` the embedded arena uses;
`mujoco_arena` runs B such worlds behind the `Arena` interface (a differential-drive robot on
`linear.x` / `angular.z`, balls thrown from a parked pool, robot-ball contacts as hits);
`backends` names the simulators for `--backend`; `mujoco_view` renders an episode. Needs
`mujoco`; the core never imports this package (it is handed a factory).
"""
