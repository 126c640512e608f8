"""Fig. 4: continuous against periodic generation (Sec. 5.2), at CPU scale.

Periodic generation regenerates one large synthetic dataset every epoch (4
epochs); continuous generation a small one every epoch of 100, each kept in a
buffer for 10 epochs (`rl/synthetic.py`). The paper finds continuous below
periodic, both above real and unguided data. Only the continuous runs are this
sweep's own units (`Table2Config.fig4()`: the same models, updates and total
number of synthetic trajectories as the tiers' periodic runs); its periodic and
real rows are the Table 2 tiers' units of the same datasets and seeds
(RESULTS/table2/headline, RESULTS/table2/mujoco), and its unguided data are
the tiers' pooled generations, read in 100 slices, so nothing is run twice.

    python -m minipgd experiment fig4 --jobs 2          # every continuous unit without a result
    python -m minipgd experiment fig4 --report-only     # results/fig4.md and figures/fig4_generation.png
"""
from dataclasses import replace

from ..rl.synthetic import SOURCES
from .table2 import PRESETS, Table2Config, parse_unit
from .units import load_results

PERIODIC_PRESETS = ("headline", "mujoco")  # the tiers whose periodic runs Fig. 4 compares against


def fig4_config(smoke=False):
    """The sweep: Fig. 4's continuous runs, or (smoke) a tiny continuous sweep beside the Table 2 smoke sweep."""
    if not smoke:
        return Table2Config.fig4()
    table2 = Table2Config.smoke()
    continuous = replace(table2.algorithm2, generation="continuous", n_epochs=4, steps_per_epoch=5,
                         n_trajectories=table2.algorithm2.n_trajectories // 2, eval_every=5)
    return replace(table2, sources=("unguided", "guided"), pooled_trajectories=table2.algorithm2.n_trajectories,
                   model_units=False, algorithm2=continuous)


def periodic_results(table2_dir, config, smoke=False):
    """The periodic and real runs of `config`'s datasets, seeds and agents from the Table 2 tiers' result files
    (`table2_dir`: RESULTS/table2) -> {unit: result}."""
    found = {}
    for preset in ("smoke",) if smoke else PERIODIC_PRESETS:
        names = [unit for unit in PRESETS[preset].unit_names() if _compared(parse_unit(unit), config)]
        found.update(load_results(table2_dir / preset, names))
    return found


def _compared(parsed, config):
    """Whether a Table 2 unit is a periodic or real run Fig. 4 compares against."""
    kind, args = parsed
    if kind != "agent":
        return False
    agent, source, name, seed = args
    return (source in SOURCES and name in config.datasets and seed in config.seeds
            and agent in config.agents)
