"""Reference policies of Reacher-N: the oracle (told the goals) and the explorer (searches).

Both steer the arm with the same joint-space controller: the fingertip target is turned into joint
targets by inverse kinematics (the elbow side is chosen once per target, the one closer in joint
space), and the torques are a saturated PD law on the joint errors. Both are deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from meta_envs.policies.base import ReferencePolicy

#: Bandwidth (rad/s) and damping ratio of the joint-space controller: the desired joint
#: accelerations are ``OMEGA^2 e - 2 ZETA OMEGA v``, turned into torques with the arm's mass
#: matrix. A plain PD law with fixed gains chatters: the wrist's effective inertia varies fourfold
#: with the elbow angle, and at 0.02 s per step a derivative gain that damps the bent arm makes the
#: straight arm oscillate from step to step.
OMEGA = 20.0
ZETA = 1.0
#: Radii of the search rings of the explorer, in order: the first two cover the goal disk (each
#: ring senses a band of +-0.049 around it); the others fill any gap left by tracking errors.
SEARCH_RINGS = (0.146, 0.048, 0.1, 0.175, 0.07, 0.125)
#: Shoulder action while sweeping a ring (the shoulder then turns at about 5 rad/s).
SWEEP_TORQUE = 1.0
#: A goal pays when the fingertip is closer than this.
GOAL_RADIUS = 0.05


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class ArmController:
    """Joint-space control of the Reacher-N arm towards fingertip targets (computed torque)."""

    def __init__(self, env: Any) -> None:
        import mujoco

        self.l1 = env.upper_arm_length
        self.l2 = env.forearm_length
        self.wrist_low, self.wrist_high = env.wrist_range
        self.reach_min = math.sqrt(
            self.l1**2 + self.l2**2 + 2 * self.l1 * self.l2 * math.cos(self.wrist_high)
        )
        self.reach_max = self.l1 + self.l2
        # The mass matrix of a planar two-link arm is [[c + 2b cos q2, a + b cos q2], [., a]]:
        # read a, b, c from the (static) model at two elbow angles.
        model = env.model
        data = mujoco.MjData(model)
        mass = np.zeros((2, 2))
        data.qpos[:] = (0.0, 0.0)
        mujoco.mj_forward(model, data)
        mujoco.mj_fullM(model, data, mass)
        straight = mass.copy()
        data.qpos[:] = (0.0, math.pi / 2)
        mujoco.mj_forward(model, data)
        mujoco.mj_fullM(model, data, mass)
        self._a = float(mass[1, 1])
        self._b = float(straight[0, 1] - mass[0, 1])
        self._c = float(mass[0, 0])
        self._damping = model.dof_damping.astype(float).tolist()
        self._gear = model.actuator_gear[:, 0].astype(float).tolist()
        self._target: tuple[float, float] | None = None
        self._elbow_sign = 1.0

    def reset(self) -> None:
        self._target = None

    def wrist_for_radius(self, radius: float) -> float:
        """The (positive) wrist angle that puts the fingertip at ``radius`` from the base."""
        radius = min(max(radius, self.reach_min), self.reach_max)
        cosine = (radius * radius - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2)
        return math.acos(min(max(cosine, -1.0), 1.0))

    def inverse_kinematics(self, x: float, y: float, sign: float) -> tuple[float, float]:
        """Joint angles putting the fingertip at (or nearest to) ``(x, y)``, elbow side ``sign``."""
        wrist = sign * self.wrist_for_radius(math.hypot(x, y))
        shoulder = math.atan2(y, x) - math.atan2(
            self.l2 * math.sin(wrist), self.l1 + self.l2 * math.cos(wrist)
        )
        return shoulder, wrist

    def pd(self, obs: np.ndarray, shoulder_target: float, wrist_target: float) -> np.ndarray:
        """Saturated torques driving the joints to their targets (the shoulder error is wrapped)."""
        shoulder = math.atan2(obs[3], obs[2])
        wrist = math.atan2(obs[5], obs[4])
        v1, v2 = float(obs[6]), float(obs[7])
        e1 = _wrap(shoulder_target - shoulder)
        e2 = wrist_target - wrist
        return self._torques(
            OMEGA * OMEGA * e1 - 2 * ZETA * OMEGA * v1,
            OMEGA * OMEGA * e2 - 2 * ZETA * OMEGA * v2,
            obs,
        )

    def _torques(self, acc1: float, acc2: float, obs: np.ndarray) -> np.ndarray:
        """Actions giving joint accelerations ``(acc1, acc2)``, clipped to the action box.

        Computed torque: mass matrix, Coriolis and centrifugal terms, and joint damping.
        """
        cos2, sin2 = float(obs[4]), float(obs[5])
        v1, v2 = float(obs[6]), float(obs[7])
        m11 = self._c + 2 * self._b * cos2
        m12 = self._a + self._b * cos2
        h = self._b * sin2
        tau1 = m11 * acc1 + m12 * acc2 - h * (2 * v1 * v2 + v2 * v2) + self._damping[0] * v1
        tau2 = m12 * acc1 + self._a * acc2 + h * v1 * v1 + self._damping[1] * v2
        a1 = tau1 / self._gear[0]
        a2 = tau2 / self._gear[1]
        return np.array([min(max(a1, -1.0), 1.0), min(max(a2, -1.0), 1.0)], dtype=np.float32)

    def sweep(self, obs: np.ndarray, shoulder_action: float, wrist_target: float) -> np.ndarray:
        """A fixed shoulder action while the wrist is driven to ``wrist_target``."""
        cos2, sin2 = float(obs[4]), float(obs[5])
        v1, v2 = float(obs[6]), float(obs[7])
        wrist = math.atan2(sin2, cos2)
        acc2 = OMEGA * OMEGA * (wrist_target - wrist) - 2 * ZETA * OMEGA * v2
        m11 = self._c + 2 * self._b * cos2
        m12 = self._a + self._b * cos2
        h = self._b * sin2
        tau1 = shoulder_action * self._gear[0]
        acc1 = (tau1 - m12 * acc2 + h * (2 * v1 * v2 + v2 * v2) - self._damping[0] * v1) / m11
        tau2 = m12 * acc1 + self._a * acc2 + h * v1 * v1 + self._damping[1] * v2
        a2 = tau2 / self._gear[1]
        return np.array([shoulder_action, min(max(a2, -1.0), 1.0)], dtype=np.float32)

    def go_to(self, obs: np.ndarray, point: tuple[float, float]) -> np.ndarray:
        """Torques that move the fingertip to ``point``."""
        if self._target is None or math.dist(self._target, point) > 0.02:
            # A new target: pick the elbow side that needs the smaller joint motion, and keep it.
            shoulder = math.atan2(obs[3], obs[2])
            wrist = math.atan2(obs[5], obs[4])
            best = None
            for sign in (1.0, -1.0):
                t1, t2 = self.inverse_kinematics(point[0], point[1], sign)
                cost = max(abs(_wrap(t1 - shoulder)), abs(t2 - wrist))
                if best is None or cost < best[0] - 1e-9:
                    best = (cost, sign)
            assert best is not None
            self._elbow_sign = best[1]
        self._target = point
        t1, t2 = self.inverse_kinematics(point[0], point[1], self._elbow_sign)
        return self.pd(obs, t1, t2)


def _distance_term(previous_reward: float, last_action: np.ndarray | None) -> float:
    """The distance part of the last reward: the reward plus the (known) cost of our own action."""
    if last_action is None:
        return 0.0
    a = np.clip(np.asarray(last_action, dtype=np.float64), -1.0, 1.0)
    return previous_reward + 0.01 * float(a @ a)


class ReacherNOracle(ReferencePolicy):
    """Is told the goals: steers the fingertip to the current goal, the next one once it is
    reached, and parks on the last one."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.controller = ArmController(env.unwrapped)

    def reset(self) -> None:
        self.controller.reset()

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        if info.get("step_in_sub_episode", 1) == 0:
            self.controller.reset()  # the arm was put at a new random start
        goals = info["task"]
        index = int(info["goal_index"])
        goal = goals[index]
        return self.controller.go_to(obs, (float(goal[0]), float(goal[1])))


