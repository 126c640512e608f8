"""The autoregressive baseline (Sec. 3.1): a PETS-style probabilistic ensemble and truncated rollouts."""
from .ensemble import EnsembleConfig, PETSEnsemble, train_ensemble
from .probabilistic_mlp import ProbabilisticMLP, gaussian_nll
from .rollout import truncated_rollouts

__all__ = ["EnsembleConfig", "PETSEnsemble", "ProbabilisticMLP", "gaussian_nll", "train_ensemble",
           "truncated_rollouts"]
