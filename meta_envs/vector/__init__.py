"""Native vectorised versions of the 2D envs (numpy-batched, no per-env loop in ``step``).

Reach them with ``gym.make_vec(id, num_envs=k, vectorization_mode="vector_entry_point")``.
"""

from meta_envs.vector.meta_vector_env import MetaVectorEnv

__all__ = ["MetaVectorEnv"]
