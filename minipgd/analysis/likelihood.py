"""Target-policy likelihood of synthetic trajectories (Sec. 5.3, Fig. 5)."""
import numpy as np


def target_log_likelihood(raw, policy, layout):
    """Mean log π(a_t|s_t) over every transition of raw trajectories (n, C, H) in environment units."""
    states = raw[:, layout.obs].transpose(0, 2, 1)
    actions = raw[:, layout.act].transpose(0, 2, 1)
    return float(np.mean(policy.log_prob(states, actions)))
