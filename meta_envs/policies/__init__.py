"""Reference policies (random / explorer / oracle), evaluation and normalised scores.

``make_policy(kind, env)`` returns a policy made for ``env``'s id and arguments (it acts on the
``obs`` and ``info`` it is given; see :class:`ReferencePolicy`); ``evaluate_policy`` runs any policy
on seeded meta-episodes; ``reference_returns`` and ``normalized_score`` put every return on the scale
``(R - R_random) / (R_explorer - R_random)``.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from meta_envs.policies.base import Policy, RandomPolicy, ReferencePolicy

#: Policy kinds every env provides.
POLICY_KINDS = ("random", "explorer", "oracle")

#: env id -> (module, explorer class, oracle class); imported lazily.
_POLICY_CLASSES: dict[str, tuple[str, str, str]] = {
    "meta_envs/PointRobot-v0": (
        "meta_envs.policies.point_robot",
        "PointRobotExplorer",
        "PointRobotOracle",
    ),
    "meta_envs/PointRobotWind-v0": (
        "meta_envs.policies.point_robot",
        "PointRobotExplorer",
        "PointRobotOracle",
    ),
    "meta_envs/EscapeRoom-v0": (
        "meta_envs.policies.escape_room",
        "EscapeRoomExplorer",
        "EscapeRoomOracle",
    ),
    "meta_envs/RoomsN-v0": ("meta_envs.policies.rooms", "RoomsNExplorer", "RoomsNOracle"),
    "meta_envs/ReacherN-v0": ("meta_envs.policies.reacher", "ReacherNExplorer", "ReacherNOracle"),
}


def make_policy(kind: str, env: gym.Env, seed: int | None = None) -> ReferencePolicy:
    """A reference policy of ``kind`` (``"random"``, ``"explorer"`` or ``"oracle"``) for ``env``.

    Args:
        kind: which policy.
        env: a meta_envs env (wrappers allowed); the policy reads its static arguments from
            ``env.unwrapped`` once, then works on any env of the same id and arguments (except the
            few bound to ``env``, see :class:`ReferencePolicy`).
        seed: seeds the random policy's action sampler (the others are deterministic).

    Raises:
        ValueError: unknown ``kind``.
        TypeError: ``env`` is not a meta_envs environment.
    """
    if kind not in POLICY_KINDS:
        raise ValueError(f"kind must be one of {POLICY_KINDS}, got {kind!r}")
    env_id = getattr(env.unwrapped, "env_id", None)
    if env_id not in _POLICY_CLASSES:
        raise TypeError(f"make_policy needs a meta_envs environment, got {env.unwrapped!r}")
    if kind == "random":
        return RandomPolicy(env, seed=seed)
    module_name, explorer, oracle = _POLICY_CLASSES[env_id]
    module = importlib.import_module(module_name)
    cls: Any = getattr(module, explorer if kind == "explorer" else oracle)
    return cls(env)


__all__ = ["POLICY_KINDS", "Policy", "RandomPolicy", "ReferencePolicy", "make_policy"]
