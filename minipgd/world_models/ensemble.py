"""The PETS ensemble: the learned transition model T(s'|s, a; θ) of Sec. 3.1 (Eq. 6).

Seven probabilistic MLPs are trained on the offline transitions, each on its own
bootstrap stream of mini-batches; a held-out split scores them and the five with
the lowest held-out error (the *elites*) make the model. A step samples one elite
at random per transition and draws [s' − s, r] from its Gaussian (MOPO's recipe,
Yu et al., 2020). Inputs [s, a] are standardized with the training data's
statistics; outputs are in environment units.
"""
from dataclasses import dataclass

import numpy as np

from ..nn.checkpoint import load_checkpoint, prefixed, save_checkpoint, unprefixed
from ..nn.optim import Adam
from ..runtime.threads import adapt_threads, under_thread_policy
from .probabilistic_mlp import ProbabilisticMLP


@dataclass(frozen=True)
class EnsembleConfig:
    members: int = 7  # PETS / MOPO
    elites: int = 5
    hidden: tuple = (200, 200, 200, 200)  # MOPO's 4 × 200 swish layers
    lr: float = 1e-3
    batch_size: int = 256
    steps: int = 5_000  # gradient steps per member (MOPO trains to convergence on the held-out loss)
    holdout_fraction: float = 0.1
    eval_every: int = 500  # held-out error is measured, and each member's best weights kept, this often
    log_var_bounds: tuple = (-10.0, 0.5)
    seed: int = 0

    def __post_init__(self):
        if not 1 <= self.elites <= self.members:
            raise ValueError(f"need 1 <= elites <= members, got {self.elites} of {self.members}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must lie in (0, 1), got {self.holdout_fraction}")
        if min(self.steps, self.batch_size, self.eval_every) < 1:
            raise ValueError("steps, batch_size and eval_every must be positive")


class PETSEnsemble:
    """Members (ProbabilisticMLP), input standardization and the elite indices."""

    def __init__(self, members, obs_dim, act_dim, input_shift, input_scale, elites):
        if len(elites) < 1 or not set(elites) <= set(range(len(members))):
            raise ValueError(f"elites {elites} must index the {len(members)} members")
        self.members, self.obs_dim, self.act_dim = members, obs_dim, act_dim
        self.input_shift, self.input_scale = np.asarray(input_shift), np.asarray(input_scale)
        self.elites = [int(i) for i in elites]

    def inputs(self, obs, actions):
        obs, actions = np.asarray(obs), np.asarray(actions)
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim or actions.shape != (len(obs), self.act_dim):
            raise ValueError(f"expected obs (N, {self.obs_dim}) and actions (N, {self.act_dim}), "
                             f"got {obs.shape} and {actions.shape}")
        x = (np.concatenate([obs, actions], axis=1) - self.input_shift) * self.input_scale
        return x.astype(self.members[0].params["max_log_var"].dtype)

    def predict(self, obs, actions):
        """Each elite's Gaussian over [s' − s, r]: mean, log-variance, both (elites, N, obs_dim + 1)."""
        x = self.inputs(obs, actions)
        outputs = [self.members[i].forward(x) for i in self.elites]
        return np.stack([m for m, _ in outputs]), np.stack([v for _, v in outputs])

    def step(self, obs, actions, rng):
        """s' ~ T(·|s, a; θ), r (Eq. 6): one random elite per transition -> next_obs (N, obs_dim), reward (N,)."""
        mean, log_var = self.predict(obs, actions)
        pick = rng.integers(0, len(self.elites), size=len(obs))
        rows = np.arange(len(obs))
        mean, std = mean[pick, rows], np.exp(0.5 * log_var[pick, rows])
        delta = mean + std * rng.standard_normal(mean.shape)
        return np.asarray(obs) + delta[:, : self.obs_dim], delta[:, self.obs_dim]

    def save(self, path, meta=None):
        arrays = {k: v for i, m in enumerate(self.members) for k, v in prefixed(m.state_dict(), f"member{i}.").items()}
        arrays.update(input_shift=self.input_shift, input_scale=self.input_scale)
        member = self.members[0]
        save_checkpoint(path, arrays, {"kind": "PETSEnsemble", "obs_dim": self.obs_dim, "act_dim": self.act_dim,
                                       "members": len(self.members), "hidden": list(member.hidden),
                                       "elites": self.elites, **(meta or {})})

    @classmethod
    def load(cls, path):
        arrays, meta = load_checkpoint(path, kind="PETSEnsemble", what="world model")
        members = []
        for i in range(meta["members"]):
            member = ProbabilisticMLP(meta["obs_dim"] + meta["act_dim"], meta["obs_dim"] + 1, meta["hidden"],
                                      np.random.default_rng(0))
            member.load_state_dict(unprefixed(arrays, f"member{i}."))
            members.append(member)
        return cls(members, meta["obs_dim"], meta["act_dim"], arrays["input_shift"], arrays["input_scale"],
                   meta["elites"])


