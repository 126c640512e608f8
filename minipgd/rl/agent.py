"""The contract TD3(+BC) and IQL share, which Algorithm 2, guidance, evaluation and the recipes rely on:

    update(batch, rng) -> {loss name: float}   one training step on a batch dict
    act(obs) -> (N, act) in [-1, 1]            the deterministic action, through the state normalization
    policy() -> GaussianPolicy                 the target policy guidance uses (a live view of the actor)
    state_dict() / load_state_dict(state)      the whole training state: networks, targets, optimizers,
                                               state normalization and update count
    save_actor(path, meta=None)                what acting needs: the actor and its state normalization

and each agent's module has `load_actor(path) -> SavedActor` and `load_policy(path) -> GaussianPolicy`
for the files `save_actor` writes.
"""
from typing import NamedTuple

import numpy as np

from ..nn.checkpoint import load_checkpoint, prefixed, save_checkpoint, unprefixed
from ..nn.module import Module
from ..nn.optim import Adam
from .state_norm import StateNormalizer

NORM_PREFIX = "state_norm."  # the normalization's arrays in an actor file, beside the actor's own


class Agent:
    """Subclasses set `ACTOR_KIND`, build `actor` (and their other networks and optimizers as attributes,
    alone or in lists) and implement `update`, `policy` and `actor_meta`."""

    ACTOR_KIND: str  # meta["kind"] of the files `save_actor` writes

    def __init__(self, obs_dim, act_dim, config, dtype, state_norm):
        self.obs_dim, self.act_dim, self.config, self.dtype = obs_dim, act_dim, config, np.dtype(dtype)
        # TD3+BC and CORL's IQL: StateNormalizer.fit(dataset observations); online TD3: the identity
        self.state_norm = (StateNormalizer.identity(obs_dim) if state_norm is None else state_norm).astype(dtype)
        self.updates = 0

    def update(self, batch, rng):
        """One training step on a batch dict (observations, actions, rewards, next_observations, terminations)."""
        raise NotImplementedError

    def policy(self):
        """The actor as the `GaussianPolicy` guidance needs."""
        raise NotImplementedError

    def actor_meta(self):
        """What `load_actor` needs besides obs_dim and act_dim to rebuild the actor: {name: JSON value}."""
        raise NotImplementedError

    def act(self, obs):
        """The deterministic action in [-1, 1] (IQL: the Gaussian's mean): (N, obs) -> (N, act), in `dtype`."""
        return self.actor.forward(self.state_norm(obs))

    def _parts(self):
        """(name, Module or Adam) for every network and optimizer, in attribute order."""
        for name, value in vars(self).items():
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for i, item in items:
                if isinstance(item, (Module, Adam)):
                    yield (name if i is None else f"{name}.{i}"), item

    def state_dict(self):
        """The whole training state as named arrays (a run checkpoint resumes from it exactly)."""
        state = {"updates": np.array(self.updates), **prefixed(self.state_norm.state_dict(), "state_norm/")}
        for name, part in self._parts():
            state.update(prefixed(part.state_dict(), f"{name}/"))
        return state

    def load_state_dict(self, state):
        for name, part in self._parts():
            part.load_state_dict(unprefixed(state, f"{name}/"))
        self.state_norm = StateNormalizer.from_state_dict(unprefixed(state, "state_norm/"), self.dtype)
        self.updates = int(state["updates"])

    def save_actor(self, path, meta=None):
        """The actor and the state normalization it acts through: everything `load_actor` and `load_policy` need."""
        arrays = {**self.actor.state_dict(), **prefixed(self.state_norm.state_dict(), NORM_PREFIX)}
        save_checkpoint(path, arrays, {"kind": self.ACTOR_KIND, "obs_dim": self.obs_dim, "act_dim": self.act_dim,
                                       **self.actor_meta(), **(meta or {})})


class SavedActor(NamedTuple):
    """An actor file: the network, the state normalization it acts through, and the file's metadata."""

    actor: Module
    state_norm: StateNormalizer
    meta: dict

    def act(self, obs):
        """The saving agent's `act`: (N, obs) -> (N, act) in [-1, 1]."""
        return self.actor.forward(self.state_norm(obs))


def saved_state_norm(arrays, obs_dim, dtype):
    """The normalization stored under `NORM_PREFIX` in an actor file's arrays, or the identity where there is none.

    Files written before the normalization was saved, the committed behavior policies in
    `minipgd/recipes/policies/` among them, come from online TD3, which acts on raw states.
    """
    stored = unprefixed(arrays, NORM_PREFIX)
    return StateNormalizer.from_state_dict(stored, dtype) if stored else StateNormalizer.identity(obs_dim, dtype)


def read_actor_file(path, kind, what, build):
    """The `SavedActor` of a file written by `Agent.save_actor`, in the dtype it was saved in.

    `kind`, `what`: as `load_checkpoint`'s; `build(arrays, meta, dtype)` makes the network from its arrays.
    """
    arrays, meta = load_checkpoint(path, kind=kind, what=what)
    network = {name: value for name, value in arrays.items() if not name.startswith(NORM_PREFIX)}
    dtype = next(iter(network.values())).dtype
    return SavedActor(build(network, meta, dtype), saved_state_norm(arrays, meta["obs_dim"], dtype), meta)
