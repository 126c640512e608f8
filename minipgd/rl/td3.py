"""TD3 (Fujimoto et al., 2018) and its offline variant TD3+BC (Fujimoto & Gu, 2021).

One class for both: TD3+BC is TD3 whose actor loss gains a behavior-cloning
term, −λ Q(s, π(s)) + (π(s) − a)² with λ = α / mean|Q| (α = 2.5). Online TD3
trains minipgd's behavior policies (the datasets' `medium`/`expert` recipes);
TD3+BC is one of the paper's agents (Sec. 5.1). Actions live in [-1, 1].

Every loss is written out with its gradient next to it; `tests/test_td3.py`
checks them against finite differences in float64.
"""
from dataclasses import dataclass

import numpy as np

from ..nn.mlp import MLP
from ..nn.optim import Adam
from .agent import Agent, read_actor_file
from .policy import DeterministicGaussianPolicy


@dataclass(frozen=True)
class TD3Config:
    hidden: tuple = (256, 256)
    actor_hidden: tuple | None = None  # None: the same as `hidden`
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    discount: float = 0.99
    polyak: float = 0.005  # target networks' averaging rate (TD3 Alg. 1's τ), see `soft_update`
    policy_noise: float = 0.2  # target policy smoothing
    noise_clip: float = 0.5
    policy_delay: int = 2  # actor and targets update every 2nd critic update
    batch_size: int = 256
    alpha: float | None = None  # TD3+BC's α (2.5); None is plain online TD3


def critic_loss(critic, inputs, target):
    """L = mean((Q(s, a) − y)²); accumulates dL/dθ. inputs: (N, obs+act), target y: (N, 1)."""
    q = critic.forward(inputs)
    error = q - target
    critic.backward(2.0 * error / len(q))  # dL/dQ = 2 (Q − y) / N
    return float(np.mean(error**2))


def critic_step(critic, optimizer, inputs, target):
    """One optimizer step of `critic` on `critic_loss`; returns the loss."""
    critic.zero_grad()
    loss = critic_loss(critic, inputs, target)
    optimizer.step()
    return loss


def actor_loss(actor, critic, obs, actions=None, alpha=None):
    """TD3: L = −mean Q(s, π(s)).  TD3+BC: L = −λ mean Q(s, π(s)) + mean((π(s) − a)²), λ = α / mean|Q|.

    λ is a constant (no gradient through mean|Q|), as in the TD3+BC paper.
    Accumulates dL/dφ in the actor; the critic's gradients are polluted and must be zeroed.
    """
    pi = actor.forward(obs)
    q = critic.forward(np.concatenate([obs, pi], axis=1))
    # BEGIN ASSIGNMENT td3bc-actor-gradient
    weight = 1.0 if alpha is None else alpha / np.mean(np.abs(q))
    loss = -weight * np.mean(q)
    d_input = critic.backward(np.full_like(q, -weight / len(q)))  # dL/dQ = −λ / N
    d_pi = d_input[:, obs.shape[1] :]
    if alpha is not None:
        loss += np.mean((pi - actions) ** 2)
        d_pi = d_pi + 2.0 * (pi - actions) / pi.size  # d mean((π − a)²) / dπ
    actor.backward(d_pi)
    # END ASSIGNMENT
    return float(loss)


