"""Environments: the illustrative 2-D world (Fig. 2)."""
from .toy2d import GoalReachingPolicy, PointWorld2D

__all__ = ["GoalReachingPolicy", "PointWorld2D"]
