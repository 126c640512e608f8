"""Benchmark minipgd's offline RL agents (TD3+BC, IQL) against the same agents in PyTorch eager.

Run from the repository root:

    python benchmarks/agents.py
    python benchmarks/agents.py --quick       # a fast smoke run

What is measured, all in one process on the CPU: update steps per second of
TD3+BC and IQL at batch 256 with 256-256 networks, 17-dimensional observations
and 6-dimensional actions (HalfCheetah's sizes), on a fixed random batch (batch
sampling is not timed). One update is everything `agent.update(batch)` does:
TD3+BC's target with policy smoothing, both critics, and on every 2nd update
the actor and the three target networks; IQL's value, actor (cosine lr), both
Qs and the target Qs. Because TD3+BC does the actor only every 2nd update, each
timed block is an even number of updates. The contenders are timed in
alternation (one block of minipgd, one of PyTorch, ...) so that a busy phase of
the machine hits both, each block after a quarter-second pause (so that the
other contender's idle BLAS/OpenMP threads have stopped spinning), and the
median block is reported.

minipgd runs under its thread policy, as the command line and Algorithm 2 run it:
automatic unless the user chose (BLAS threads on the cores nobody else uses,
re-chosen at most once a second at a safe point before each update; minipgd's
updates first run for a few seconds so that the policy has chosen, and the
count is printed). The timed blocks then keep that count: in blocks that
alternate with other contenders, the policy would count their time as its
loop's and choose again on that (as `unet.py` does).
`MINIPGD_THREADS=1 python benchmarks/agents.py` times one BLAS thread,
`MINIPGD_THREADS=default` OpenBLAS's own threads.

The PyTorch contender (`_torch_agents.py`, optional: `pip install -e .[bench]`)
is the same networks, losses and Adam optimizers written in plain PyTorch eager,
CORL-style, with `torch.set_num_threads(2)`; without PyTorch it is skipped with
a note.

Same-function check, before anything is timed (the script exits 1 on failure):

1. The PyTorch networks are loaded with the weights of a freshly built minipgd
   agent (`state_dict` of actor, critics, value; PyTorch's targets start as
   copies, as minipgd's do). On a random batch of 256, the actor (IQL: the
   Gaussian's mean), both critics and (IQL) the value network must give
   minipgd's outputs.
2. Both agents then take the same two updates (two different batches). TD3+BC's
   target-policy-smoothing noise is made identical by handing minipgd an `rng`
   whose `standard_normal` returns a given ε and PyTorch the same ε (each side
   scales and clips it itself). Every loss of both updates must agree (for
   TD3+BC: both critics' losses of updates 1 and 2 and the actor loss of update
   2; for IQL: value, actor and Q losses of both), and afterwards every
   parameter of every network, targets included, must agree. Two updates cover
   the TD3+BC actor step and the soft target updates, and update 2's losses
   are evaluated at the parameters update 1 produced.

Tolerances: outputs and losses |diff| ≤ 1e-4 · max(1, |minipgd value|);
parameters |diff| ≤ 1e-5 · max(1, |minipgd value|) (an Adam step moves a
weight by about lr = 3e-4, so a missing or wrong step would show).
"""
import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from _common import adapt_threads, minipgd_thread_scope, same_function as report, settle  # noqa: E402  (benchmarks/)
from minipgd.runtime.threads import blas_threads  # noqa: E402
from minipgd.runtime.openblas import blas_thread_count  # noqa: E402
from minipgd.rl.iql import IQL, IQLConfig  # noqa: E402
from minipgd.rl.td3 import TD3, TD3Config  # noqa: E402

OBS_DIM, ACT_DIM, HIDDEN, BATCH = 17, 6, (256, 256), 256  # HalfCheetah
TORCH_THREADS = 2
TOLERANCE = 1e-4  # outputs and losses: max |diff| / max(1, |minipgd value|)
PARAM_TOLERANCE = 1e-5  # parameters after two updates
SETTLE_S = 0.25  # idle time before each timed block (see `updates_per_second`)


# ----------------------------------------------------------------------------- the agents as the check sees them


def random_batch(rng, n=BATCH):
    return {
        "observations": rng.standard_normal((n, OBS_DIM), dtype=np.float32),
        "actions": rng.uniform(-1.0, 1.0, (n, ACT_DIM)).astype(np.float32),
        "rewards": rng.standard_normal(n, dtype=np.float32),
        "next_observations": rng.standard_normal((n, OBS_DIM), dtype=np.float32),
        "terminations": rng.random(n) < 0.05,
    }


