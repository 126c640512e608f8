"""Adam, the cosine learning-rate schedule (Table 3) and gradient-norm clipping."""
import math

import numpy as np

from .kernels import adam_update


class Adam:
    """Adam over a module's parameters (Kingma & Ba, 2015); lr 2e-3 is Table 3's value for the U-Net."""

    def __init__(self, module, lr=2e-3, betas=(0.9, 0.999), eps=1e-8):
        self.named = module.named_parameters()
        for name, p, _ in self.named:
            if not p.flags.c_contiguous:
                raise ValueError(f"parameter {name!r} is not contiguous; Adam updates parameters in place")
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = {name: np.zeros_like(p) for name, p, _ in self.named}
        self.v = {name: np.zeros_like(p) for name, p, _ in self.named}
        self.t = 0

    def step(self, lr=None):
        """One update with the current gradients; `lr` overrides the base rate (for schedules)."""
        self.t += 1
        lr = self.lr if lr is None else lr
        for name, p, g in self.named:
            adam_update(p, g, self.m[name], self.v[name], lr, self.beta1, self.beta2, self.eps, self.t)

    def state_dict(self):
        state = {f"m.{k}": v.copy() for k, v in self.m.items()}
        state.update({f"v.{k}": v.copy() for k, v in self.v.items()})
        state["t"] = np.array(self.t)
        return state

    def load_state_dict(self, state):
        expected = {f"{kind}.{name}" for kind in "mv" for name in self.m} | {"t"}
        if set(state) != expected:
            raise ValueError("optimizer state does not match the model's parameters")
        for name in self.m:
            self.m[name][...] = state[f"m.{name}"]
            self.v[name][...] = state[f"v.{name}"]
        self.t = int(state["t"])


def cosine_lr(step, total_steps, base_lr, warmup_steps=0, final_lr=0.0):
    """Linear warm-up to `base_lr`, then cosine decay to `final_lr` at `total_steps` (Table 3: cosine decay)."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return final_lr + 0.5 * (base_lr - final_lr) * (1.0 + math.cos(math.pi * progress))


def clip_grad_norm(module, max_norm):
    """Scale all gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping."""
    grads = [g for _, _, g in module.named_parameters()]
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if norm > max_norm:
        for g in grads:
            g *= max_norm / (norm + 1e-12)
    return norm
