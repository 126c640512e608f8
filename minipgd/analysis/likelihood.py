"""Target-policy likelihood of synthetic trajectories (Sec. 5.3, Fig. 5)."""
import numpy as np


def target_log_likelihood(raw, policy, layout):
    """Mean log π(a_t|s_t) over every transition of raw trajectories (n, C, H) in environment units."""
    parts = layout.split(raw)
    return float(np.mean(policy.log_prob(parts["observations"], parts["actions"])))
