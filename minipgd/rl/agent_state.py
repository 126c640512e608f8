"""An agent's whole training state (networks, targets, optimizers, update count) as named arrays.

TD3 and IQL keep their networks (`Module`s) and `Adam` optimizers as attributes,
alone or in lists; this walks them, so a checkpoint needs no per-agent code.
"""
import numpy as np

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
        state.update({f"{name}/{key}": value for key, value in part.state_dict().items()})
    return state


def load_agent_state_dict(agent, state):
    for name, part in _parts(agent):
        prefix = f"{name}/"
        part.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    agent.updates = int(state["updates"])
