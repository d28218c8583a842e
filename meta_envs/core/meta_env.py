"""The meta-episode base env: one Gymnasium episode = N sub-episodes of H steps on one task.

Subclasses state only what is their own through a few named hooks (as Gymnasium's MuJoCo envs do
with ``reset_model``):

================================  ====================================================================
hook                              what it does
================================  ====================================================================
``sample_task(rng)``              draw a task from the task distribution
``_check_task(task)``             validate a task passed through ``reset(options={"task": ...})``
``_check_action(action)``         validate/clip an action, return what ``_step_physical`` consumes
``_reset_physical(rng)``          put the agent at its start state (called at every sub-episode start)
``_step_physical(action)``        advance the physical state, return the reward of this step
``_physical_state()``             the bare physical state (the ``meta_features=False`` observation)
``_step_info(info)``              add env-specific info keys (reward terms, goals reached)
``_draw(canvas)``                 draw the task on a :class:`~meta_envs.rendering.canvas.Canvas`
================================  ====================================================================

The base class owns the meta-episode clock, the boundary semantics, the meta-features appended to
the observation, the info keys and the trail recorded for rendering.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from meta_envs.core.arguments import check_bool, check_count, check_render_mode

if TYPE_CHECKING:
    from meta_envs.rendering.canvas import Canvas

ActType = TypeVar("ActType")

#: Frames per second of the ``human`` window and the default of the video writer.
RENDER_FPS = 30


class MetaEnv(gym.Env[np.ndarray, ActType], ABC, Generic[ActType]):
    """Base class of every meta-environment (see the module docstring for the hooks).

    The default observation is ``[physical state..., previous reward, t / (N * H)]`` where ``t`` is
    the number of steps taken so far in the meta-episode; ``meta_features=False`` gives the
    physical state alone. The step that ends a sub-episode returns the first observation of the
    next sub-episode, with the old final state in ``info["final_state"]``; the last step of the
    meta-episode (``t = N * H``) returns ``truncated=True`` and the final state itself.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["human", "rgb_array"],
        "render_fps": RENDER_FPS,
    }

    #: The registered id of this env (used for reference returns and error messages).
    env_id: ClassVar[str] = ""
    #: Range of the per-step reward, used for the previous-reward entry of the observation space.
    reward_range_bounds: ClassVar[tuple[float, float]] = (-np.inf, np.inf)

    def __init__(
        self,
        num_sub_episodes: int,
        sub_episode_length: int,
        render_mode: str | None = None,
        meta_features: bool = True,
    ) -> None:
        self.num_sub_episodes = check_count("num_sub_episodes", num_sub_episodes)
        self.sub_episode_length = check_count("sub_episode_length", sub_episode_length)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        self.meta_features = check_bool("meta_features", meta_features)
        self.meta_episode_length = self.num_sub_episodes * self.sub_episode_length

        physical = self.physical_observation_space()
        self.physical_space = physical
        if self.meta_features:
            low_r, high_r = self.reward_range_bounds
            low = np.concatenate([physical.low, np.array([low_r, 0.0], dtype=np.float32)])
            high = np.concatenate([physical.high, np.array([high_r, 1.0], dtype=np.float32)])
            self.observation_space = spaces.Box(low, high, dtype=np.float32)
        else:
            self.observation_space = physical

        self._task: Any = None
        self._t = 0
        self._previous_reward = 0.0
        self._ended = True
        self._trails: list[list[np.ndarray]] = []
        self._canvas: Any = None
        self._window: Any = None

    # ------------------------------------------------------------------ hooks for subclasses
    @abstractmethod
    def physical_observation_space(self) -> spaces.Box:
        """The Box of the bare physical state (the ``meta_features=False`` observation)."""
        ...

    @abstractmethod
    def sample_task(self, rng: np.random.Generator) -> Any:
        """Draw a task from the task distribution with ``rng``."""
        ...

    @abstractmethod
    def _check_task(self, task: Any) -> Any: ...

    @abstractmethod
    def _check_action(self, action: Any) -> Any: ...

    @abstractmethod
    def _reset_physical(self, rng: np.random.Generator) -> None: ...

    @abstractmethod
    def _step_physical(self, action: Any) -> float: ...

    @abstractmethod
    def _physical_state(self) -> np.ndarray: ...

    def _step_info(self, info: dict[str, Any]) -> None:
        """Add env-specific keys to ``info`` (called on every reset and step)."""

    def _trail_point(self) -> np.ndarray:
        """The 2D point recorded in the rendered trail (default: the first two state entries)."""
        return self._physical_state()[:2]

    def _draw(self, canvas: Canvas) -> None:
        """Draw the task and the agent (2D envs); the base class draws the background and trails."""

    # ------------------------------------------------------------------ public properties
    @property
    def task(self) -> Any:
        """The task of the current meta-episode (``None`` before the first reset)."""
        return self._task

    @property
    def previous_reward(self) -> float:
        """The reward returned by the last step (0 after reset): what the agent has already seen."""
        return self._previous_reward

    @property
    def sub_episode(self) -> int:
        """Index of the sub-episode the next action acts in (``N - 1`` after the last step)."""
        return min(self._t // self.sub_episode_length, self.num_sub_episodes - 1)

    @property
    def step_in_sub_episode(self) -> int:
        """Index of the next action within its sub-episode (``H`` after the last step)."""
        if self._t >= self.meta_episode_length:
            return self.sub_episode_length
        return self._t % self.sub_episode_length

    @property
    def reference_returns(self) -> dict[str, float]:
        """Mean meta-episode return of the random, explorer and oracle policies for these arguments."""
        from meta_envs.policies.reference import reference_returns

        return reference_returns(self.env_id, **self.reference_kwargs())

    def finite_tasks(self) -> list[Any] | None:
        """Every task, where the task distribution is uniform over a small finite set (else None).

        Reference returns of deterministic policies are then computed exactly, one meta-episode
        per task.
        """
        return None

    def reference_kwargs(self) -> dict[str, Any]:
        """The constructor arguments that change the reference returns (render mode excluded)."""
        return {
            "num_sub_episodes": self.num_sub_episodes,
            "sub_episode_length": self.sub_episode_length,
        }

    # ------------------------------------------------------------------ Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new meta-episode on a task drawn from ``self.np_random``.

        Args:
            seed: seeds ``self.np_random`` (and so the whole task sequence).
            options: ``{"task": task}`` runs this meta-episode on ``task`` (the same type and shape
                as :attr:`task`) instead of a sampled one; the rest of the meta-episode (start
                states, noise) is the same as with the sampled task.
        """
        super().reset(seed=seed)
        options = options or {}
        unknown = set(options) - {"task"}
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown)}; the only option is 'task'"
            )
        # A task is always drawn, so that a given task leaves the rest of the random stream
        # (start states, noise) exactly as a sampled one would: same seed, same meta-episode.
        sampled = self.sample_task(self.np_random)
        self._task = sampled if options.get("task") is None else self._check_task(options["task"])
        self._t = 0
        self._previous_reward = 0.0
        self._ended = False
        self._reset_physical(self.np_random)
        if self.render_mode is not None:
            self._trails = [[self._trail_point().copy()]]
        info = self._info(sub_episode_end=False)
        if self.render_mode == "human":
            self.render()
        return self._observation(), info

    def step(self, action: ActType) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance one step; see the class docstring for the boundary semantics."""
        if self._ended:
            raise gym.error.ResetNeeded(
                "step() called after the meta-episode ended (or before the first reset); call reset()"
            )
        reward = float(self._step_physical(self._check_action(action)))
        self._t += 1
        self._previous_reward = reward
        boundary = self._t % self.sub_episode_length == 0
        truncated = self._t >= self.meta_episode_length
        if self.render_mode is not None:
            self._trails[-1].append(self._trail_point().copy())
        if boundary:
            final_state = self._physical_state().astype(np.float32)
            if not truncated:
                self._reset_physical(self.np_random)
                if self.render_mode is not None:
                    self._trails.append([self._trail_point().copy()])
            info = self._info(sub_episode_end=True)
            info["final_state"] = final_state
        else:
            info = self._info(sub_episode_end=False)
        self._ended = truncated
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, False, truncated, info

    def _observation(self) -> np.ndarray:
        state = self._physical_state()
        if not self.meta_features:
            return state.astype(np.float32)
        obs = np.empty(state.shape[0] + 2, dtype=np.float32)
        obs[:-2] = state
        obs[-2] = self._previous_reward
        obs[-1] = self._t / self.meta_episode_length
        return obs

    def _info(self, sub_episode_end: bool) -> dict[str, Any]:
        task = self._task
        info = {
            # A copy: infos must not share objects between calls (users keep them).
            "task": task.copy() if isinstance(task, np.ndarray) else task,
            "sub_episode": self.sub_episode,
            "step_in_sub_episode": self.step_in_sub_episode,
            "sub_episode_end": sub_episode_end,
        }
        self._step_info(info)
        return info

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        """Draw the task, the agent and this meta-episode's trail (one colour per sub-episode)."""
        if self.render_mode is None:
            gym.logger.warn(
                f"render() called without a render_mode; pass render_mode='rgb_array' or 'human' "
                f"to gym.make({self.env_id!r}, ...)"
            )
            return None
        if self._task is None:
            raise gym.error.ResetNeeded("render() called before reset()")
        frame = self._render_rgb()
        if self.render_mode == "rgb_array":
            return frame
        if self._window is None:
            from meta_envs.rendering.window import Window

            self._window = Window(title=self.env_id, fps=self.metadata["render_fps"])
        self._window.show(frame)
        return None

    #: Visible world rectangle ``(x_min, x_max, y_min, y_max)`` of the 2D renderer.
    world_bounds: ClassVar[tuple[float, float, float, float]] = (-1.0, 1.0, -1.0, 1.0)
    #: Size in pixels ``(width, height)`` of rendered frames.
    frame_size: ClassVar[tuple[int, int]] = (512, 512)

    def _render_rgb(self) -> np.ndarray:
        """Draw a frame with pygame on an off-screen surface (2D envs); Reacher overrides this."""
        from meta_envs.rendering.canvas import Canvas

        if self._canvas is None:
            self._canvas = Canvas(self.frame_size, self.world_bounds)
        canvas = self._canvas
        canvas.fill(canvas.BACKGROUND)
        self._draw(canvas)
        canvas.trails(self._trails)
        self._draw_agent(canvas)
        canvas.caption(f"sub-episode {self.sub_episode + 1}/{self.num_sub_episodes}  t={self._t}")
        return canvas.to_array()

    def _draw_agent(self, canvas: Canvas) -> None:
        """Draw the agent on top of the trails (default: a dot at the trail point)."""
        canvas.circle(self._trail_point(), canvas.pixel_radius(6), canvas.AGENT)

    def close(self) -> None:
        """Close the human window, if one was opened."""
        if self._window is not None:
            self._window.close()
            self._window = None
        self._canvas = None