class TD3(Agent):
    """TD3 (config.alpha None) or TD3+BC; `state_norm`: a StateNormalizer (TD3+BC's), None for the identity."""

    ACTOR_KIND = "TD3Actor"

    def __init__(self, obs_dim, act_dim, rng, config=TD3Config(), dtype=np.float32, state_norm=None):
        super().__init__(obs_dim, act_dim, config, dtype, state_norm)
        hidden, self.actor_hidden = tuple(config.hidden), tuple(config.actor_hidden or config.hidden)
        self.actor = MLP((obs_dim, *self.actor_hidden, act_dim), rng, squash=True, dtype=dtype)
        self.critics = [MLP((obs_dim + act_dim, *hidden, 1), rng, dtype=dtype) for _ in range(2)]
        self.actor_target = MLP((obs_dim, *self.actor_hidden, act_dim), rng, squash=True, dtype=dtype)
        self.critic_targets = [MLP((obs_dim + act_dim, *hidden, 1), rng, dtype=dtype) for _ in range(2)]
        for target, source in zip([self.actor_target, *self.critic_targets], [self.actor, *self.critics]):
            soft_update(target, source, polyak=1.0)  # targets start as copies
        self.actor_optimizer = Adam(self.actor, lr=config.actor_lr)
        self.critic_optimizers = [Adam(c, lr=config.critic_lr) for c in self.critics]

    def policy(self):
        """The actor as the Gaussian policy guidance needs: N(π(s), 1) (Sec. 5.1)."""
        return DeterministicGaussianPolicy(self.act, self.obs_dim, self.act_dim, std=1.0)

    def _target_q(self, batch, rng):
        """y = r + γ (1 − d) min_i Q'_i(s', clip(π'(s') + clip(ε, ±c), ±1)), ε ~ N(0, σ²) (TD3, Eq. 15)."""
        cfg = self.config
        noise = np.clip(cfg.policy_noise * rng.standard_normal((len(batch["rewards"]), self.act_dim)),
                        -cfg.noise_clip, cfg.noise_clip)
        next_obs = self.state_norm(batch["next_observations"])
        next_action = np.clip(self.actor_target.forward(next_obs) + noise, -1.0, 1.0)
        next_inputs = np.concatenate([next_obs, next_action], axis=1).astype(self.dtype)
        next_q = np.minimum(*(target.forward(next_inputs) for target in self.critic_targets))
        not_done = 1.0 - batch["terminations"].astype(self.dtype)[:, None]
        return (batch["rewards"][:, None] + cfg.discount * not_done * next_q).astype(self.dtype)

    def update(self, batch, rng):
        """One TD3 step on a batch dict (observations, actions, rewards, next_observations, terminations)."""
        cfg = self.config
        target = self._target_q(batch, rng)
        obs, actions = self.state_norm(batch["observations"]), batch["actions"].astype(self.dtype)
        inputs = np.concatenate([obs, actions], axis=1)
        info = {f"critic{i + 1}_loss": critic_step(critic, optimizer, inputs, target)
                for i, (critic, optimizer) in enumerate(zip(self.critics, self.critic_optimizers))}
        self.updates += 1
        if self.updates % cfg.policy_delay == 0:
            self.actor.zero_grad()
            info["actor_loss"] = actor_loss(self.actor, self.critics[0], obs, actions, cfg.alpha)
            self.actor_optimizer.step()
            for target, source in zip([self.actor_target, *self.critic_targets], [self.actor, *self.critics]):
                soft_update(target, source, cfg.polyak)
        return info

    def actor_meta(self):
        return {"hidden": list(self.actor_hidden)}


def soft_update(target, source, polyak):
    """Polyak averaging θ' ← (1 − ρ) θ' + ρ θ, ρ = `polyak` (TD3 Alg. 1's τ), on the packed parameter buffers."""
    target_params, source_params = target.parameter_buffers()[0], source.parameter_buffers()[0]
    target_params *= 1.0 - polyak
    target_params += polyak * source_params


def actor_from_state(state, obs_dim, act_dim, hidden, dtype=np.float32):
    """A deterministic (tanh) actor MLP with the given weights."""
    actor = MLP((obs_dim, *hidden, act_dim), np.random.default_rng(0), squash=True, dtype=dtype)
    actor.load_state_dict(state)
    return actor


def load_actor(path):
    """The `SavedActor` (actor MLP, StateNormalizer, meta) of a file written by `TD3.save_actor`."""
    return read_actor_file(path, TD3.ACTOR_KIND, "TD3 actor", lambda arrays, meta, dtype: actor_from_state(
        arrays, meta["obs_dim"], meta["act_dim"], meta["hidden"], dtype))


def load_policy(path):
    """A saved TD3(+BC) actor as guidance's target policy, N(π(s), 1), as `TD3.policy()` gives it."""
    saved = load_actor(path)
    return DeterministicGaussianPolicy(saved.act, saved.meta["obs_dim"], saved.meta["act_dim"], std=1.0)