@dataclass
class _GoalBelief:
    """What the explorer knows about one goal."""

    #: Where to steer: a point within 0.05 of the goal, or the fitted goal position.
    target: tuple[float, float] | None = None
    #: Whether ``target`` is a fit of the goal position to three or more distances.
    fitted: bool = False
    #: Fingertip positions and the distances to the goal that the reward revealed there.
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    #: Search progress: index into SEARCH_RINGS of the ring being swept and the shoulder angle
    #: swept on it so far.
    ring: int = 0
    swept: float = 0.0


def trilaterate(samples: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    """The point at distance ``d_i`` from every ``(x_i, y_i)``, or ``None`` if ill-posed.

    Linear least squares on the differences of the squared distances, then Gauss-Newton steps;
    ``None`` when the points are (nearly) collinear (the mirror image would fit as well) or the fit
    is poor.
    """
    if len(samples) < 3:
        return None
    array = np.array(samples)
    points, distances = array[:, :2], array[:, 2]
    centred = points - points.mean(axis=0)
    if np.linalg.svd(centred, compute_uv=False)[-1] / math.sqrt(len(points)) < 2e-4:
        return None  # on a line (within 0.2 mm rms)
    lhs = 2.0 * (points[1:] - points[0])
    rhs = (points[1:] ** 2).sum(1) - (points[0] ** 2).sum() - distances[1:] ** 2 + distances[0] ** 2
    goal = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    for _ in range(3):
        diff = goal - points
        norms = np.maximum(np.linalg.norm(diff, axis=1), 1e-12)
        jac = diff / norms[:, None]
        goal = goal - np.linalg.lstsq(jac, norms - distances, rcond=None)[0]
    residual = np.linalg.norm(goal - points, axis=1) - distances
    if np.abs(residual).max() > 1e-3:
        return None
    return (float(goal[0]), float(goal[1]))


class ReacherNExplorer(ReferencePolicy):
    """Searches the goal disk without knowing the goals, then remembers them.

    While the current goal is unknown, the arm sweeps rings around the base (wrist held at the
    angle of the ring's radius, shoulder turning at full torque): a ring senses every goal within
    0.05 of it, and two rings (radii 0.146 and 0.048) cover the disk of radius 0.195; a search
    interrupted by the end of a sub-episode resumes where it stopped. The reward reveals the
    distance ``d`` to the current goal whenever ``d < 0.05`` (the explorer adds back the known cost
    of its own action). When an intermediate goal pays, the explorer counts it as reached, remembers
    a point that must lie within 0.05 of it (from the entry point and the step that led there), and
    searches for the next goal. When the last goal pays, it parks: it steers to the goal position
    trilaterated from the distances sensed (probing sideways once if they were all sensed on a
    line). If a remembered point pays nothing on arrival, it circles around it. Later sub-episodes
    go straight to the remembered points. It reads the static arguments of the env (n, link
    lengths, the model's masses), never the task.
    """

    #: Radius of the circle flown around a remembered point that paid nothing on arrival.
    CIRCLE_RADIUS = 0.03

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.n = int(env.unwrapped.n)
        self.controller = ArmController(env.unwrapped)
        # The distance term is recovered from the exact (float64) previous reward of the env,
        # which the float32 observation rounds: the explorer stays bound to its env.
        self._bind(env)
        self.reset()

    def reset(self) -> None:
        self.beliefs = [_GoalBelief() for _ in range(self.n)]
        self._start_sub_episode()

    def _start_sub_episode(self) -> None:
        self.index = 0
        self.last_action: np.ndarray | None = None
        self.last_tip: tuple[float, float] | None = None
        self.last_outside = False  # the previous step was known to be >= 0.05 from goal `index`
        self._previous_shoulder: float | None = None
        self._idle = 0
        self._circle: list[Any] | None = None  # [centre, phase, steps]
        self.controller.reset()

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        # On the step that ended a sub-episode the reward belongs to the old sub-episode, whose
        # last fingertip position is info["final_state"]; obs is already the new start.
        final_state = info.get("final_state")
        source = obs if final_state is None else final_state
        tip = (float(source[0]), float(source[1]))
        term = _distance_term(self.previous_reward(obs, info), self.last_action)
        if term > 1e-9:
            self._observe(tip, GOAL_RADIUS * (1.0 - term))
        else:
            self.last_outside = self.last_action is not None
        self.last_tip = tip
        if info.get("step_in_sub_episode", 1) == 0:
            self._start_sub_episode()
            self.last_tip = (float(obs[0]), float(obs[1]))
            term = 0.0
        action = self._decide(obs, term > 1e-9)
        self.last_action = action
        return action

    # ------------------------------------------------------------------ beliefs
    def _observe(self, tip: tuple[float, float], distance: float) -> None:
        """The reward says the fingertip is ``distance`` (< 0.05) from the current goal."""
        belief = self.beliefs[self.index]
        if all(math.dist(tip, sample[:2]) > 5e-4 for sample in belief.samples[-30:]):
            belief.samples.append((tip[0], tip[1], distance))  # a parked arm adds nothing new
            del belief.samples[:-30]
        self._idle = 0
        if self.index < self.n - 1:
            self._circle = None
            if belief.target is None:
                belief.target = self._entry_target(tip, distance)
            self.index += 1
            self.last_outside = False  # unknown for the new goal
            self._previous_shoulder = None
            self.controller.reset()
            return
        fit = trilaterate(belief.samples)
        if fit is not None:
            belief.target, belief.fitted = fit, True
            self._circle = None
        elif belief.target is None:
            belief.target = self._entry_target(tip, distance)

    def _entry_target(self, tip: tuple[float, float], distance: float) -> tuple[float, float]:
        """A point within 0.05 of a goal first sensed at ``tip`` at ``distance``.

        If the previous fingertip position ``p0`` was at least 0.05 from the goal, the goal lies on
        the arc of the circle of radius ``distance`` around ``tip`` outside the 0.05-disk around
        ``p0``; the point ``tip + distance * cos(theta_max) * u`` (``u`` the direction of motion,
        ``theta_max`` the half-angle of the arc) is within ``distance * sin(theta_max) < 0.05`` of
        every point of that arc. Without that knowledge, ``tip`` itself is within ``distance``.
        """
        if not self.last_outside or self.last_tip is None:
            return tip
        ux, uy = tip[0] - self.last_tip[0], tip[1] - self.last_tip[1]
        step = math.hypot(ux, uy)
        if step < 1e-9:
            return tip
        cos_max = (GOAL_RADIUS**2 - distance**2 - step**2) / (2.0 * distance * step)
        shift = distance * min(max(cos_max, 0.0), 1.0)
        return (tip[0] + shift * ux / step, tip[1] + shift * uy / step)

    # ------------------------------------------------------------------ acting
    def _decide(self, obs: np.ndarray, inside: bool) -> np.ndarray:
        belief = self.beliefs[self.index]
        if belief.target is None:
            return self._sweep(obs, belief)
        self._previous_shoulder = None
        tip = (float(obs[0]), float(obs[1]))
        if self._circle is not None:
            return self._fly_circle(obs, belief)
        arrived = math.dist(tip, belief.target) < 0.003 and abs(obs[6]) + abs(obs[7]) < 0.3
        last = self.index == self.n - 1
        if arrived and last and inside and not belief.fitted:
            # Parked on a point whose distances all lie on a line: probe sideways to trilaterate.
            belief.target = self._probe_point(belief)
        elif arrived and not inside:
            self._idle += 1
            if self._idle >= 3:
                self._circle = [belief.target, 0.0, 0]
                return self._fly_circle(obs, belief)
        return self.controller.go_to(obs, belief.target)

    def _probe_point(self, belief: _GoalBelief) -> tuple[float, float]:
        points = np.array([s[:2] for s in belief.samples])
        assert belief.target is not None
        if len(points) >= 2 and np.ptp(points, axis=0).max() > 1e-4:
            direction = np.linalg.svd(points - points.mean(axis=0))[2][0]
        else:
            direction = np.array([1.0, 0.0])
        return (belief.target[0] - 0.015 * direction[1], belief.target[1] + 0.015 * direction[0])

    def _fly_circle(self, obs: np.ndarray, belief: _GoalBelief) -> np.ndarray:
        """Circle a remembered point that paid nothing; forget it after two laps."""
        assert self._circle is not None
        centre, phase, steps = self._circle
        carrot = (
            centre[0] + self.CIRCLE_RADIUS * math.cos(phase),
            centre[1] + self.CIRCLE_RADIUS * math.sin(phase),
        )
        if math.dist((float(obs[0]), float(obs[1])), carrot) < 0.01:
            phase += 0.5
        steps += 1
        self._circle = [centre, phase, steps]
        if phase > 4 * math.pi or steps > 150:
            # Nothing there: search again from scratch.
            self.beliefs[self.index] = _GoalBelief()
            self._circle = None
            self._idle = 0
            return self._sweep(obs, self.beliefs[self.index])
        return self.controller.go_to(obs, carrot)

    def _sweep(self, obs: np.ndarray, belief: _GoalBelief) -> np.ndarray:
        """Sweep the search rings (resuming where the search for this goal stopped)."""
        shoulder = math.atan2(obs[3], obs[2])
        wrist = math.atan2(obs[5], obs[4])
        side = 1.0 if wrist >= 0 else -1.0  # keep the elbow on its side
        radius = SEARCH_RINGS[belief.ring % len(SEARCH_RINGS)]
        if self._previous_shoulder is not None:
            if abs(math.hypot(obs[0], obs[1]) - radius) < 0.02:
                belief.swept += max(_wrap(shoulder - self._previous_shoulder), 0.0)
            if belief.swept >= 2.0 * math.pi:
                belief.ring += 1
                belief.swept = 0.0
                radius = SEARCH_RINGS[belief.ring % len(SEARCH_RINGS)]
        self._previous_shoulder = shoulder
        return self.controller.sweep(
            obs, SWEEP_TORQUE, side * self.controller.wrist_for_radius(radius)
        )
