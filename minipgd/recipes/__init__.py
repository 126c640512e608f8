"""Dataset recipes: behavior policies (online TD3, the maze waypoint controller) rolled out into offline datasets.

Glue above the simulators (`envs`) and the agents (`rl`): the only place that needs both.
"""
