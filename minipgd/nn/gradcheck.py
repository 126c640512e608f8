"""Central-difference gradient checking for hand-written backward passes.

For a module with output y we check the scalar loss L = sum(y * R), R a fixed
random array, so dL/dy = R is what `backward` receives. Each checked entry is
perturbed by +-h and (L(+h) - L(-h)) / 2h is compared with the hand-written
gradient. Use float64: the truncation error is O(h^2) and the rounding error
O(1e-16 / h), both far below the 1e-6 tolerance at h = 1e-6.
"""
import numpy as np


def relative_error(analytic, numeric):
    """||a - n|| / (||a|| + ||n||), 0 when both are exactly zero."""
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if scale == 0 else float(np.linalg.norm(analytic - numeric) / scale)


def central_difference(loss, array, index, h=1e-6):
    """(L(x + h e_i) − L(x − h e_i)) / 2h for flat index i of `array`, restored afterwards."""
    saved = array.flat[index]
    array.flat[index] = saved + h
    up = loss()
    array.flat[index] = saved - h
    down = loss()
    array.flat[index] = saved
    return (up - down) / (2 * h)


def check_gradients(module, inputs, rng, h=1e-6, max_entries=24):
    """Relative error of every input gradient and parameter gradient of `module`.

    `inputs` is a list of float64 arrays passed to `module.forward(*inputs)`;
    `module.backward(R)` must return the input gradient (or a tuple of them for
    several inputs; None marks an input without gradient). Up to `max_entries`
    random entries of each array are checked. Returns {name: relative error}.
    """
    R = rng.standard_normal(module.forward(*inputs).shape)

    def loss():
        return float(np.sum(module.forward(*inputs) * R))

    module.zero_grad()
    module.forward(*inputs)
    dinputs = module.backward(R)
    dinputs = dinputs if isinstance(dinputs, tuple) else (dinputs,)
    checks = [(f"input{i}", x, dx) for i, (x, dx) in enumerate(zip(inputs, dinputs)) if dx is not None]
    checks += [(name, p, g.copy()) for name, p, g in module.named_parameters()]
    errors = {}
    for name, array, analytic in checks:
        count = min(max_entries, array.size)
        index = rng.choice(array.size, size=count, replace=False)
        numeric = np.array([central_difference(loss, array, i, h) for i in index])
        errors[name] = relative_error(np.asarray(analytic).reshape(-1)[index], numeric)
    return errors
