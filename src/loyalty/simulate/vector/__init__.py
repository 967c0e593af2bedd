"""The vectorised simulation kernel (numpy, lockstep across members): `supports` and `simulate_vector`.

Used by `loyalty.simulate.engine.simulate(kernel=...)`; the runtime never imports it.
"""

from loyalty.simulate.vector.kernel import HEAVY_THRESHOLD, Unsupported, simulate_vector
from loyalty.simulate.vector.support import supports

__all__ = ["HEAVY_THRESHOLD", "Unsupported", "simulate_vector", "supports"]
