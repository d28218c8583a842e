"""Reference policies of Reacher-N: the oracle (told the goals) and the explorer (searches for them).

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

#: PD gains of the joint-space controller (torque units per rad and per rad/s), tuned for speed.
KP = 20.0
KD = 0.6
#: Radii of the search rings of the explorer, in order: the first two cover the goal disk (each
#: ring senses a band of +-0.049 around it); the others fill any gap left by tracking errors.
SEARCH_RINGS = (0.146, 0.048, 0.1, 0.175, 0.07, 0.125)
#: Shoulder torque while sweeping a ring (the shoulder then turns at about 5 rad/s).
SWEEP_TORQUE = 1.0


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class ArmController:
    """Joint-space PD control of the Reacher-N arm towards fingertip targets."""

    def __init__(self, env: Any) -> None:
        self.l1 = env.upper_arm_length
        self.l2 = env.forearm_length
        self.wrist_low, self.wrist_high = env.wrist_range
        self.reach_min = math.sqrt(self.l1**2 + self.l2**2 + 2 * self.l1 * self.l2 * math.cos(self.wrist_high))
        self.reach_max = self.l1 + self.l2
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
        shoulder = math.atan2(y, x) - math.atan2(self.l2 * math.sin(wrist), self.l1 + self.l2 * math.cos(wrist))
        return shoulder, wrist

    def pd(self, obs: np.ndarray, shoulder_target: float, wrist_target: float) -> np.ndarray:
        """Saturated PD torques towards joint targets (the shoulder error is wrapped)."""
        shoulder = math.atan2(obs[3], obs[2])
        wrist = math.atan2(obs[5], obs[4])
        e1 = _wrap(shoulder_target - shoulder)
        e2 = wrist_target - wrist
        a1 = KP * e1 - KD * float(obs[6])
        a2 = KP * e2 - KD * float(obs[7])
        return np.array([min(max(a1, -1.0), 1.0), min(max(a2, -1.0), 1.0)], dtype=np.float32)

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


def _distance_term(env: Any, last_action: np.ndarray | None) -> float:
    """The distance part of the last reward: the reward plus the (known) cost of our own action."""
    if last_action is None:
        return 0.0
    a = np.clip(np.asarray(last_action, dtype=np.float64), -1.0, 1.0)
    return env.previous_reward + 0.01 * float(a @ a)


class ReacherNOracle(ReferencePolicy):
    """Is told the goals: steers the fingertip to the current goal, the next one once it is
    reached, and parks on the last one."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.controller = ArmController(self.env)

    def reset(self) -> None:
        self.controller.reset()

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        if info.get("step_in_sub_episode", 1) == 0:
            self.controller.reset()  # the arm was put at a new random start
        goals = self.env.task
        index = int(info.get("goal_index", self.env.goal_index))
        goal = goals[index]
        return self.controller.go_to(obs, (float(goal[0]), float(goal[1])))


@dataclass
class _GoalBelief:
    """What the explorer knows about one goal."""

    #: A point within 0.05 of the goal (an intermediate goal only needs to be touched).
    target: tuple[float, float] | None = None
    #: Fingertip positions and the distances to the goal that the reward revealed there.
    samples: list[tuple[float, float, float]] = field(default_factory=list)
    #: Search progress: index into SEARCH_RINGS of the ring being swept, and the shoulder angle
    #: swept on it so far.
    ring: int = 0
    swept: float = 0.0


