"""Shared mechanics of every meta-environment: the base env, argument checks and 2D geometry."""

from meta_envs.core.meta_env import MetaEnv

__all__ = ["MetaEnv"]