def model_targets(transitions):
    """[s, a] -> [s' − s, r]: the regression data of the world model."""
    obs = transitions["observations"]
    x = np.concatenate([obs, transitions["actions"]], axis=1)
    y = np.concatenate([transitions["next_observations"] - obs, transitions["rewards"][:, None]], axis=1)
    return x.astype(np.float64), y.astype(np.float64)


def heldout_errors(members, x, y):
    """Mean squared error of each member's mean prediction on held-out data."""
    return np.array([float(np.mean((m.forward(x)[0] - y) ** 2)) for m in members])


@under_thread_policy
def train_ensemble(transitions, config=EnsembleConfig(), log=print):
    """Fit the ensemble to offline transitions (dict of observations, actions, rewards, next_observations)."""
    x, y = model_targets(transitions)
    if len(x) < 2 * config.batch_size:
        raise ValueError(f"need at least {2 * config.batch_size} transitions to train the world model, got {len(x)}")
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(x))
    n_holdout = max(int(config.holdout_fraction * len(x)), 1)
    shift, std = x.mean(axis=0), x.std(axis=0)
    scale = 1.0 / np.where(std > 1e-12, std, 1.0)
    x = ((x - shift) * scale).astype(np.float32)
    y = y.astype(np.float32)
    train, holdout = order[n_holdout:], order[:n_holdout]
    obs_dim, act_dim = transitions["observations"].shape[1], transitions["actions"].shape[1]
    members = [ProbabilisticMLP(obs_dim + act_dim, obs_dim + 1, config.hidden, rng, config.log_var_bounds)
               for _ in range(config.members)]
    optimizers = [Adam(m, lr=config.lr) for m in members]
    best = heldout_errors(members, x[holdout], y[holdout])
    best_states = [m.state_dict() for m in members]
    for step in range(1, config.steps + 1):
        adapt_threads("world model training")  # a safe point for the thread policy
        losses = []
        for member, optimizer in zip(members, optimizers):
            batch = train[rng.integers(0, len(train), size=config.batch_size)]  # each member its own bootstrap
            member.zero_grad()
            losses.append(member.loss_and_backward(x[batch], y[batch]))
            optimizer.step()
        if step % config.eval_every == 0 or step == config.steps:
            errors = heldout_errors(members, x[holdout], y[holdout])
            for i in np.flatnonzero(errors < best):  # keep each member's best weights (early stopping)
                best[i], best_states[i] = errors[i], members[i].state_dict()
            log(f"world model step {step:>6}/{config.steps}  NLL {np.mean(losses):8.3f}  "
                f"held-out MSE {np.mean(errors):.4f} (best {np.mean(best):.4f})")
    for member, state in zip(members, best_states):
        member.load_state_dict(state)
    elites = np.argsort(best)[: config.elites]
    log(f"elites {sorted(elites.tolist())}: held-out MSE {best[elites].mean():.4f}")
    return PETSEnsemble(members, obs_dim, act_dim, shift, scale, sorted(elites.tolist()))
