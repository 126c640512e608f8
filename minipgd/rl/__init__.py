"""Target policies (and, later, the offline agents that train them)."""
from .policy import DeterministicGaussianPolicy, GaussianPolicy

__all__ = ["DeterministicGaussianPolicy", "GaussianPolicy"]
