"""mamba_agent: the MAMBA world-model meta-RL learner (PyTorch)."""

__version__ = "0.1.0"
