"""Native vectorised Reacher-N: one ``MjData`` per sub-env, stepped in one tight loop.

MuJoCo steps one ``MjData`` at a time, so the physics is a Python loop over sub-envs; what this
saves over Gymnasium's ``SyncVectorEnv`` is everything around it (per-env wrappers, observation
building, and above all the per-env merging of the info dicts). ``benchmarks/reacher_throughput.py``
measures both.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np

from meta_envs.core.continuous import check_box_actions
from meta_envs.envs.reacher import GOAL_RADIUS, N_SUBSTEPS, ReacherNEnv, arm_state, goal_reward
from meta_envs.vector.meta_vector_env import MetaVectorEnv


class ReacherNVectorEnv(MetaVectorEnv):
    """A batch of :class:`~meta_envs.envs.reacher.ReacherNEnv` meta-episodes.

    Sub-env ``i`` after ``reset(seed=s)`` equals the single env reset with ``seed=s + i``, step for
    step (the same MuJoCo calls on its own ``MjData`` and the same float arithmetic). Infos carry
    the single env's keys batched: ``goal_index``, ``goals_reached``, ``reward_terms`` (a dict of
    arrays with ``_distance``/``_control`` masks, as ``SyncVectorEnv`` builds it) and, on the step
    that ends a sub-episode, ``final_goals_reached``.
    """

    single_env_class = ReacherNEnv

    def __init__(self, num_envs: int = 1, **env_kwargs: Any) -> None:
        super().__init__(num_envs, **env_kwargs)
        prototype: Any = self.prototype
        self.n = prototype.n
        self._model = prototype.model
        self._l1 = prototype.upper_arm_length
        self._l2 = prototype.forearm_length
        self._wrist_range = prototype.wrist_range
        self._datas = [mujoco.MjData(self._model) for _ in range(self.num_envs)]
        self._goal_lists: list[list[tuple[float, float]]] = []
        self._goal_index = [0] * self.num_envs
        self._goals_reached = [0] * self.num_envs
        self._previous_goals_reached = [0] * self.num_envs
        self._distance_terms = [0.0] * self.num_envs
        self._controls = [0.0] * self.num_envs
        self._states = [[0.0] * 8 for _ in range(self.num_envs)]

    def _set_tasks(self, tasks: list[Any]) -> None:
        super()._set_tasks(tasks)
        self._goal_lists = [[(float(x), float(y)) for x, y in task] for task in tasks]

    def _reset_physical(self) -> None:
        model, l1, l2 = self._model, self._l1, self._l2
        for i, (rng, data) in enumerate(zip(self.rngs, self._datas, strict=True)):
            shoulder = rng.uniform(-np.pi, np.pi)
            wrist = rng.uniform(*self._wrist_range)
            mujoco.mj_resetData(model, data)
            data.qpos[0] = shoulder
            data.qpos[1] = wrist
            self._previous_goals_reached[i] = self._goals_reached[i]
            self._goal_index[i] = 0
            self._goals_reached[i] = 0
            self._distance_terms[i] = 0.0
            self._controls[i] = 0.0
            self._states[i] = arm_state(data.qpos, data.qvel, l1, l2)

    def _check_actions(self, actions: Any) -> np.ndarray:
        return check_box_actions(actions, self.single_action_space, self.num_envs)

    def _step_physical(self, actions: np.ndarray) -> np.ndarray:
        model, l1, l2, n = self._model, self._l1, self._l2, self.n
        mj_step = mujoco.mj_step
        rewards = np.empty(self.num_envs)
        goal_index, goals_reached = self._goal_index, self._goals_reached
        for i, ((a0, a1), data) in enumerate(zip(actions.tolist(), self._datas, strict=True)):
            ctrl = data.ctrl
            ctrl[0] = a0
            ctrl[1] = a1
            mj_step(model, data, N_SUBSTEPS)
            state = arm_state(data.qpos, data.qvel, l1, l2)
            self._states[i] = state
            index = goal_index[i]
            distance, distance_term, control = goal_reward(
                state, self._goal_lists[i][index], a0, a1
            )
            self._distance_terms[i] = distance_term
            self._controls[i] = control
            if distance < GOAL_RADIUS:
                if index < n - 1:
                    goal_index[i] = index + 1
                    goals_reached[i] += 1
                else:
                    goals_reached[i] = n
            rewards[i] = distance_term + control
        return rewards

    def _physical_state(self) -> np.ndarray:
        return np.array(self._states)

    def _step_info(self, infos: dict[str, Any]) -> None:
        k = self.num_envs
        infos["goal_index"] = np.array(self._goal_index)
        infos["goals_reached"] = np.array(self._goals_reached)
        ones = np.ones(k, dtype=np.bool_)
        infos["reward_terms"] = {
            "distance": np.array(self._distance_terms),
            "_distance": ones,
            "control": np.array(self._controls),
            "_control": ones.copy(),
        }
        if infos["sub_episode_end"][0]:
            last = self._t >= self.meta_episode_length  # no reset after the last step
            infos["final_goals_reached"] = np.array(
                self._goals_reached if last else self._previous_goals_reached
            )
