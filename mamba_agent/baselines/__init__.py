"""Baselines trained and evaluated like MAMBA by the command line (RL²)."""
