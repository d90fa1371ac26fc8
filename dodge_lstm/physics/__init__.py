"""Rigid-body physics for the dodgeball world (MuJoCo): the second simulator (issue 17).

`mjcf_world` writes the MJCF world from the same `ArenaConfig` the embedded arena uses;
`mujoco_world` steps it: a differential-drive robot driven by `linear.x` / `angular.z`, balls
thrown from a parked pool, robot–ball contacts as hits. Needs `mujoco`; the core never imports
this package.
"""
