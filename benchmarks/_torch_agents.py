"""TD3+BC and IQL written again in plain PyTorch (eager), for `benchmarks/agents.py`.

Single-file, CORL-style implementations that follow the original papers and the
authors' code: `nn.Sequential` MLPs, `torch.optim.Adam` with its defaults, soft
target updates parameter by parameter. Module names follow minipgd's
`state_dict` (`layers.0.weight`, `mean_net.layers.4.bias`, `log_std`), so
minipgd's weights load with a plain, strict `load_state_dict`.

Where CORL and the original code differ, minipgd's choice (the authors') is taken,
so that both sides compute the same function:

* IQL's Q loss is the sum of the two critics' MSEs (the JAX original), not their
  mean (CORL); the actor's advantages use V after the value step (the original),
  not before it (CORL).
* The Gaussian is built with `validate_args=False`: argument validation is a
  debugging aid, not part of the algorithm, and would only slow PyTorch down.
"""
import copy

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal
from torch.nn import functional as F


class MLP(nn.Module):
    """Linear -> ReLU -> ... -> Linear (-> tanh), as minipgd's `MLP`."""

    def __init__(self, sizes, squash=False):
        super().__init__()
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        if squash:
            layers.append(nn.Tanh())
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class GaussianActor(nn.Module):
    """π(a|s) = N(tanh(MLP(s)), exp(clip(log_std, −20, 2))²), log_std shared by all states."""

    def __init__(self, obs_dim, act_dim, hidden, log_std_bounds=(-20.0, 2.0)):
        super().__init__()
        self.log_std = nn.Parameter(torch.zeros(act_dim))
        self.mean_net = MLP((obs_dim, *hidden, act_dim), squash=True)
        self.log_std_min, self.log_std_max = log_std_bounds

    def forward(self, obs):
        std = torch.exp(self.log_std.clamp(self.log_std_min, self.log_std_max))
        return Normal(self.mean_net(obs), std, validate_args=False)


def load(module, state):
    """`module` with minipgd's weights (a {name: ndarray} state dict), strictly."""
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    return module


def soft_update(target, source, polyak):
    """Polyak averaging θ' ← (1 − ρ) θ' + ρ θ, ρ = `polyak` (TD3 Alg. 1's τ)."""
    with torch.no_grad():
        for target_param, param in zip(target.parameters(), source.parameters()):
            target_param.mul_(1.0 - polyak).add_(param, alpha=polyak)


def to_torch(batch):
    """minipgd's batch dict -> tensors (no copies); rewards and terminations as (N, 1) columns."""
    return {
        "observations": torch.from_numpy(batch["observations"]),
        "actions": torch.from_numpy(batch["actions"]),
        "rewards": torch.from_numpy(batch["rewards"])[:, None],
        "next_observations": torch.from_numpy(batch["next_observations"]),
        "terminations": torch.from_numpy(batch["terminations"])[:, None],
    }


class TD3BC:
    """TD3+BC (Fujimoto & Gu, 2021): α 2.5, policy noise 0.2 clipped at 0.5, actor and targets every 2nd step."""

    def __init__(self, states, obs_dim, act_dim, hidden=(256, 256), lr=3e-4, discount=0.99, polyak=0.005,
                 policy_noise=0.2, noise_clip=0.5, policy_delay=2, alpha=2.5):
        """states: minipgd's state dicts under "actor", "critic1", "critic2" (targets start as copies)."""
        self.actor = load(MLP((obs_dim, *hidden, act_dim), squash=True), states["actor"])
        self.critics = nn.ModuleList(load(MLP((obs_dim + act_dim, *hidden, 1)), states[f"critic{i}"]) for i in (1, 2))
        self.actor_target, self.critic_targets = copy.deepcopy(self.actor), copy.deepcopy(self.critics)
        for target in (self.actor_target, self.critic_targets):
            target.requires_grad_(False)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=lr)
        self.discount, self.polyak, self.policy_noise, self.noise_clip = discount, polyak, policy_noise, noise_clip
        self.policy_delay, self.alpha = policy_delay, alpha
        self.total_it = 0

    def update(self, batch, eps=None):
        """One step on a `to_torch` batch. eps: the standard normal draw of target policy smoothing, (N, act);
        None draws it here. Returns the losses as 0-d tensors (no `.item()` sync in the timed loop)."""
        self.total_it += 1
        obs, actions = batch["observations"], batch["actions"]
        with torch.no_grad():
            if eps is None:
                eps = torch.randn_like(actions)
            noise = (eps * self.policy_noise).clamp(-self.noise_clip, self.noise_clip)
            next_obs = batch["next_observations"]
            next_actions = (self.actor_target(next_obs) + noise).clamp(-1.0, 1.0)
            next_inputs = torch.cat([next_obs, next_actions], dim=1)
            next_q = torch.min(self.critic_targets[0](next_inputs), self.critic_targets[1](next_inputs))
            not_done = 1.0 - batch["terminations"].float()
            target_q = batch["rewards"] + self.discount * not_done * next_q

        inputs = torch.cat([obs, actions], dim=1)
        losses = [F.mse_loss(critic(inputs), target_q) for critic in self.critics]
        self.critic_optimizer.zero_grad()
        (losses[0] + losses[1]).backward()
        self.critic_optimizer.step()
        info = {"critic1_loss": losses[0].detach(), "critic2_loss": losses[1].detach()}

        if self.total_it % self.policy_delay == 0:
            pi = self.actor(obs)
            q = self.critics[0](torch.cat([obs, pi], dim=1))
            lmbda = self.alpha / q.abs().mean().detach()
            actor_loss = -lmbda * q.mean() + F.mse_loss(pi, actions)
            self.actor_optimizer.zero_grad()
            actor_loss.backward()
            self.actor_optimizer.step()
            info["actor_loss"] = actor_loss.detach()
            soft_update(self.actor_target, self.actor, self.polyak)
            soft_update(self.critic_targets, self.critics, self.polyak)
        return info

    def networks(self):
        """{name: module}, named as `agents.py` names minipgd's networks."""
        return {"actor": self.actor, "critic1": self.critics[0], "critic2": self.critics[1],
                "actor_target": self.actor_target, "critic1_target": self.critic_targets[0],
                "critic2_target": self.critic_targets[1]}


