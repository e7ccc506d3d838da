"""Random draws with mmaction2's bounds from whichever generator the caller owns.

The training-time choices (frame offsets, rescaled short side, crop offsets, flip) are drawn here so that one
`generator` argument works everywhere:

- a `numpy.random.Generator` (`np.random.default_rng(seed)`): `integers` / `random`;
- a `numpy.random.RandomState`: `randint` / `random_sample` (the legacy API mmaction2 calls through `np.random`);
- a `torch.Generator`: `torch.randint` / `torch.rand`;
- `None`: a fresh, unseeded `numpy.random.default_rng()` per call (not reproducible).

Part of the processor's remote code: imports only numpy and torch.
"""

import numpy as np
import torch


def _check_generator(generator):
    if generator is None or isinstance(generator, (np.random.Generator, np.random.RandomState, torch.Generator)):
        return
    raise TypeError(
        "`generator` must be a numpy.random.Generator, numpy.random.RandomState, torch.Generator or None, "
        f"got {type(generator).__name__}"
    )


def randint(generator, low: int, high: int, size: int | None = None):
    """Integers uniform in [low, high) (upper bound exclusive, as `np.random.randint`).

    Returns a Python int when `size` is None, else an int64 array of shape `(size,)`.
    """
    _check_generator(generator)
    if high <= low:
        raise ValueError(f"empty range for a random integer: [{low}, {high})")
    shape = () if size is None else (int(size),)
    if isinstance(generator, torch.Generator):
        values = torch.randint(int(low), int(high), shape or (1,), generator=generator, dtype=torch.int64).numpy()
    elif isinstance(generator, np.random.RandomState):
        values = np.asarray(generator.randint(low, high, size=shape or (1,)), dtype=np.int64)
    else:
        rng = generator if generator is not None else np.random.default_rng()
        values = np.asarray(rng.integers(low, high, size=shape or (1,)), dtype=np.int64)
    return int(values[0]) if size is None else values


def uniform(generator) -> float:
    """One float uniform in [0, 1)."""
    _check_generator(generator)
    if isinstance(generator, torch.Generator):
        return float(torch.rand((), generator=generator, dtype=torch.float64))
    if isinstance(generator, np.random.RandomState):
        return float(generator.random_sample())
    rng = generator if generator is not None else np.random.default_rng()
    return float(rng.random())
