"""Automatic λ (auto_scale.py): the search, its default target, and `auto` in Algorithm 2 and the CLI."""
import numpy as np
import pytest

from minipgd.diffusion import TrajectoryLayout
from minipgd.rl import GoalReachingPolicy
from minipgd.rl.auto_scale import GRID, choose_scale, default_margin, on_policy_target
from minipgd.rl.policy import target_log_likelihood
from minipgd.rl.synthetic import Algorithm2Config, train_agent

from test_algorithm2 import agent, setup, tiny  # noqa: F401  (setup: a fixture)

LAYOUT = TrajectoryLayout(obs_dim=2, act_dim=2)
POLICY = GoalReachingPolicy(goal=[0.0, 0.0], gain=1.0, std=0.5)


class PulledModel:
    """A stand-in diffusion model whose actions move from noise towards the policy's mean as λ grows, as far as
    `pull(λ)` says (1: exactly the mean), so the likelihood each λ gives is known."""

    layout = LAYOUT

    def __init__(self, pull):
        self.pull, self.scales = pull, []

    def sample(self, n, rng, policy=None, scale=0.0, n_steps=None):
        self.scales.append(scale)
        raw = np.zeros((n, LAYOUT.channels, 4))
        raw[:, LAYOUT.obs] = rng.uniform(-1, 1, (n, 2, 4))
        states = LAYOUT.split(raw)["observations"]
        mean = policy.mean_std(states)[0].transpose(0, 2, 1)
        raw[:, LAYOUT.act] = mean + (1 - self.pull(scale)) * rng.uniform(-1, 1, mean.shape)
        return raw


def test_the_smallest_lambda_reaching_the_target_is_chosen_and_the_search_stops_there():
    model = PulledModel(lambda scale: min(scale, 1.0))
    target = target_log_likelihood(model.sample(256, np.random.default_rng(0), POLICY, 0.5), POLICY, LAYOUT) - 0.05
    choice = choose_scale(model, POLICY, np.random.default_rng(1), sampler_steps=4, target=target, probe=256)
    assert choice.scale == 0.5 and list(choice.tried) == [0.0, 0.125, 0.25, 0.5] and choice.target == target
    assert choice.tried[0.5] >= target > choice.tried[0.25]


def test_when_no_lambda_reaches_the_target_the_most_likely_probe_wins():
    model = PulledModel(lambda scale: 1.0 - abs(scale - 2.0) / 8)  # best at λ = 2, worse on either side
    choice = choose_scale(model, POLICY, np.random.default_rng(0), sampler_steps=4, target=1e9, probe=128)
    assert choice.scale == 2.0 and list(choice.tried) == list(GRID)


OWN = 2 * (-np.log(0.5) - 0.5 * np.log(2 * np.pi) - 0.5)  # E[log π(a|s)], a ~ π: per dimension, twice


def test_the_default_target_is_the_policys_own_likelihood_less_one_standard_deviation():
    states = np.random.default_rng(0).uniform(-1, 1, (50_000, 2))
    expected = OWN
    target = on_policy_target(POLICY, states, np.random.default_rng(1))
    assert default_margin(POLICY) == 1.0  # √(act_dim / 2)
    assert target == pytest.approx(expected - 1.0, abs=0.02)
    assert on_policy_target(POLICY, states, np.random.default_rng(1), margin=0.0) == pytest.approx(expected, abs=0.02)


def test_without_states_the_target_comes_from_the_unguided_probe():
    model = PulledModel(lambda scale: min(scale, 1.0))
    choice = choose_scale(model, POLICY, np.random.default_rng(0), sampler_steps=4, probe=512)
    assert choice.target == pytest.approx(OWN - 1.0, abs=0.05)  # on the probe's 512 x 4 states
    assert model.scales[0] == 0.0 and choice.tried[choice.scale] >= choice.target


def test_a_bad_grid_is_refused():
    with pytest.raises(ValueError, match="starts at 0"):
        choose_scale(PulledModel(lambda s: 0.0), POLICY, np.random.default_rng(0), 4, grid=(0.5, 1.0))


def test_auto_in_algorithm2_logs_and_returns_each_chosen_lambda(setup, rng):  # noqa: F811
    model, real = setup
    lines, generations = [], []
    train_agent(agent(rng), real, tiny(guidance_scale="auto"), rng, model=model, evaluate=lambda: 0.0,
                log=lines.append, generations=generations)
    generated = [line for line in lines if line.startswith("epoch")]
    assert "auto" not in generated[0] and generations[0]["lambda"] == 0.0  # the first generation is unguided
    scales = [g["lambda"] for g in generations[1:]]
    assert len(scales) == 2 and all(scale in GRID for scale in scales)
    for line, scale in zip(generated[1:], scales):
        assert f"(λ = {scale}, auto: target log π " in line and "probes 0: " in line


def test_auto_needs_a_guided_source_and_other_words_are_refused():
    with pytest.raises(ValueError, match="'auto' chooses λ for guided generations; source 'unguided' has none"):
        Algorithm2Config(source="unguided", guidance_scale="auto")
    with pytest.raises(ValueError, match="must be >= 0 or 'auto', got 'sometimes'"):
        Algorithm2Config(guidance_scale="sometimes")