class IQL:
    """IQL (Kostrikov et al., 2021): expectile 0.7, β 3, weights ≤ 100; value, actor, Q, then targets."""

    def __init__(self, states, obs_dim, act_dim, hidden=(256, 256), lr=3e-4, discount=0.99, polyak=0.005,
                 expectile=0.7, temperature=3.0, max_weight=100.0, max_steps=1_000_000):
        """states: minipgd's state dicts under "actor", "value", "critic1", "critic2" (targets start as copies)."""
        self.actor = load(GaussianActor(obs_dim, act_dim, hidden), states["actor"])
        self.value = load(MLP((obs_dim, *hidden, 1)), states["value"])
        self.critics = nn.ModuleList(load(MLP((obs_dim + act_dim, *hidden, 1)), states[f"critic{i}"]) for i in (1, 2))
        self.critic_targets = copy.deepcopy(self.critics).requires_grad_(False)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.actor_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.actor_optimizer, max_steps)
        self.value_optimizer = torch.optim.Adam(self.value.parameters(), lr=lr)
        self.critic_optimizer = torch.optim.Adam(self.critics.parameters(), lr=lr)
        self.discount, self.polyak, self.expectile = discount, polyak, expectile
        self.temperature, self.max_weight = temperature, max_weight

    def update(self, batch):
        """One step on a `to_torch` batch; returns the losses as 0-d tensors."""
        obs, actions = batch["observations"], batch["actions"]
        inputs = torch.cat([obs, actions], dim=1)
        with torch.no_grad():
            q_target = torch.min(self.critic_targets[0](inputs), self.critic_targets[1](inputs))

        u = q_target - self.value(obs)  # IQL Eq. (5): expectile regression of V on Q
        value_loss = (torch.abs(self.expectile - (u < 0).float()) * u**2).mean()
        self.value_optimizer.zero_grad()
        value_loss.backward()
        self.value_optimizer.step()

        with torch.no_grad():  # IQL Eq. (7): advantage-weighted regression, with the new V
            weights = torch.exp(self.temperature * (q_target - self.value(obs))).clamp(max=self.max_weight)
        log_prob = self.actor(obs).log_prob(actions).sum(dim=1, keepdim=True)
        actor_loss = -(weights * log_prob).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        self.actor_schedule.step()

        with torch.no_grad():  # IQL Eq. (6): y = r + γ (1 − d) V(s'), with the new V
            not_done = 1.0 - batch["terminations"].float()
            target = batch["rewards"] + self.discount * not_done * self.value(batch["next_observations"])
        critic_loss = sum(F.mse_loss(critic(inputs), target) for critic in self.critics)
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()

        soft_update(self.critic_targets, self.critics, self.polyak)
        return {"value_loss": value_loss.detach(), "actor_loss": actor_loss.detach(),
                "critic_loss": critic_loss.detach()}

    def networks(self):
        return {"actor": self.actor, "value": self.value, "critic1": self.critics[0], "critic2": self.critics[1],
                "critic1_target": self.critic_targets[0], "critic2_target": self.critic_targets[1]}
