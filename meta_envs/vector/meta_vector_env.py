"""The native vectorised meta-env base: a batch of independent meta-episodes stepped with numpy.

All sub-envs run in lockstep (they share the meta-episode clock, since every meta-episode has the
same length ``N * H``), so the boundary and truncation logic is scalar and the per-step work is a
handful of numpy operations on ``(num_envs, ...)`` arrays, with no Python loop over envs.

Randomness follows Gymnasium's ``SyncVectorEnv``: ``reset(seed=s)`` gives sub-env ``i`` its own
generator seeded ``s + i``, used for its tasks (and, where an env has them, its random start
states), so sub-env ``i`` replays exactly the meta-episode of the single env reset with
``seed=s + i``. Tasks are drawn per sub-env only at meta-episode starts (and starts states at
sub-episode starts), which costs O(num_envs) Python calls once every ``H`` steps, not per step.

Autoreset mode: ``AutoresetMode.NEXT_STEP`` (Gymnasium's default). The step after the last step of
a meta-episode starts a new meta-episode on every sub-env (new tasks from each sub-env's
generator) and returns its first observation with reward 0 and no termination or truncation.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from meta_envs.core.arguments import check_count
from meta_envs.core.meta_env import MetaEnv


class MetaVectorEnv(VectorEnv):
    """Base class of the native vectorised meta-envs.

    Subclasses set :attr:`single_env_class` and implement the batched hooks ``_set_tasks``,
    ``_reset_physical``, ``_check_actions``, ``_step_physical``, ``_physical_state`` and optionally
    ``_step_info``. Constructor arguments other than ``num_envs`` are those of the single env; a
    prototype single env is built from them, which validates them and provides the spaces, the task
    sampler and the task check.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": [],
    }
    single_env_class: ClassVar[type[MetaEnv]]

    def __init__(self, num_envs: int = 1, **env_kwargs: Any) -> None:
        self.num_envs = check_count("num_envs", num_envs)
        if env_kwargs.get("render_mode") is not None:
            raise ValueError(
                "native vector envs do not render; use gym.make_vec(..., vectorization_mode='sync', "
                "render_mode=...) to render each sub-env"
            )
        env_kwargs.pop("render_mode", None)
        self.prototype = self.single_env_class(**env_kwargs)
        self.render_mode = None
        self.num_sub_episodes = self.prototype.num_sub_episodes
        self.sub_episode_length = self.prototype.sub_episode_length
        self.meta_episode_length = self.prototype.meta_episode_length
        self.meta_features = self.prototype.meta_features
        self.single_observation_space = self.prototype.observation_space
        self.single_action_space = self.prototype.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.rngs: list[np.random.Generator] = []
        self.tasks: list[Any] = []
        self.task_batch = np.empty(0)
        self._t = 0
        self._previous_rewards = np.zeros(self.num_envs)
        self._started = False
        self._autoreset = False

    # ------------------------------------------------------------------ batched hooks
    def _set_tasks(self, tasks: list[Any]) -> None:
        """Store the tasks (one per sub-env) as one batched array (extend to derive more arrays)."""
        self.task_batch = np.array(tasks)

    @abstractmethod
    def _reset_physical(self) -> None:
        """Put every sub-env at its start state (random starts drawn from ``self.rngs[i]``)."""

    @abstractmethod
    def _check_actions(self, actions: Any) -> Any:
        """Validate and clip a batch of actions."""

    @abstractmethod
    def _step_physical(self, actions: Any) -> np.ndarray:
        """Advance every sub-env; return the rewards, shape ``(num_envs,)``."""

    @abstractmethod
    def _physical_state(self) -> np.ndarray:
        """The bare physical states, shape ``(num_envs, d)``."""

    def _step_info(self, infos: dict[str, Any]) -> None:
        """Add env-specific keys (and their ``_key`` masks) to ``infos``."""

    # ------------------------------------------------------------------ Gymnasium vector API
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new meta-episode on every sub-env.

        Args:
            seed: an int ``s`` seeds sub-env ``i`` with ``s + i``; a list gives one seed per sub-env.
            options: ``{"task": task}`` runs every sub-env on ``task``; ``{"tasks": [...]}`` gives one
                task per sub-env.
        """
        if isinstance(seed, (list, tuple)):
            if len(seed) != self.num_envs:
                raise ValueError(f"seed list must have {self.num_envs} entries, got {len(seed)}")
            seeds = list(seed)
            super().reset(seed=None)
        else:
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
            super().reset(seed=seed)
        self.rngs = [seeding.np_random(s)[0] for s in seeds]
        options = options or {}
        unknown = set(options) - {"task", "tasks"}
        if unknown:
            raise ValueError(
                f"unknown reset option(s) {sorted(unknown)}; the options are 'task' and 'tasks'"
            )
        if options.get("task") is not None:
            tasks = [self.prototype._check_task(options["task"])] * self.num_envs
        elif options.get("tasks") is not None:
            if len(options["tasks"]) != self.num_envs:
                raise ValueError(
                    f"options['tasks'] must hold {self.num_envs} tasks, got {len(options['tasks'])}"
                )
            tasks = [self.prototype._check_task(task) for task in options["tasks"]]
        else:
            tasks = None
        return self._start_meta_episodes(tasks)

    def _start_meta_episodes(self, tasks: list[Any] | None) -> tuple[np.ndarray, dict[str, Any]]:
        # Same draw order as the single env: the task first, then the start state.
        # Tasks are always drawn (as the single env does), so given tasks leave the streams aligned.
        sampled = [self.prototype.sample_task(rng) for rng in self.rngs]
        self.tasks = sampled if tasks is None else tasks
        self._set_tasks(self.tasks)
        self._t = 0
        self._previous_rewards = np.zeros(self.num_envs)
        self._started = True
        self._autoreset = False
        self._reset_physical()
        return self._observations(), self._infos(sub_episode_end=False)

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env (see the module docstring for the autoreset)."""
        if not self._started:
            raise RuntimeError("step() called before reset()")
        if self._autoreset:
            obs, infos = self._start_meta_episodes(None)
            zeros = np.zeros(self.num_envs, dtype=np.bool_)
            return obs, np.zeros(self.num_envs), zeros, zeros.copy(), infos
        rewards = self._step_physical(self._check_actions(actions))
        self._t += 1
        self._previous_rewards = rewards
        boundary = self._t % self.sub_episode_length == 0
        truncated = self._t >= self.meta_episode_length
        if boundary:
            final_states = self._physical_state().astype(np.float32)
            if not truncated:
                self._reset_physical()
            infos = self._infos(sub_episode_end=True)
            infos["final_state"] = final_states
            infos["_final_state"] = np.ones(self.num_envs, dtype=np.bool_)
        else:
            infos = self._infos(sub_episode_end=False)
        self._autoreset = truncated
        terminations = np.zeros(self.num_envs, dtype=np.bool_)
        truncations = np.full(self.num_envs, truncated, dtype=np.bool_)
        return self._observations(), rewards.copy(), terminations, truncations, infos

    # ------------------------------------------------------------------ observations and infos
    def _observations(self) -> np.ndarray:
        states = self._physical_state()
        if not self.meta_features:
            return states.astype(np.float32)
        obs = np.empty((self.num_envs, states.shape[1] + 2), dtype=np.float32)
        obs[:, :-2] = states
        obs[:, -2] = self._previous_rewards
        obs[:, -1] = self._t / self.meta_episode_length
        return obs

    def _infos(self, sub_episode_end: bool) -> dict[str, Any]:
        t = self._t
        if t >= self.meta_episode_length:
            sub_episode, step = self.num_sub_episodes - 1, self.sub_episode_length
        else:
            sub_episode, step = divmod(t, self.sub_episode_length)
        k = self.num_envs
        infos: dict[str, Any] = {
            "task": self.task_batch.copy(),
            "sub_episode": np.full(k, sub_episode),
            "step_in_sub_episode": np.full(k, step),
            "sub_episode_end": np.full(k, sub_episode_end, dtype=np.bool_),
        }
        self._step_info(infos)
        for key in list(infos):
            if not key.startswith("_"):
                infos[f"_{key}"] = np.ones(k, dtype=np.bool_)
        return infos

    @property
    def sub_episode(self) -> int:
        """Index of the sub-episode the next actions act in (shared by all sub-envs)."""
        return min(self._t // self.sub_episode_length, self.num_sub_episodes - 1)
