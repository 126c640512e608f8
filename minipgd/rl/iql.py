"""IQL: Implicit Q-Learning (Kostrikov, Nair & Levine, 2021), the paper's second agent (Sec. 5.1).

IQL never evaluates Q at an action outside the data. Three regressions, one per network:

    value  (IQL Eq. 5):  L_V = mean(|τ − 1(u < 0)| u²),  u = min_i Q'_i(s, a) − V(s)
    Q      (IQL Eq. 6):  L_Q = Σ_i mean((Q_i(s, a) − r − γ (1 − d) V(s'))²)
    actor  (IQL Eq. 7):  L_π = −mean(w log π(a|s)),     w = min(exp(β (Q'(s, a) − V(s))), 100)

The expectile τ > ½ makes V an upper expectile of Q over the dataset's actions,
so r + γ V(s') approximates a max without querying unseen actions. The actor is
the authors' locomotion policy: π(a|s) = N(tanh(MLP(s)), exp(log_std)²) with a
state-independent log-std in [−20, 2]; policy guidance uses exactly that
Gaussian (`IQL.policy()`). Actions live in [-1, 1].

Every loss is written out with its gradient next to it; `tests/test_iql.py`
checks them against finite differences in float64.
"""
import math
from dataclasses import dataclass

import numpy as np

from ..nn.mlp import MLP
from ..nn.module import Module
from ..nn.optim import Adam, cosine_lr
from .agent import Agent, read_actor_file
from .policy import LOG_2PI, GaussianPolicy
from .td3 import critic_step, soft_update


@dataclass(frozen=True)
class IQLConfig:
    """The IQL paper's MuJoCo locomotion hyperparameters (its App. B and the authors' code)."""

    hidden: tuple = (256, 256)
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    value_lr: float = 3e-4
    discount: float = 0.99
    polyak: float = 0.005  # target Qs' averaging rate, see `soft_update`
    expectile: float = 0.7  # τ, IQL Eq. (5)
    temperature: float = 3.0  # β, IQL Eq. (7)
    max_weight: float = 100.0  # exp(β A) is clipped here
    batch_size: int = 256
    max_steps: int = 1_000_000  # the actor's learning rate decays to 0 over this many updates (cosine)
    log_std_min: float = -20.0
    log_std_max: float = 2.0

    def __post_init__(self):
        if not 0.0 < self.expectile < 1.0:
            raise ValueError(f"expectile τ must lie in (0, 1), got {self.expectile}")
        if self.temperature < 0:
            raise ValueError(f"temperature β must be non-negative, got {self.temperature}")
        if not self.log_std_min < self.log_std_max:
            raise ValueError(f"log_std bounds must satisfy min < max, got [{self.log_std_min}, {self.log_std_max}]")


class GaussianActor(Module):
    """π(a|s) = N(tanh(MLP(s)), exp(log_std)²): the MLP gives the mean, `log_std` (act,) is shared by all states."""

    def __init__(self, obs_dim, act_dim, hidden, rng, log_std_bounds=(-20.0, 2.0), dtype=np.float32):
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = obs_dim, act_dim, tuple(hidden)
        self.log_std_min, self.log_std_max = log_std_bounds
        self.add_param("log_std", np.zeros(act_dim, dtype))  # σ = 1 at the start, as in the authors' code
        self.mean_net = MLP((obs_dim, *self.hidden, act_dim), rng, squash=True, dtype=dtype)

    def forward(self, obs):
        """Mean action tanh(MLP(s)): (N, obs) -> (N, act)."""
        return self.mean_net.forward(obs)

    def backward(self, d_mean):
        return self.mean_net.backward(d_mean)

    def log_std(self):
        """The log-std clipped to [log_std_min, log_std_max]: (act,)."""
        return np.clip(self.params["log_std"], self.log_std_min, self.log_std_max)

    def log_std_backward(self, d_log_std):
        """Accumulate dL/d log_std; zero where the clip is active (the clip's derivative, as jnp.clip's)."""
        raw = self.params["log_std"]
        inside = (raw >= self.log_std_min) & (raw <= self.log_std_max)
        self.grads["log_std"] += np.where(inside, d_log_std, 0.0).astype(raw.dtype)


class IQLPolicy(GaussianPolicy):
    """IQL's actor as guidance's target policy: N(tanh(MLP(s)), exp(log_std)²) in action space (Sec. 5.1).

    `act`: states -> the mean through the state normalization (`IQL.act`, `SavedActor.act`); `actor`: its GaussianActor.
    """

    def __init__(self, act, actor):
        self.act, self.actor, self.obs_dim, self.act_dim = act, actor, actor.obs_dim, actor.act_dim

    def _mean_std(self, states):
        return self.act(states), np.exp(self.actor.log_std())


def expectile_loss(value, obs, q, expectile):
    """IQL Eq. (5): L_V = mean(|τ − 1(u < 0)| u²), u = Q − V(s); accumulates dL/dψ. q: (N, 1), a constant."""
    u = q - value.forward(obs)
    weight = np.where(u < 0, 1.0 - expectile, expectile).astype(u.dtype)  # |τ − 1(u < 0)|
    value.backward(-2.0 * weight * u / len(u))  # dL/dV = −2 |τ − 1(u < 0)| u / N
    return float(np.mean(weight * u**2))


def advantage_weights(q, v, temperature, max_weight):
    """w = min(exp(β (Q − V)), w_max) (IQL Eq. 7), clipping the exponent first so it cannot overflow."""
    return np.exp(np.minimum(temperature * (q - v), math.log(max_weight)))


