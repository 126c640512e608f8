"""Target policies and the offline agents (TD3+BC, IQL) that train on real or synthetic data."""
from .agent import Agent
from .iql import IQL, IQLConfig
from .policy import DeterministicGaussianPolicy, GaussianPolicy, GoalReachingPolicy
from .td3 import TD3, TD3Config

__all__ = ["Agent", "DeterministicGaussianPolicy", "GaussianPolicy", "GoalReachingPolicy", "IQL", "IQLConfig", "TD3",
           "TD3Config"]
