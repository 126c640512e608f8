"""Analysis of synthetic trajectories (Sec. 5.3) and the behavior-regularized target (Eq. 13)."""