class ReacherNExplorer(ReferencePolicy):
    """Searches the goal disk without knowing the goals, then remembers them.

    While the current goal is unknown, the arm sweeps rings around the base (wrist held at the
    angle of the ring's radius, shoulder turning at full torque): a ring senses every goal within
    0.05 of it, and two rings (radii 0.146 and 0.048) cover the disk of radius 0.195. The reward
    reveals the distance ``d`` to the current goal when ``d < 0.05`` (the explorer adds back the
    cost of its own action). When an intermediate goal pays, it counts it as reached, remembers a
    point that must lie within 0.05 of it (from the entry point and the step that led there), and
    searches for the next goal. When the last goal pays, it parks: it steers to the goal position
    fitted (least squares) to all the distances seen so far. Later sub-episodes go straight to the
    remembered points. It reads the static arguments of the env (n, link lengths), never the task.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.controller = ArmController(self.env)
        self.reset()

    def reset(self) -> None:
        self.controller.reset()
        self.beliefs = [_GoalBelief() for _ in range(self.env.n)]
        self._start_sub_episode()

    def _start_sub_episode(self) -> None:
        self.index = 0
        self.last_action: np.ndarray | None = None
        self.last_tip: tuple[float, float] | None = None
        self.last_outside = False  # the previous step was known to be >= 0.05 from goal `index`
        self._sweeping = False
        self._previous_shoulder: float | None = None
        self._idle = 0
        self.controller.reset()

    def act(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        # On the step that ended a sub-episode, the reward belongs to the old sub-episode, whose
        # last fingertip position is in info["final_state"]; obs is already the new start.
        final_state = info.get("final_state")
        tip = (float(obs[0]), float(obs[1])) if final_state is None else (float(final_state[0]), float(final_state[1]))
        term = _distance_term(self.env, self.last_action)
        if term > 1e-9:
            self._observe(tip, 0.05 * (1.0 - term))
            self._idle = 0
        else:
            self.last_outside = self.last_action is not None
        self.last_tip = tip
        if info.get("step_in_sub_episode", 1) == 0:
            self._start_sub_episode()
            self.last_tip = (float(obs[0]), float(obs[1]))
        action = self._act(obs, term)
        self.last_action = action
        return action

    def _observe(self, tip: tuple[float, float], distance: float) -> None:
        """The reward says the fingertip is ``distance`` (< 0.05) from the current goal."""
        belief = self.beliefs[self.index]
        belief.samples.append((tip[0], tip[1], distance))
        del belief.samples[:-40]
        if self.index < self.env.n - 1:
            if belief.target is None:
                belief.target = self._entry_target(tip, distance)
            self.index += 1
            self.last_outside = False  # unknown for the new goal
            self._sweeping = False
            self.controller.reset()
        else:
            belief.target = self._fit(belief, tip, distance)

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
        cos_max = (0.05**2 - distance**2 - step**2) / (2.0 * distance * step)
        shift = distance * min(max(cos_max, 0.0), 1.0)
        return (tip[0] + shift * ux / step, tip[1] + shift * uy / step)

    def _fit(self, belief: _GoalBelief, tip: tuple[float, float], distance: float) -> tuple[float, float]:
        """Least-squares goal position from the distances sensed so far (a few Gauss-Newton steps)."""
        if belief.target is None:
            guess = self._entry_target(tip, distance)
        else:
            guess = belief.target
        samples = np.array(belief.samples)
        if len(samples) < 3:
            return guess
        g = np.array(guess, dtype=np.float64)
        points, distances = samples[:, :2], samples[:, 2]
        for _ in range(8):
            diff = g - points
            norms = np.maximum(np.linalg.norm(diff, axis=1), 1e-9)
            residual = norms - distances
            jac = diff / norms[:, None]
            # Levenberg-Marquardt damping keeps the step near the current guess when the samples
            # lie on a line (the mirror image of the goal fits as well).
            lhs = jac.T @ jac + 1e-4 * np.eye(2)
            g = g - np.linalg.solve(lhs, jac.T @ residual)
        return (float(g[0]), float(g[1]))

    def _act(self, obs: np.ndarray, term: float) -> np.ndarray:
        belief = self.beliefs[self.index]
        if belief.target is not None:
            self._sweeping = False
            at_target = math.dist((float(obs[0]), float(obs[1])), belief.target) < 0.004
            self._idle = self._idle + 1 if at_target and term <= 1e-9 else 0
            if self._idle > 10:
                # The remembered point pays nothing (should not happen): search again.
                self.beliefs[self.index] = belief = _GoalBelief()
                self._idle = 0
            else:
                return self.controller.go_to(obs, belief.target)
        return self._sweep(obs, belief)

    def _sweep(self, obs: np.ndarray, belief: _GoalBelief) -> np.ndarray:
        """Sweep the search rings (resuming where the search for this goal stopped)."""
        shoulder = math.atan2(obs[3], obs[2])
        wrist = math.atan2(obs[5], obs[4])
        radius = SEARCH_RINGS[belief.ring % len(SEARCH_RINGS)]
        wrist_target = math.copysign(self.controller.wrist_for_radius(radius), wrist if wrist != 0 else 1.0)
        if self._sweeping and self._previous_shoulder is not None:
            on_ring = abs(math.hypot(obs[0], obs[1]) - radius) < 0.02
            if on_ring:
                belief.swept += max(_wrap(shoulder - self._previous_shoulder), 0.0)
            if belief.swept >= 2.0 * math.pi:
                belief.ring += 1
                belief.swept = 0.0
                radius = SEARCH_RINGS[belief.ring % len(SEARCH_RINGS)]
                wrist_target = math.copysign(self.controller.wrist_for_radius(radius), wrist if wrist != 0 else 1.0)
        self._sweeping = True
        self._previous_shoulder = shoulder
        wrist_torque = KP * (wrist_target - wrist) - KD * float(obs[7])
        return np.array([SWEEP_TORQUE, min(max(wrist_torque, -1.0), 1.0)], dtype=np.float32)
