"""The minipgd temporal U-Net written again in JAX/Flax (linen), for `benchmarks/unet.py`.

Flax is channels-last: the network takes x as (B, H, C), a Dense kernel is
(in, out) and a Conv kernel is (k, in, out). Sub-modules are named after
minipgd's `state_dict` (`down.0.conv1.weight` lives at
`params['down_0']['conv1']['kernel']`), which is all `params_from_minipgd`
needs to translate one into the other.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn


class NoiseEmbedding(nn.Module):
    """t (B,) -> sinusoidal features at F/8 frequencies -> Dense -> SiLU -> Dense -> (B, F)."""

    features: int

    @nn.compact
    def __call__(self, t):
        half = self.features // 8
        freqs = jnp.exp(-jnp.log(10000.0) / (half - 1) * jnp.arange(half, dtype=t.dtype))
        angles = t[:, None] * freqs[None, :]
        feats = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=1)
        return nn.Dense(self.features, name="linear2")(nn.silu(nn.Dense(self.features, name="linear1")(feats)))


class EncoderBlock(nn.Module):
    """conv -> + Dense(temb) -> GN -> ReLU -> conv -> GN -> ReLU."""

    width: int
    groups: int
    eps: float

    @nn.compact
    def __call__(self, x, temb):
        norm = lambda name: nn.GroupNorm(self.groups, epsilon=self.eps, name=name)
        x = nn.Conv(self.width, (3,), padding=((1, 1),), name="conv1")(x)
        x = x + nn.Dense(self.width, name="time")(temb)[:, None, :]
        x = nn.relu(norm("norm1")(x))
        x = nn.Conv(self.width, (3,), padding=((1, 1),), name="conv2")(x)
        return nn.relu(norm("norm2")(x))


class DecoderBlock(nn.Module):
    """upsample -> conv(k=2) -> + Dense(temb) -> GN -> ReLU -> concat skip -> conv -> GN -> ReLU -> conv -> GN -> ReLU."""

    width: int
    groups: int
    eps: float

    @nn.compact
    def __call__(self, x, skip, temb):
        norm = lambda name: nn.GroupNorm(self.groups, epsilon=self.eps, name=name)
        x = jnp.repeat(x, skip.shape[1] // x.shape[1], axis=1)
        x = nn.Conv(self.width, (2,), padding="SAME", name="conv_up")(x)
        x = x + nn.Dense(self.width, name="time")(temb)[:, None, :]
        x = jnp.concatenate([nn.relu(norm("norm_up")(x)), skip], axis=-1)
        x = nn.relu(norm("norm1")(nn.Conv(self.width, (3,), padding=((1, 1),), name="conv1")(x)))
        return nn.relu(norm("norm2")(nn.Conv(self.width, (3,), padding=((1, 1),), name="conv2")(x)))


class FlaxTemporalUNet(nn.Module):
    in_channels: int
    features: int
    n_levels: int
    groups: int = 8
    eps: float = 1e-6

    @nn.compact
    def __call__(self, x, t):
        temb = nn.silu(NoiseEmbedding(self.features, name="embed")(t))
        widths = [self.features * 2**i for i in range(self.n_levels)]
        skips = []
        for i, width in enumerate(widths):
            if i > 0:
                x = nn.max_pool(skips[-1], (2,), strides=(2,))
            skips.append(EncoderBlock(width, self.groups, self.eps, name=f"down_{i}")(x, temb))
        x = skips.pop()
        for j, i in enumerate(reversed(range(self.n_levels - 1))):
            x = DecoderBlock(widths[i], self.groups, self.eps, name=f"up_{j}")(x, skips.pop(), temb)
        return nn.Conv(self.in_channels, (1,), name="out")(x)


def _flax_weight(weight):
    """(Flax leaf name, array) for a minipgd weight: GroupNorm (C,), Dense (out, in), Conv (k, in, out) as in Flax."""
    if weight.ndim == 1:
        return "scale", weight
    if weight.ndim == 2:
        return "kernel", weight.T
    return "kernel", weight


def params_from_minipgd(state):
    """Translate a minipgd state dict into a Flax `params` tree (kernels transposed to Flax layout)."""
    params = {}
    for name, value in state.items():
        *path, leaf = name.split(".")
        modules = []
        for part in path:
            if part.isdigit():
                modules[-1] += f"_{part}"
            else:
                modules.append(part)
        if leaf == "weight":
            leaf, value = _flax_weight(value)
        node = params
        for m in modules:
            node = node.setdefault(m, {})
        node[leaf] = jnp.asarray(value)
    return {"params": params}


class Bench:
    """The Flax network behind the interface `benchmarks/unet.py` times; starts from minipgd's weights.

    Inputs arrive channels-first like minipgd's and are transposed to (B, H, C)
    once, outside the timed calls.
    """

    name = "JAX/Flax (jit)"

    def __init__(self, state, in_channels, features, n_levels, lr):
        self.model = FlaxTemporalUNet(in_channels, features, n_levels)
        self.opt = optax.adam(lr)
        variables = params_from_minipgd(state)
        self.state = (variables, self.opt.init(variables))
        self.forward = jax.jit(self.model.apply)
        self.update = jax.jit(self._update, donate_argnums=0)

    def _update(self, state, x, t, target):
        """Forward + MSE + backward + Adam as one function, jitted as a whole."""
        variables, opt_state = state

        def loss_fn(variables):
            return jnp.mean((self.model.apply(variables, x, t) - target) ** 2)

        grads = jax.grad(loss_fn)(variables)
        updates, opt_state = self.opt.update(grads, opt_state, variables)
        return optax.apply_updates(variables, updates), opt_state

    def num_parameters(self):
        return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(self.state[0]))

    def forward_and_input_grad(self, x, t, dy):
        variables = self.state[0]
        y, vjp = jax.vjp(lambda x: self.model.apply(variables, x, t), channels_last(x))
        (dx,) = vjp(channels_last(dy))
        return channels_first(y), channels_first(dx)

    def train_step_fn(self, x, t, target):
        x, t, target = channels_last(x), jnp.asarray(t), channels_last(target)

        def step():
            self.state = jax.block_until_ready(self.update(self.state, x, t, target))

        return step

    def forward_fn(self, x, t):
        x, t = channels_last(x), jnp.asarray(t)
        return lambda: self.forward(self.state[0], x, t).block_until_ready()


def channels_last(x):
    return jnp.asarray(x.transpose(0, 2, 1))


def channels_first(x):
    return np.asarray(x).transpose(0, 2, 1)