def minipgd_networks(agent):
    """{name: minipgd module} for every network of a TD3 or IQL agent, named as `_torch_agents` names them."""
    nets = {"actor": agent.actor}
    if isinstance(agent, IQL):
        nets["value"] = agent.value
    else:
        nets["actor_target"] = agent.actor_target
    for i, (critic, target) in enumerate(zip(agent.critics, agent.critic_targets), start=1):
        nets[f"critic{i}"], nets[f"critic{i}_target"] = critic, target
    return nets


class FixedNormal:
    """A stand-in for minipgd's `rng` whose `standard_normal` returns a given ε (TD3's smoothing noise)."""

    def __init__(self, eps):
        self.eps = eps

    def standard_normal(self, shape):
        assert tuple(shape) == self.eps.shape, f"minipgd asked for noise of shape {shape}, not {self.eps.shape}"
        return self.eps


def check_same_function(name, agent, torch_agent, rng):
    """Outputs at minipgd's weights, then the losses of two identical updates and the parameters after them."""
    import torch

    from _torch_agents import to_torch

    print(f"  {name}")
    nets, torch_nets = minipgd_networks(agent), torch_agent.networks()
    ok = True
    batch = random_batch(rng)
    obs, inputs = batch["observations"], np.concatenate([batch["observations"], batch["actions"]], axis=1)
    with torch.no_grad():
        for key in ("actor", "value", "critic1", "critic2"):
            if key not in nets:
                continue
            x = inputs if key.startswith("critic") else obs
            out = torch_nets[key](torch.from_numpy(x))
            out = out.mean if isinstance(out, torch.distributions.Normal) else out  # IQL's actor: the Gaussian's mean
            ok &= report(f"{key} output", out.numpy(), nets[key].forward(x), TOLERANCE)

    for step in (1, 2):
        batch = random_batch(rng)
        if isinstance(agent, TD3):
            eps = rng.standard_normal((BATCH, ACT_DIM)).astype(np.float32)
            info = agent.update(batch, FixedNormal(eps))
            torch_info = torch_agent.update(to_torch(batch), torch.from_numpy(eps))
        else:
            info = agent.update(batch, rng)
            torch_info = torch_agent.update(to_torch(batch))
        if set(info) != set(torch_info):
            print(f"    update {step}: minipgd reports {sorted(info)}, PyTorch {sorted(torch_info)}  <-- MISMATCH")
            ok = False
        for key in sorted(set(info) & set(torch_info)):
            ok &= report(f"update {step} {key}", torch_info[key].item(), info[key], TOLERANCE)

    for key, net in nets.items():
        state, torch_state = net.state_dict(), torch_nets[key].state_dict()
        diffs = [(float(np.max(np.abs(torch_state[k].numpy() - p))), k) for k, p in state.items()]
        worst, worst_name = max(diffs)
        passed = set(state) == set(torch_state) and all(
            d <= PARAM_TOLERANCE * max(1.0, float(np.max(np.abs(state[k])))) for d, k in diffs)
        print(f"    {key + ' parameters after 2 updates':<41} max |diff| = {worst:.1e}  ({worst_name})  "
              f"{'ok' if passed else '<-- MISMATCH'}")
        ok &= passed
    return ok


# ----------------------------------------------------------------------------- timing


def updates_per_second(blocks, repeats, block, warmup=1):
    """Median updates/s of each callable (one call = `block` updates), the callables timed in alternation.

    Before each timed block the process sleeps SETTLE_S, untimed: OpenBLAS's and OpenMP's worker threads
    keep spinning for a while after their last job, and would otherwise steal a core from the next contender.
    """
    for fn in blocks:
        for _ in range(warmup):
            fn()
    times = [[] for _ in blocks]
    for _ in range(repeats):
        for fn, elapsed in zip(blocks, times):
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            fn()
            elapsed.append(time.perf_counter() - start)
    return [block / statistics.median(elapsed) for elapsed in times]


def minipgd_block(agent, batch, rng, block):
    """`block` updates, each after the thread policy's safe-point call, as Algorithm 2's loop makes them (run
    inside minipgd's thread policy scope)."""
    def run():
        for _ in range(block):
            adapt_threads("agents.py")
            agent.update(batch, rng)

    return run


def torch_block(agent, batch, block):
    def run():
        for _ in range(block):
            agent.update(batch)

    return run


# ----------------------------------------------------------------------------- the run


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per contender (default 7)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 repeats of 4-update blocks")
    return parser.parse_args()


