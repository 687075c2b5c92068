"""o2o: Python client of o2o-sim (MuJoCo scenarios with a real and a sim variant).

o2o.launch(scenario, num_envs) starts an o2o-sim and returns a Gymnasium-style vector env;
o2o.VectorEnv(endpoint) attaches to a running one; o2o.O2OClient is the wire protocol
(bridge/PROTOCOL.md), one method per message. See README.md beside this package.
"""
from .client import O2OClient, O2OError
from .spaces import Box
from .vector import VectorEnv, find_sim, launch

__version__ = "0.1.0"
__all__ = ["O2OClient", "O2OError", "Box", "VectorEnv", "find_sim", "launch", "__version__"]
