"""Any saved actor as guidance's target policy: the file's kind says which agent wrote it."""
from ..nn.checkpoint import load_checkpoint
from . import iql, td3

LOADERS = {td3.TD3.ACTOR_KIND: td3.load_policy, iql.IQL.ACTOR_KIND: iql.load_policy}


def load_target_policy(path):
    """The Gaussian target policy of an actor file written by `Agent.save_actor` (TD3+BC's N(π(s), 1), IQL's own),
    or by `train-behavior` (the committed behavior policies are TD3 actors)."""
    _, meta = load_checkpoint(path, what="actor file")
    if meta.get("kind") not in LOADERS:
        raise ValueError(f"{str(path)!r} is not an actor file (its kind is {meta.get('kind')!r}; expected one of "
                         f"{sorted(LOADERS)}, written by train-agent, train-behavior or Agent.save_actor)")
    return LOADERS[meta["kind"]](path)
