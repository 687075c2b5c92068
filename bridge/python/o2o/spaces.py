"""o2o.spaces: the Box space of the vector env.

gymnasium.spaces.Box when Gymnasium is importable (so wrappers and learners that check
isinstance(space, gymnasium.spaces.Box) work), else a small stand-in with the same
attributes and methods the common code paths use: low, high, shape, dtype, sample(),
contains(), seed(), is_bounded().
"""
import numpy as np

try:
    from gymnasium.spaces import Box as _GymBox
except ImportError:  # Gymnasium is optional
    _GymBox = None


class Box:
    """A box in R^shape: low <= x <= high element-wise (either may be -inf/+inf)."""

    def __init__(self, low, high, shape=None, dtype=np.float32, seed=None):
        self.dtype = np.dtype(dtype)
        shape = tuple(shape) if shape is not None else np.shape(low)
        self.low = np.broadcast_to(np.asarray(low, self.dtype), shape).copy()
        self.high = np.broadcast_to(np.asarray(high, self.dtype), shape).copy()
        if np.any(self.low > self.high):
            raise ValueError(f"Box: low > high at {np.argwhere(self.low > self.high)[0]}")
        self.shape = shape
        self.np_random = np.random.default_rng(seed)

    def seed(self, seed=None):
        self.np_random = np.random.default_rng(seed)
        return [seed]

    def is_bounded(self, manner="both"):
        below, above = np.all(np.isfinite(self.low)), np.all(np.isfinite(self.high))
        return {"both": below and above, "below": below, "above": above}[manner]

    def sample(self):
        """Uniform in a bounded box; standard normal along unbounded dimensions."""
        x = self.np_random.standard_normal(self.shape)
        both = np.isfinite(self.low) & np.isfinite(self.high)
        x[both] = self.np_random.uniform(self.low[both], self.high[both])
        lo, hi = np.isfinite(self.low) & ~both, np.isfinite(self.high) & ~both
        x[lo] = self.low[lo] + self.np_random.exponential(size=int(lo.sum()))
        x[hi] = self.high[hi] - self.np_random.exponential(size=int(hi.sum()))
        return x.astype(self.dtype)

    def contains(self, x):
        x = np.asarray(x)
        return (x.shape == self.shape and np.can_cast(x.dtype, self.dtype)
                and bool(np.all(x >= self.low) and np.all(x <= self.high)))

    __contains__ = contains

    def __repr__(self):
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"

    def __eq__(self, other):
        return (isinstance(other, Box) and self.shape == other.shape
                and self.dtype == other.dtype and np.array_equal(self.low, other.low)
                and np.array_equal(self.high, other.high))


def box(low, high, shape, dtype=np.float32):
    """A Box of Gymnasium's when it is importable, else o2o.spaces.Box."""
    cls = _GymBox if _GymBox is not None else Box
    low = np.broadcast_to(np.asarray(low, dtype), shape)
    high = np.broadcast_to(np.asarray(high, dtype), shape)
    return cls(low=low, high=high, shape=tuple(shape), dtype=dtype)
