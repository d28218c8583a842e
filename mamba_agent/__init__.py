"""mamba_agent: the MAMBA world-model meta-RL learner (PyTorch)."""

from mamba_agent.algorithm import MAMBA

__version__ = "0.1.0"

__all__ = ["MAMBA", "__version__"]
