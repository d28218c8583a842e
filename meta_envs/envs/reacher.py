"""Reacher-N: a planar two-link MuJoCo arm touches n hidden goals in order, then parks on the last.

This module imports ``mujoco`` (the official bindings) when it is imported, and only then: the
registry refers to it by a string entry point, so ``import meta_envs`` stays light. On a Linux
machine without a display, it first picks a headless OpenGL backend for MuJoCo's offscreen renderer
(``MUJOCO_GL=egl``, else ``osmesa``) unless ``MUJOCO_GL`` is already set; see
:func:`choose_mujoco_gl`.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from meta_envs.rendering.mujoco_gl import choose_mujoco_gl

choose_mujoco_gl()

import mujoco  # noqa: E402  (MUJOCO_GL must be chosen first)

from meta_envs.core.arguments import check_count, check_float_task  # noqa: E402
from meta_envs.core.continuous import BoxActionChecker  # noqa: E402
from meta_envs.core.meta_env import MetaEnv  # noqa: E402
from meta_envs.rendering.reacher_frames import ReacherFrames  # noqa: E402

#: Package-data path of the MJCF model (relative to ``meta_envs.envs``).
MODEL_RESOURCE = ("assets", "reacher_n.xml")
#: Seconds per control step (``env.step``).
CONTROL_DT = 0.02
#: Physics steps per control step (the model's timestep is ``CONTROL_DT / N_SUBSTEPS`` = 0.01 s).
N_SUBSTEPS = 2
#: Goals are drawn uniformly on a disk of this radius around the arm's base.
GOAL_DISK_RADIUS = 0.195
#: A goal is reached when the fingertip is closer than this; the distance term is 0 beyond it.
GOAL_RADIUS = 0.05
#: Weight of the squared action norm in the reward.
ACTION_COST = 0.01

_MODEL_XML: str | None = None


def model_xml() -> str:
    """The MJCF text of the arm, read once from the package data with ``importlib.resources``."""
    global _MODEL_XML
    if _MODEL_XML is None:
        _MODEL_XML = (
            resources.files("meta_envs.envs").joinpath(*MODEL_RESOURCE).read_text(encoding="utf-8")
        )
    return _MODEL_XML


def load_model() -> mujoco.MjModel:
    """A fresh :class:`mujoco.MjModel` of the arm (checks the timestep against ``CONTROL_DT``)."""
    model = mujoco.MjModel.from_xml_string(model_xml())
    if not math.isclose(model.opt.timestep * N_SUBSTEPS, CONTROL_DT):
        raise RuntimeError(
            f"reacher_n.xml timestep {model.opt.timestep} does not match {CONTROL_DT}/{N_SUBSTEPS}"
        )
    return model


def sample_goals(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` goals uniform on the disk of radius 0.195: ``r = 0.195 sqrt(U)``, angle ``2 pi U``."""
    u = rng.random((n, 2))
    radius = GOAL_DISK_RADIUS * np.sqrt(u[:, 0])
    angle = 2.0 * np.pi * u[:, 1]
    goals = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    goals.setflags(write=False)
    return goals


def arm_state(qpos: np.ndarray, qvel: np.ndarray, l1: float, l2: float) -> list[float]:
    """The physical state ``[x, y, cos q1, sin q1, cos q2, sin q2, dq1, dq2]`` of the arm.

    The fingertip comes from forward kinematics of the joint angles (MuJoCo's own body positions
    lag ``qpos`` by one physics step after ``mj_step``). Shared by the single and the vector env so
    that both compute bit-identical states.
    """
    shoulder, wrist = qpos.tolist()
    c1 = math.cos(shoulder)
    s1 = math.sin(shoulder)
    c2 = math.cos(wrist)
    s2 = math.sin(wrist)
    c12 = c1 * c2 - s1 * s2  # cos/sin of shoulder + wrist, the forearm's direction
    s12 = s1 * c2 + c1 * s2
    v1, v2 = qvel.tolist()
    return [l1 * c1 + l2 * c12, l1 * s1 + l2 * s12, c1, s1, c2, s2, v1, v2]


def goal_reward(
    state: list[float], goal: tuple[float, float], a0: float, a1: float
) -> tuple[float, float, float]:
    """``(d, max(1 - d / 0.05, 0), -0.01 ||a||^2)`` for fingertip-to-goal distance ``d``."""
    distance = math.hypot(state[0] - goal[0], state[1] - goal[1])
    distance_term = 1.0 - distance / GOAL_RADIUS if distance < GOAL_RADIUS else 0.0
    return distance, distance_term, -ACTION_COST * (a0 * a0 + a1 * a1)