def build_agents(with_torch):
    """(name, minipgd agent, PyTorch agent or None) for TD3+BC and IQL, the PyTorch ones with minipgd's weights."""
    td3 = TD3(OBS_DIM, ACT_DIM, np.random.default_rng(0), TD3Config(hidden=HIDDEN, alpha=2.5))
    iql = IQL(OBS_DIM, ACT_DIM, np.random.default_rng(1), IQLConfig(hidden=HIDDEN))
    torch_td3 = torch_iql = None
    if with_torch:
        import _torch_agents

        states = {key: net.state_dict() for key, net in minipgd_networks(td3).items() if "target" not in key}
        torch_td3 = _torch_agents.TD3BC(states, OBS_DIM, ACT_DIM, HIDDEN, alpha=2.5)
        states = {key: net.state_dict() for key, net in minipgd_networks(iql).items() if "target" not in key}
        torch_iql = _torch_agents.IQL(states, OBS_DIM, ACT_DIM, HIDDEN, max_steps=IQLConfig().max_steps)
    return [("TD3+BC", td3, torch_td3), ("IQL", iql, torch_iql)]


def main():
    args = parse_args()
    repeats, block = (2, 4) if args.quick else (args.repeats, 20)
    assert block % 2 == 0, "TD3+BC updates its actor every 2nd step: time an even number of updates"
    with_torch = importlib.util.find_spec("torch") is not None
    if with_torch:
        import torch

        torch.set_num_threads(TORCH_THREADS)
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("note: torch not installed; PyTorch eager is not measured")
    print(f"batch {BATCH}, networks {OBS_DIM}(+{ACT_DIM})-{'-'.join(map(str, HIDDEN))}, "
          f"blocks of {block} updates, median of {repeats}")

    agents = build_agents(with_torch)
    rng = np.random.default_rng(2)
    if with_torch:
        print("same-function check (PyTorch loaded with minipgd's weights, float32, batch 256):")
        ok = True
        for name, agent, torch_agent in agents:
            ok &= check_same_function(name, agent, torch_agent, rng)
        if not ok:
            print("\n!!! SAME-FUNCTION CHECK FAILED: the agents differ, timings would compare different "
                  "things. Not timing. !!!")
            sys.exit(1)

    rows = []
    for name, agent, torch_agent in agents:
        print(f"timing {name} ...", flush=True)
        batch = random_batch(rng)
        one_thread = at_blas_count(1, minipgd_block(agent, batch, np.random.default_rng(4), block))
        blocks = {"minipgd, thread policy": minipgd_block(agent, batch, np.random.default_rng(3), block),
                  "minipgd, one BLAS thread": one_thread}
        if torch_agent is not None:
            from _torch_agents import to_torch

            blocks["PyTorch eager"] = torch_block(torch_agent, to_torch(batch), block)
        with minipgd_thread_scope():  # as the command line and Algorithm 2 run it
            settle(blocks["minipgd, thread policy"])
            chosen = blas_thread_count()
            print(f"  minipgd's thread policy chose {chosen} BLAS thread(s)", flush=True)
            # timed at that count: with contenders alternating, the policy would measure their time as its own
            blocks["minipgd, thread policy"] = at_blas_count(chosen, blocks["minipgd, thread policy"])
            rates = dict(zip(blocks, updates_per_second(list(blocks.values()), repeats, block)))
        rows.append((name, rates))
        print("  " + ", ".join(f"{who} {rate:.0f} updates/s ({1e3 / rate:.2f} ms)" for who, rate in rates.items()),
              flush=True)

    print()
    print("| algorithm | minipgd, thread policy (updates/s) | minipgd, one BLAS thread | PyTorch eager | "
          "policy / PyTorch | one thread / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rates in rows:
        ours, one = rates["minipgd, thread policy"], rates["minipgd, one BLAS thread"]
        theirs = rates.get("PyTorch eager")
        ratios = f"{ours / theirs:.2f}x | {one / theirs:.2f}x" if theirs else "— | —"
        print(f"| {name} | {ours:.0f} | {one:.0f} | {f'{theirs:.0f}' if theirs else '—'} | {ratios} |")
    print("\n'/ PyTorch' is the ratio of update rates: above 1x minipgd is faster.")


def at_blas_count(n, run_block):
    """`run_block` on n BLAS threads (n = 1: the policy before the automatic one, for comparison in the same run)."""
    def run():
        with blas_threads(n):
            run_block()

    return run

if __name__ == "__main__":
    main()
