"""Environments: the illustrative 2-D world (Fig. 2), MuJoCo and PointMaze (Sec. 5.1), the dataset format.

The simulators' layer: it imports only `minipgd.nn` (the checkpoint format).
"""
from .mujoco import set_state_from_observation, step_from_observation
from .registry import DATASETS, DatasetSpec, make_env, parse_dataset_name
from .toy2d import PointWorld2D

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "PointWorld2D",
    "make_env",
    "parse_dataset_name",
    "set_state_from_observation",
    "step_from_observation",
]
