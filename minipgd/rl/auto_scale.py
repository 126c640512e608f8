"""Automatic λ: the guidance scale that makes synthetic actions about as likely as the policy's own.

The paper leaves this as future work (Sec. 5.3): guidance raises the target
policy's likelihood of the synthetic actions (Fig. 5), but the λ that reaches a
given likelihood differs from one target policy to the next, and too much
guidance pulls trajectories off the data (higher dynamics error, Fig. 6).
`choose_scale` searches for λ at each generation: it samples a small probe batch
at λ = 0 and then at each λ of a doubling grid, smallest first, and keeps the
first λ whose mean log π(a|s) reaches the target; if none does, the λ whose probe was most likely
(past it, more guidance makes the samples less likely again: Fig. 5 at λ = 10).

The default target is what the policy's own actions score on the dataset's
states, E_{s~D, a~π(·|s)}[log π(a|s)], minus a margin of one standard deviation
of log π(a|s) for a single such action. For a diagonal Gaussian
log π(a|s) = const − ½ Σ_i z_i² with z ~ N(0, I), so that standard deviation is
√(act_dim / 2) whatever the policy's σ. Synthetic actions that reach it are as
likely as a typical action of the policy itself: guided enough to be on-policy
data, and no further from the data than that needs.
"""
from typing import NamedTuple

import numpy as np

from .policy import target_log_likelihood

GRID = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # λ tried, smallest first
PROBE_TRAJECTORIES = 64  # per λ tried


def default_margin(policy):
    """One standard deviation of log π(a|s) for a ~ π(·|s), π a diagonal Gaussian: √(act_dim / 2)."""
    return float(np.sqrt(policy.act_dim / 2.0))


def on_policy_target(policy, states, rng, margin=None):
    """E_{s in states, a ~ π(·|s)}[log π(a|s)] − margin (default `default_margin`): the default target."""
    actions = policy.sample(states, rng)
    own = float(np.mean(policy.log_prob(states, actions)))
    return own - (default_margin(policy) if margin is None else margin)


class ScaleChoice(NamedTuple):
    scale: float  # the λ chosen
    target: float  # the mean log π it was to reach
    tried: dict  # {λ tried: mean log π of its probe's actions}


def choose_scale(model, policy, rng, sampler_steps, target=None, states=None, probe=PROBE_TRAJECTORIES, grid=GRID):
    """The smallest λ of `grid` (which starts at 0) whose probe of `probe` trajectories from `model` reaches a
    mean log π ≥ `target`, else the λ of the most likely probe -> ScaleChoice.

    `target` None: `on_policy_target` on `states` (the dataset's), or on the states of the λ = 0 probe, the
    model's rendition of them, when `states` is None too."""
    if probe < 1 or not grid or sorted(grid)[0] != 0.0:
        raise ValueError(f"need probe >= 1 and a grid of λ >= 0 that starts at 0, got probe {probe}, grid {grid}")
    tried = {}
    for scale in sorted(grid):
        raw = model.sample(probe, rng, policy=policy, scale=scale, n_steps=sampler_steps)
        if target is None:
            probe_states = model.layout.split(raw)["observations"].reshape(-1, model.layout.obs_dim)
            target = on_policy_target(policy, probe_states if states is None else states, rng)
        tried[scale] = target_log_likelihood(raw, policy, model.layout)
        if tried[scale] >= target:
            return ScaleChoice(scale, target, tried)
    return ScaleChoice(max(tried, key=tried.get), target, tried)
