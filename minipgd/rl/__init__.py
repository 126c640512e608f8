"""Target policies and the offline agents (TD3+BC, IQL) that train on real or synthetic data."""
from .iql import IQL, IQLConfig
from .policy import DeterministicGaussianPolicy, GaussianPolicy, GoalReachingPolicy
from .td3 import TD3, TD3Config

__all__ = ["DeterministicGaussianPolicy", "GaussianPolicy", "GoalReachingPolicy", "IQL", "IQLConfig", "TD3", "TD3Config"]