class ReacherNEnv(MetaEnv[np.ndarray]):
    """Reacher-N: touch ``n`` hidden goals in order with a two-link MuJoCo arm, then park.

    ## Description

    A planar two-link arm (dm_control's reacher: links of 0.12, fingertip reach 0.24 around the
    base, wrist limited to +-160 degrees) is driven by two joint torques. A task is a sequence of
    ``n`` goals in the reachable disk. The reward is sparse and only the *current* goal pays: when
    the fingertip comes within 0.05 of it, the next goal becomes current; the last goal stays
    current, so the arm can park on it. The goals are never observed: the first sub-episode must
    search the disk (the reward says when the fingertip is near the current goal, and how near),
    later sub-episodes can visit the remembered goals directly.

    Physics: the official ``mujoco`` bindings on the MJCF model ``envs/assets/reacher_n.xml``
    shipped as package data. One control step is 0.02 s = **2 physics steps of 0.01 s** (Euler
    with implicit joint damping). Why 2: the wrist's damping time constant (effective inertia /
    damping) is 0.005 to 0.019 s depending on the elbow angle, no longer than a control step, so a
    single 0.02 s step (dm_control's choice) resolves it poorly: after 1 s of random torques the
    joint angles are twice as far from a fine-step reference as with 0.01 s steps (4e-3 against
    2e-3 rad) and six times as far after wrist-limit hits (0.09 against 0.015 rad). 4 steps would
    halve the error again at twice the physics cost (about 1.7 us per physics step, the largest
    part of ``env.step``).

    Rendering (``rgb_array``/``human``): MuJoCo's offscreen ``mujoco.Renderer`` from a camera
    looking straight down; goals are discs of radius 0.05 numbered in order (yellow: current,
    orange: later, dimmed: reached, green: the last goal reached and parked on), and the
    fingertip trail of each sub-episode is drawn over the frame in its own colour (red, green,
    blue, then more), with a caption. Without a display, importing this module sets
    ``MUJOCO_GL=egl`` (else ``osmesa``) unless it is set; see :func:`choose_mujoco_gl`.

    ## Task Distribution

    ``n`` goals drawn independently and uniformly on the disk of radius 0.195 around the base
    (``r = 0.195 sqrt(U)``, angle ``2 pi U``). Every such goal is reachable: the fingertip covers
    the annulus ``0.042 <= r <= 0.24`` exactly, and a goal closer to the base than 0.042 (4.6% of
    goals) is within ``0.042 - r < 0.05`` of the fingertip with the wrist at its limit, so it pays
    (at most ``1 - (0.042 - r) / 0.05`` per step) and counts as reached. ``env.unwrapped.task`` is
    a read-only float64 array of shape ``(n, 2)`` (goal ``i`` in row ``i``);
    ``reset(options={"task": goals})`` takes the same (any finite values, for off-distribution
    evaluation).

    ## Action Space

    ``Box(-1, 1, (2,), float32)``: shoulder and wrist torques (motor gear 0.05), clipped to the box.
    NaN or a wrong shape raises ``ValueError``.

    ## Observation Space

    ``Box(float32)`` of shape ``(10,)`` (``(8,)`` with ``meta_features=False``):

    | index | observation                        | min   | max  |
    |-------|------------------------------------|-------|------|
    | 0     | fingertip x                        | -0.24 | 0.24 |
    | 1     | fingertip y                        | -0.24 | 0.24 |
    | 2     | cos(shoulder angle)                | -1    | 1    |
    | 3     | sin(shoulder angle)                | -1    | 1    |
    | 4     | cos(wrist angle)                   | -1    | 1    |
    | 5     | sin(wrist angle)                   | -1    | 1    |
    | 6     | shoulder angular velocity (rad/s)  | -inf  | inf  |
    | 7     | wrist angular velocity (rad/s)     | -inf  | inf  |
    | 8     | previous reward (0 after reset)    | -0.02 | 1    |
    | 9     | meta-episode time t / (N * H)      | 0     | 1    |

    ## Rewards

    With ``d`` the distance from the fingertip (after the step) to the current goal and ``a`` the
    clipped action: ``max(1 - d / 0.05, 0) - 0.01 ||a||^2``. When ``d < 0.05`` and the current goal
    is not the last, the next goal becomes current after this reward is computed. ``info`` carries
    ``reward_terms = {"distance": max(1 - d / 0.05, 0), "control": -0.01 ||a||^2}`` (they sum to
    the reward), ``goal_index`` (the current goal, 0-based) and ``goals_reached`` (goals reached in
    order in this sub-episode, the last one included once touched); a step that ends a sub-episode
    also has ``final_goals_reached``, the count of the sub-episode that just ended.

    ## Starting State

    At every sub-episode start: shoulder angle uniform on the circle, wrist angle uniform in its
    range (+-160 degrees), velocities zero, drawn from ``self.np_random``; the current goal is back
    to the first one and the goals are kept.

    ## Episode End

    The meta-episode is truncated after ``num_sub_episodes * sub_episode_length`` steps;
    ``terminated`` is always False. The step that ends a sub-episode returns the first observation
    of the next one and the old final state in ``info["final_state"]``.

    ## Arguments

    | argument             | default | meaning                                                  |
    |----------------------|---------|----------------------------------------------------------|
    | `n`                  | `2`     | number of goals per task (>= 1)                          |
    | `num_sub_episodes`   | `3`     | N, sub-episodes per meta-episode (>= 1)                  |
    | `sub_episode_length` | `300`   | H, steps per sub-episode (>= 1)                          |
    | `render_mode`        | `None`  | `None`, `"rgb_array"` or `"human"`                       |
    | `meta_features`      | `True`  | append previous reward and t/(N*H) to the observation    |
    | `width`              | `256`   | width of rendered frames in pixels (>= 1)                |
    | `height`             | `256`   | height of rendered frames in pixels (>= 1)               |

    ## Version History

    * v0: first version. Differences from the reference MAMBA code: the observation includes the
      joint angles as (cos, sin) (the reference hid them, which made the arm's own state
      ambiguous); the boundary step returns the first observation of the next sub-episode (the
      reference revealed it one action late); task sampling and start states are seeded by
      ``reset(seed=...)``; the simulator is the official ``mujoco`` bindings with the model shipped
      as package data. Differences from dm_control's reacher (the reference geometry): two 0.01 s
      physics steps per 0.02 s control step instead of one 0.02 s step, ``n`` goals on the disk of
      radius 0.195 instead of one target on the ring 0.05..0.20, and no target geom in the model
      (the goals are drawn at render time).
    """

    env_id: ClassVar[str] = "meta_envs/ReacherN-v0"
    reward_range_bounds: ClassVar[tuple[float, float]] = (-2 * ACTION_COST, 1.0)
    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["human", "rgb_array"],
        "render_fps": round(1.0 / CONTROL_DT),
    }

    def __init__(
        self,
        n: int = 2,
        num_sub_episodes: int = 3,
        sub_episode_length: int = 300,
        render_mode: str | None = None,
        meta_features: bool = True,
        width: int = 256,
        height: int = 256,
    ) -> None:
        self.n = check_count("n", n)
        self.width = check_count("width", width)
        self.height = check_count("height", height)
        self._model = load_model()
        self._data = mujoco.MjData(self._model)
        model = self._model
        # Link lengths and the wrist range, read from the model (used for the fingertip position).
        self.upper_arm_length = float(model.body("hand").pos[0])
        self.forearm_length = float(model.body("finger").pos[0])
        self.wrist_range = tuple(float(v) for v in model.joint("wrist").range)
        super().__init__(num_sub_episodes, sub_episode_length, render_mode, meta_features)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._check_action_fn = BoxActionChecker(self.action_space)
        self._qpos = self._data.qpos
        self._qvel = self._data.qvel
        self._ctrl = self._data.ctrl
        self._goals: list[tuple[float, float]] = []
        self._goals_task: Any = None
        self._goal_index = 0
        self._goals_reached = 0
        self._previous_goals_reached = 0
        self._reward_terms = (0.0, 0.0)
        self._state = [0.0] * 8
        self._renderer: Any = None

    # ------------------------------------------------------------------ hooks
    def physical_observation_space(self) -> spaces.Box:
        reach = self.upper_arm_length + self.forearm_length
        high = np.array([reach, reach, 1, 1, 1, 1, np.inf, np.inf], dtype=np.float32)
        return spaces.Box(-high, high, dtype=np.float32)

    def sample_task(self, rng: np.random.Generator) -> np.ndarray:
        """``n`` goals uniform on the disk of radius 0.195 around the base, shape ``(n, 2)``."""
        return sample_goals(rng, self.n)

    def _check_task(self, task: Any) -> np.ndarray:
        return check_float_task("task (the goals)", task, (self.n, 2))

    def _check_action(self, action: Any) -> tuple[float, float]:
        return self._check_action_fn(action)

    def _reset_physical(self, rng: np.random.Generator) -> None:
        if self._goals_task is not self._task:  # a new meta-episode (sub-episodes keep the task)
            self._goals = [(float(x), float(y)) for x, y in self._task]
            self._goals_task = self._task
        shoulder = rng.uniform(-math.pi, math.pi)
        wrist = rng.uniform(*self.wrist_range)
        mujoco.mj_resetData(self._model, self._data)
        self._qpos[0] = shoulder
        self._qpos[1] = wrist
        self._previous_goals_reached = self._goals_reached
        self._goal_index = 0
        self._goals_reached = 0
        self._reward_terms = (0.0, 0.0)
        self._update_state()

    def _step_physical(self, action: tuple[float, float]) -> float:
        a0, a1 = action
        ctrl = self._ctrl
        ctrl[0] = a0
        ctrl[1] = a1
        mujoco.mj_step(self._model, self._data, N_SUBSTEPS)
        state = self._update_state()
        distance, distance_term, control = goal_reward(state, self._goals[self._goal_index], a0, a1)
        self._reward_terms = (distance_term, control)
        if distance < GOAL_RADIUS:
            if self._goal_index < self.n - 1:
                self._goal_index += 1
                self._goals_reached += 1
            else:
                self._goals_reached = self.n
        return distance_term + control

    def _update_state(self) -> list[float]:
        self._state = arm_state(self._qpos, self._qvel, self.upper_arm_length, self.forearm_length)
        return self._state

    def _physical_state(self) -> np.ndarray:
        return np.array(self._state)

    def _step_info(self, info: dict[str, Any]) -> None:
        info["goal_index"] = self._goal_index
        info["goals_reached"] = self._goals_reached
        distance_term, control = self._reward_terms
        info["reward_terms"] = {"distance": distance_term, "control": control}
        if info["sub_episode_end"]:
            last = self._t >= self.meta_episode_length  # no reset after the last step
            info["final_goals_reached"] = (
                self._goals_reached if last else self._previous_goals_reached
            )

    def reference_kwargs(self) -> dict[str, Any]:
        return {**super().reference_kwargs(), "n": self.n}

    # ------------------------------------------------------------------ public extras
    @property
    def goal_index(self) -> int:
        """Index of the current goal (the one that pays)."""
        return self._goal_index

    @property
    def goals_reached(self) -> int:
        """Goals reached in order in this sub-episode."""
        return self._goals_reached

    @property
    def fingertip(self) -> np.ndarray:
        """The fingertip position ``(x, y)``."""
        return np.array(self._state[:2])

    @property
    def joint_angles(self) -> np.ndarray:
        """The shoulder and wrist angles in radians (the shoulder angle is not wrapped)."""
        return self._qpos.copy()

    @property
    def model(self) -> mujoco.MjModel:
        """The MuJoCo model of this env."""
        return self._model

    @property
    def data(self) -> mujoco.MjData:
        """The MuJoCo data of this env (write to it only to build test states)."""
        return self._data

    def set_joint_state(self, angles: Any, velocities: Any = (0.0, 0.0)) -> None:
        """Put the arm at ``angles`` (shoulder, wrist) with ``velocities`` (for tests and demos).

        The observation returned by the next ``step`` reflects it; the current goal is unchanged.
        """
        self._qpos[:] = np.asarray(angles, dtype=np.float64)
        self._qvel[:] = np.asarray(velocities, dtype=np.float64)
        self._update_state()

    # ------------------------------------------------------------------ rendering
    def _render_rgb(self) -> np.ndarray:
        """Render with MuJoCo's offscreen renderer; draw the trails and a caption with pygame."""
        if self._renderer is None:
            self._renderer = ReacherFrames(self._model, self.width, self.height, GOAL_RADIUS)
        caption = f"sub-episode {self.sub_episode + 1}/{self.num_sub_episodes}  t={self._t}"
        return self._renderer.render(
            self._data, self._goals, self._goal_index, self._goals_reached, self._trails, caption
        )

    @property
    def _pixels_per_metre(self) -> float:
        """Pixels per metre of the rendered frames at the arm's height (after the first frame)."""
        return self._renderer.pixels_per_metre

    def close(self) -> None:
        """Release the offscreen renderer and close the human window, if any."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        super().close()
