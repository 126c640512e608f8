"""The `Module` base class: parameters, gradients, and a state dict.

A layer keeps its learnable arrays in `self.params` and their gradients, of the
same shapes, in `self.grads`. `forward` caches what `backward` needs;
`backward(dout)` returns the gradient with respect to the input and *adds* the
parameter gradients into `self.grads` (call `zero_grad` between steps).

A composite module (the U-Net, an MLP) simply holds other modules as attributes
or in lists; `named_parameters` walks them in attribute order and names every
array the way PyTorch would (`down.0.conv1.weight`), so a state dict can be
compared with another framework's.

`parameter_buffers()` moves every parameter (and gradient) into one contiguous
buffer and leaves views of it under the same names. An optimizer step, a
`zero_grad` or a weight average then touches one array instead of dozens,
which is most of the cost of a small training step.
"""
import numpy as np


class Module:
    def __init__(self):
        self.params = {}
        self.grads = {}
        self._buffers = None  # (flat params, flat grads) once packed

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

    def parameter_slots(self, prefix=""):
        """[(name, owner, key)]: every parameter as `owner.params[key]`, in a fixed order."""
        out = [(prefix + key, self, key) for key in self.params]
        for child_name, child in self.children():
            out += child.parameter_slots(prefix + child_name + ".")
        return out

    def named_parameters(self):
        """[(name, param, grad)] for this module and all sub-modules."""
        return [(name, owner.params[key], owner.grads[key]) for name, owner, key in self.parameter_slots()]

    def parameter_buffers(self):
        """(params, grads): two flat contiguous arrays that every parameter and gradient is a view of."""
        if self._buffers is None:
            slots = self.parameter_slots()
            dtypes = {owner.params[key].dtype for _, owner, key in slots}
            if len(dtypes) != 1:
                raise ValueError(f"cannot pack parameters of several dtypes {sorted(map(str, dtypes))}")
            total = sum(owner.params[key].size for _, owner, key in slots)
            dtype = dtypes.pop()
            flat_params, flat_grads = np.empty(total, dtype), np.zeros(total, dtype)
            offset = 0
            for _, owner, key in slots:
                p = owner.params[key]
                view = slice(offset, offset + p.size)
                flat_params[view] = p.ravel()
                flat_grads[view] = owner.grads[key].ravel()
                owner.params[key] = flat_params[view].reshape(p.shape)
                owner.grads[key] = flat_grads[view].reshape(p.shape)
                owner._buffers = None  # a packed sub-module's own buffers are no longer live
                offset += p.size
            self._buffers = (flat_params, flat_grads)
        return self._buffers

    def num_parameters(self):
        return sum(p.size for _, p, _ in self.named_parameters())

    def zero_grad(self):
        if self._buffers is not None:
            self._buffers[1].fill(0.0)
            return
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
