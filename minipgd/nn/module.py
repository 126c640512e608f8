"""The `Module` base class: parameters, gradients, and a state dict.

A layer keeps its learnable arrays in `self.params` and their gradients, of the
same shapes, in `self.grads`. `forward` caches what `backward` needs;
`backward(dout)` returns the gradient with respect to the input and *adds* the
parameter gradients into `self.grads` (call `zero_grad` between steps).

A composite module (the U-Net, an MLP) simply holds other modules as attributes
or in lists; `named_parameters` walks them in attribute order and names every
array the way PyTorch would (`down.0.conv1.weight`), so a state dict can be
compared with another framework's.
"""
import numpy as np


class Module:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def add_param(self, name, value):
        """Register a learnable array and a zero gradient beside it."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def children(self):
        """(name, module) pairs of the sub-modules, in attribute order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix=""):
        """[(name, param, grad)] for this module and all sub-modules."""
        out = [(prefix + name, p, self.grads[name]) for name, p in self.params.items()]
        for child_name, child in self.children():
            out += child.named_parameters(prefix + child_name + ".")
        return out

    def num_parameters(self):
        return sum(p.size for _, p, _ in self.named_parameters())

    def zero_grad(self):
        for _, _, g in self.named_parameters():
            g.fill(0.0)

    def state_dict(self):
        """{name: copy of the parameter array}."""
        return {name: p.copy() for name, p, _ in self.named_parameters()}

    def load_state_dict(self, state):
        """Copy arrays into the parameters in place; names and shapes must match exactly."""
        own = {name: p for name, p, _ in self.named_parameters()}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"state dict does not match {type(self).__name__}: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
            )
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(
                    f"parameter {name!r} has shape {value.shape} in the state dict, "
                    f"the model expects {p.shape}"
                )
            if not np.all(np.isfinite(value)):
                raise ValueError(f"parameter {name!r} in the state dict contains NaN or inf")
        for name, p in own.items():
            p[...] = state[name]
