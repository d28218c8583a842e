"""Point Robot Navigation and its Wind variant: find a goal on the upper unit half-circle."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from meta_envs.core.arguments import check_float_task, check_non_negative
from meta_envs.core.continuous import BoxActionChecker
from meta_envs.core.meta_env import MetaEnv
from meta_envs.rendering.canvas import Canvas

#: Distance moved per unit of action.
STEP_SIZE = 0.1
#: Positions are clipped to [-POSITION_BOUND, POSITION_BOUND]^2 (keeps the observation space bounded).
POSITION_BOUND = 2.0


class PointRobotEnv(MetaEnv[np.ndarray]):
    """Point Robot Navigation: find a goal on the upper unit half-circle, then return to it.

    ## Description

    A point robot starts at the origin and moves in the plane. A goal lies somewhere on the upper
    half of the unit circle; the reward is sparse, so the robot only learns where the goal is by
    entering the goal region. A meta-episode is ``num_sub_episodes`` sub-episodes on one goal; the
    best policy walks to the half-circle and sweeps along it in the first sub-episode, stays on the
    goal once found, and goes straight to it in later sub-episodes.

    ## Task Distribution

    Goal angle ``phi ~ U[0, pi]``, goal ``(cos phi, sin phi)``. ``env.unwrapped.task`` is the goal as
    a read-only float64 array of shape ``(2,)``; ``reset(options={"task": goal})`` takes the same
    (any finite point, for off-distribution evaluation).

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: the move ``(dx, dy)``, clipped to the box and scaled by 0.1.

    ## Observation Space

    ``Box(float32)`` of shape ``(4,)`` (``(2,)`` with ``meta_features=False``):

    | index | observation                        | min  | max |
    |-------|------------------------------------|------|-----|
    | 0     | x position                         | -2   | 2   |
    | 1     | y position                         | -2   | 2   |
    | 2     | previous reward (0 after reset)    | 0    | 1   |
    | 3     | meta-episode time t / (N * H)      | 0    | 1   |

    ## Rewards

    With ``d = ||position - goal||``: ``1 - d`` if ``d <= goal_radius`` (inclusive), else 0. No action
    cost.

    ## Starting State

    ``(0, 0)`` at the start of every sub-episode.

    ## Episode End

    The meta-episode is truncated after ``num_sub_episodes * sub_episode_length`` steps;
    ``terminated`` is always False. The step that ends a sub-episode returns the first observation
    of the next one and the old final state in ``info["final_state"]``.

    ## Arguments

    | argument             | default | meaning                                                  |
    |----------------------|---------|----------------------------------------------------------|
    | `num_sub_episodes`   | `3`     | N, sub-episodes per meta-episode (>= 1)                  |
    | `sub_episode_length` | `100`   | H, steps per sub-episode (>= 1)                          |
    | `goal_radius`        | `0.2`   | radius of the rewarding region around the goal (>= 0)    |
    | `render_mode`        | `None`  | `None`, `"rgb_array"` or `"human"`                       |
    | `meta_features`      | `True`  | append previous reward and t/(N*H) to the observation    |

    ## Version History

    * v0: first version. Differences from the reference MAMBA code: the boundary step returns the
      first observation of the next sub-episode (the reference revealed it one action late);
      positions are clipped to ``[-2, 2]^2`` so the observation space is bounded; task sampling is
      seeded by ``reset(seed=...)``.
    """

    env_id: ClassVar[str] = "meta_envs/PointRobot-v0"
    reward_range_bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)
    world_bounds: ClassVar[tuple[float, float, float, float]] = (-1.4, 1.4, -0.6, 1.4)
    frame_size: ClassVar[tuple[int, int]] = (560, 400)

    def __init__(
        self,
        num_sub_episodes: int = 3,
        sub_episode_length: int = 100,
        goal_radius: float = 0.2,
        render_mode: str | None = None,
        meta_features: bool = True,
    ) -> None:
        self.goal_radius = check_non_negative("goal_radius", goal_radius)
        super().__init__(num_sub_episodes, sub_episode_length, render_mode, meta_features)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._check_action_fn = BoxActionChecker(self.action_space)
        self._x = 0.0
        self._y = 0.0

    # ------------------------------------------------------------------ hooks
    def physical_observation_space(self) -> spaces.Box:
        return spaces.Box(-POSITION_BOUND, POSITION_BOUND, shape=(2,), dtype=np.float32)

    def sample_task(self, rng: np.random.Generator) -> np.ndarray:
        """A goal ``(cos phi, sin phi)`` with ``phi ~ U[0, pi]``."""
        angle = rng.uniform(0.0, math.pi)
        goal = np.array([math.cos(angle), math.sin(angle)])
        goal.setflags(write=False)
        return goal

    def _check_task(self, task: Any) -> np.ndarray:
        return check_float_task("task (the goal)", task, (2,))

    def _check_action(self, action: Any) -> tuple[float, float]:
        return self._check_action_fn(action)

    def _reset_physical(self, rng: np.random.Generator) -> None:
        self._x = 0.0
        self._y = 0.0

    def _step_physical(self, action: tuple[float, float]) -> float:
        x = self._x + STEP_SIZE * action[0]
        y = self._y + STEP_SIZE * action[1]
        self._x = min(max(x, -POSITION_BOUND), POSITION_BOUND)
        self._y = min(max(y, -POSITION_BOUND), POSITION_BOUND)
        return self._reward()

    def _reward(self) -> float:
        goal = self._task
        dx = self._x - goal[0]
        dy = self._y - goal[1]
        distance = math.sqrt(dx * dx + dy * dy)
        return 1.0 - distance if distance <= self.goal_radius else 0.0

    def _physical_state(self) -> np.ndarray:
        return np.array([self._x, self._y])

    def reference_kwargs(self) -> dict[str, Any]:
        return {**super().reference_kwargs(), "goal_radius": self.goal_radius}

    # ------------------------------------------------------------------ rendering
    def _draw(self, canvas: Canvas) -> None:
        canvas.arc((0.0, 0.0), 1.0, 0.0, math.pi, canvas.MUTED, 2)
        canvas.circle(self._task, self.goal_radius, canvas.GOAL)
        canvas.circle(self._task, self.goal_radius, canvas.GOAL_EDGE, 2)
        canvas.circle((0.0, 0.0), canvas.pixel_radius(4), canvas.MUTED)


class PointRobotWindEnv(PointRobotEnv):
    """Point Robot Navigation with wind: i.i.d. Gaussian noise is added to every action.

    ## Description

    As :class:`PointRobotEnv`, but each action is clipped to the action space, then Gaussian noise
    ``N(0, wind_std^2)`` is added to each component, and the sum is clipped to the action space
    again before the move. The noise is drawn from ``self.np_random``, so ``reset(seed=...)`` makes a
    meta-episode reproducible for a fixed sequence of actions.

    ## Task Distribution

    As :class:`PointRobotEnv`: goal ``(cos phi, sin phi)``, ``phi ~ U[0, pi]``.

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: the intended move, before the wind.

    ## Observation Space

    As :class:`PointRobotEnv` (shape ``(4,)``, or ``(2,)`` with ``meta_features=False``).

    ## Rewards

    As :class:`PointRobotEnv`: ``1 - d`` inside the goal region, else 0.

    ## Starting State

    ``(0, 0)`` at the start of every sub-episode.

    ## Episode End

    Truncated after ``num_sub_episodes * sub_episode_length`` steps; never terminated.

    ## Arguments

    | argument             | default | meaning                                                  |
    |----------------------|---------|----------------------------------------------------------|
    | `num_sub_episodes`   | `3`     | N, sub-episodes per meta-episode (>= 1)                  |
    | `sub_episode_length` | `100`   | H, steps per sub-episode (>= 1)                          |
    | `goal_radius`        | `0.2`   | radius of the rewarding region around the goal (>= 0)    |
    | `wind_std`           | `0.3`   | standard deviation of the action noise (>= 0)            |
    | `render_mode`        | `None`  | `None`, `"rgb_array"` or `"human"`                       |
    | `meta_features`      | `True`  | append previous reward and t/(N*H) to the observation    |

    ## Version History

    * v0: first version (differences from the reference as for :class:`PointRobotEnv`; the noise is
      seeded by ``reset(seed=...)`` instead of the global numpy state).
    """

    env_id: ClassVar[str] = "meta_envs/PointRobotWind-v0"

    def __init__(
        self,
        num_sub_episodes: int = 3,
        sub_episode_length: int = 100,
        goal_radius: float = 0.2,
        wind_std: float = 0.3,
        render_mode: str | None = None,
        meta_features: bool = True,
    ) -> None:
        self.wind_std = check_non_negative("wind_std", wind_std)
        super().__init__(
            num_sub_episodes, sub_episode_length, goal_radius, render_mode, meta_features
        )

    def _step_physical(self, action: tuple[float, float]) -> float:
        noise = self.np_random.normal(0.0, self.wind_std, size=2)
        blown = (
            min(max(action[0] + float(noise[0]), -1.0), 1.0),
            min(max(action[1] + float(noise[1]), -1.0), 1.0),
        )
        return super()._step_physical(blown)

    def reference_kwargs(self) -> dict[str, Any]:
        return {**super().reference_kwargs(), "wind_std": self.wind_std}
