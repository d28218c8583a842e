"""meta_envs: a Gymnasium suite of meta-reinforcement-learning environments.

A Gymnasium episode of these envs is a *meta-episode*: ``num_sub_episodes`` sub-episodes of
``sub_episode_length`` steps on one task drawn from a task distribution. ``import meta_envs``
registers every id::

    import gymnasium as gym
    import meta_envs

    env = gym.make("meta_envs/RoomsN-v0", n=4)
"""

from meta_envs.policies import make_policy
from meta_envs.policies.evaluation import EvaluationResult, evaluate_policy
from meta_envs.policies.reference import normalized_score, reference_returns
from meta_envs.registration import env_ids, register_envs
from meta_envs.rendering.video import save_video

__version__ = "0.1.0"

register_envs()

__all__ = [
    "EvaluationResult",
    "__version__",
    "env_ids",
    "evaluate_policy",
    "make_policy",
    "normalized_score",
    "reference_returns",
    "register_envs",
    "save_video",
]
