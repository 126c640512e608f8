"""An agent's whole training state (networks, targets, optimizers, update count) as named arrays.

TD3 and IQL keep their networks (`Module`s) and `Adam` optimizers as attributes,
alone or in lists; this walks them, so a checkpoint needs no per-agent code.
"""
import numpy as np

from ..nn.checkpoint import prefixed, unprefixed
from ..nn.module import Module
from ..nn.optim import Adam


def _parts(agent):
    """(name, Module or Adam) for every network and optimizer of `agent`, in attribute order."""
    for name, value in vars(agent).items():
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            if isinstance(item, (Module, Adam)):
                yield (name if i is None else f"{name}.{i}"), item


def agent_state_dict(agent):
    state = {"updates": np.array(agent.updates)}
    for name, part in _parts(agent):
        state.update(prefixed(part.state_dict(), f"{name}/"))
    return state


def load_agent_state_dict(agent, state):
    for name, part in _parts(agent):
        part.load_state_dict(unprefixed(state, f"{name}/"))
    agent.updates = int(state["updates"])
