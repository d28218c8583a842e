"""Every environment id of the suite in one flat list, with string entry points.

Gymnasium 1.x has no plugin entry points, so ``import meta_envs`` (which calls :func:`register_envs`)
is what makes ``gym.make("meta_envs/RoomsN-v0")`` work; ``gym.make("meta_envs:meta_envs/RoomsN-v0")``
imports the package for you.
"""

from __future__ import annotations

import gymnasium as gym

#: (id, entry point, vector entry point or None)
ENVIRONMENTS: tuple[tuple[str, str, str | None], ...] = (
    (
        "meta_envs/PointRobot-v0",
        "meta_envs.envs.point_robot:PointRobotEnv",
        "meta_envs.vector.point_robot:PointRobotVectorEnv",
    ),
    (
        "meta_envs/PointRobotWind-v0",
        "meta_envs.envs.point_robot:PointRobotWindEnv",
        "meta_envs.vector.point_robot:PointRobotWindVectorEnv",
    ),
    (
        "meta_envs/EscapeRoom-v0",
        "meta_envs.envs.escape_room:EscapeRoomEnv",
        "meta_envs.vector.escape_room:EscapeRoomVectorEnv",
    ),
    (
        "meta_envs/RoomsN-v0",
        "meta_envs.envs.rooms:RoomsNEnv",
        "meta_envs.vector.rooms:RoomsNVectorEnv",
    ),
    (
        "meta_envs/ReacherN-v0",
        "meta_envs.envs.reacher:ReacherNEnv",
        "meta_envs.vector.reacher:ReacherNVectorEnv",
    ),
)


def env_ids() -> list[str]:
    """The ids of every environment in the suite."""
    return [env_id for env_id, _, _ in ENVIRONMENTS]


def register_envs() -> None:
    """Register every id with Gymnasium (idempotent)."""
    for env_id, entry_point, vector_entry_point in ENVIRONMENTS:
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=entry_point,
            vector_entry_point=vector_entry_point,
            disable_env_checker=False,
        )