def awr_loss(actor, obs, actions, weights):
    """IQL Eq. (7): L_π = −mean(w log π(a|s)), w: (N, 1) constants; accumulates dL/dφ and dL/d log_std.

    log π(a|s) = Σ_i [−½ z_i² − log σ_i − ½ log 2π],  z = (a − μ(s)) / σ, so
    ∂ log π / ∂μ = z / σ  and  ∂ log π / ∂ log σ = z² − 1.
    """
    mean, log_std = actor.forward(obs), actor.log_std()
    z = (actions - mean) * np.exp(-log_std)
    log_prob = np.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=1, keepdims=True)
    actor.backward(-weights * z * np.exp(-log_std) / len(obs))  # dL/dμ = −w z / (σ N)
    actor.log_std_backward(-np.mean(weights * (z**2 - 1.0), axis=0))  # dL/d log σ = −mean(w (z² − 1))
    return float(-np.mean(weights * log_prob))


class IQL(Agent):
    """`state_norm`: a StateNormalizer (CORL's), None for the identity."""

    ACTOR_KIND = "IQLActor"

    def __init__(self, obs_dim, act_dim, rng, config=IQLConfig(), dtype=np.float32, state_norm=None):
        super().__init__(obs_dim, act_dim, config, dtype, state_norm)
        hidden = tuple(config.hidden)
        self.actor = GaussianActor(obs_dim, act_dim, hidden, rng, (config.log_std_min, config.log_std_max), dtype)
        self.value = MLP((obs_dim, *hidden, 1), rng, dtype=dtype)
        self.critics = [MLP((obs_dim + act_dim, *hidden, 1), rng, dtype=dtype) for _ in range(2)]
        self.critic_targets = [MLP((obs_dim + act_dim, *hidden, 1), rng, dtype=dtype) for _ in range(2)]
        for target, source in zip(self.critic_targets, self.critics):
            soft_update(target, source, polyak=1.0)  # targets start as copies
        self.actor_optimizer = Adam(self.actor, lr=config.actor_lr)
        self.value_optimizer = Adam(self.value, lr=config.value_lr)
        self.critic_optimizers = [Adam(c, lr=config.critic_lr) for c in self.critics]

    def policy(self):
        """The actor as a `GaussianPolicy` for policy guidance (a live view: it follows later updates)."""
        return IQLPolicy(self.act, self.actor)

    def update(self, batch, rng):
        """One IQL step on a batch dict (observations, actions, rewards, next_observations, terminations).

        The order of the authors' code: value (Eq. 5), actor (Eq. 7) and Q (Eq. 6) with the new V, then
        the target Qs. `rng` is unused (no step of IQL is random); it keeps the signature of `Agent.update`.
        """
        cfg = self.config
        obs, actions = self.state_norm(batch["observations"]), batch["actions"].astype(self.dtype)
        inputs = np.concatenate([obs, actions], axis=1)
        q_target = np.minimum(*(target.forward(inputs) for target in self.critic_targets))
        info = {}

        self.value.zero_grad()
        info["value_loss"] = expectile_loss(self.value, obs, q_target, cfg.expectile)
        self.value_optimizer.step()

        weights = advantage_weights(q_target, self.value.forward(obs), cfg.temperature, cfg.max_weight)
        info["actor_loss"] = self._actor_step(obs, actions, weights)

        # Eq. 6's L_Q = Σ_i mean((Q_i(s, a) − y)²) is a sum of one `critic_loss` per Q_i (y a constant)
        td_target = self._td_target(batch)
        info["critic_loss"] = sum(critic_step(critic, optimizer, inputs, td_target)
                                  for critic, optimizer in zip(self.critics, self.critic_optimizers))

        for target_net, source in zip(self.critic_targets, self.critics):
            soft_update(target_net, source, cfg.polyak)
        self.updates += 1
        return info

    def _actor_step(self, obs, actions, weights):
        self.actor.zero_grad()
        loss = awr_loss(self.actor, obs, actions, weights)
        self.actor_optimizer.step(cosine_lr(self.updates, self.config.max_steps, self.config.actor_lr))
        return loss

    def _td_target(self, batch):
        """y = r + γ (1 − d) V(s') (IQL Eq. 6), a constant: (N, 1)."""
        next_v = self.value.forward(self.state_norm(batch["next_observations"]))
        not_done = 1.0 - batch["terminations"].astype(self.dtype)[:, None]
        return (batch["rewards"][:, None] + self.config.discount * not_done * next_v).astype(self.dtype)

    def actor_meta(self):
        return {"hidden": list(self.actor.hidden), "log_std_min": self.actor.log_std_min,
                "log_std_max": self.actor.log_std_max}


def _actor_from_state(state, meta, dtype):
    actor = GaussianActor(meta["obs_dim"], meta["act_dim"], meta["hidden"], np.random.default_rng(0),
                          (meta["log_std_min"], meta["log_std_max"]), dtype)
    actor.load_state_dict(state)
    return actor


def load_actor(path):
    """The `SavedActor` (GaussianActor, StateNormalizer, meta) of a file written by `IQL.save_actor`."""
    return read_actor_file(path, IQL.ACTOR_KIND, "IQL actor", _actor_from_state)


def load_policy(path):
    """A saved IQL actor as guidance's target policy (`IQLPolicy`), as `IQL.policy()` gives it."""
    saved = load_actor(path)
    return IQLPolicy(saved.act, saved.actor)
