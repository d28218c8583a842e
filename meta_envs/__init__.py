"""meta_envs: a Gymnasium suite of meta-reinforcement-learning environments."""

__version__ = "0.1.0"
