"""Reacher-N on MuJoCo: contract, reward, goal switching, inputs, rendering, vector form, wheel."""

from __future__ import annotations

import inspect
import math
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import meta_envs  # noqa: F401  (registers the ids)
from meta_envs.envs.reacher import (
    GOAL_DISK_RADIUS,
    GOAL_RADIUS,
    ReacherNEnv,
    arm_state,
    choose_mujoco_gl,
)
from meta_envs.policies import make_policy

ENV_ID = "meta_envs/ReacherN-v0"
REPO = Path(__file__).resolve().parents[2]
ZERO = np.zeros(2, dtype=np.float32)


def make(**kwargs) -> gym.Env:
    return gym.make(ENV_ID, **{"num_sub_episodes": 2, "sub_episode_length": 5, **kwargs})


def joints_for(env: ReacherNEnv, x: float, y: float) -> tuple[float, float]:
    """Joint angles putting the fingertip at (x, y) (elbow on the positive side)."""
    l1, l2 = env.upper_arm_length, env.forearm_length
    cosine = (x * x + y * y - l1 * l1 - l2 * l2) / (2 * l1 * l2)
    wrist = math.acos(cosine)
    shoulder = math.atan2(y, x) - math.atan2(l2 * math.sin(wrist), l1 + l2 * math.cos(wrist))
    return shoulder, wrist


# ---------------------------------------------------------------------- contract
def test_gymnasium_env_checker() -> None:
    with pytest.warns(UserWarning):  # the velocities are unbounded (as in Gymnasium's MuJoCo envs)
        check_env(make().unwrapped)


def test_defaults_and_spaces() -> None:
    env = gym.make(ENV_ID).unwrapped
    assert (env.n, env.num_sub_episodes, env.sub_episode_length) == (2, 3, 300)
    assert env.observation_space.shape == (10,)
    assert env.physical_space.shape == (8,)
    assert env.action_space.shape == (2,)
    assert env.model.opt.timestep * 2 == pytest.approx(0.02)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert env.task.shape == (2, 2) and env.task.dtype == np.float64
    assert not env.task.flags.writeable
    assert info["goal_index"] == 0 and info["goals_reached"] == 0
    assert info["reward_terms"] == {"distance": 0.0, "control": 0.0}


def test_arguments_table_matches_constructor() -> None:
    doc = inspect.getdoc(ReacherNEnv)
    table = dict(re.findall(r"^\| `(\w+)`\s+\| `([^`]*)`", doc, flags=re.MULTILINE))
    params = inspect.signature(ReacherNEnv.__init__).parameters
    assert set(table) == set(params) - {"self"}
    for name, default in table.items():
        assert default == repr(params[name].default), name


def test_same_seed_same_meta_episode_and_rendering_changes_nothing() -> None:
    runs = []
    for render_mode in (None, "rgb_array", None):
        env = make(sub_episode_length=20, render_mode=render_mode)
        obs, _ = env.reset(seed=3)
        rng = np.random.default_rng(0)
        trace = [obs]
        for _ in range(40):
            obs, reward, _, _, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            if render_mode is not None:
                env.render()
            trace += [obs, np.array([reward]), info["task"]]
        runs.append(np.concatenate([np.ravel(x) for x in trace]))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
    other = make().unwrapped
    other.reset(seed=4)
    assert not np.array_equal(other.task, make().unwrapped.reset(seed=3)[1]["task"])


def test_observation_layout_matches_mujoco() -> None:
    import mujoco

    env = make(meta_features=False).unwrapped
    env.reset(seed=1)
    for _ in range(7):
        obs, *_ = env.step(np.array([0.7, -0.4], dtype=np.float32))
    q, v = env.data.qpos.copy(), env.data.qvel.copy()
    np.testing.assert_allclose(
        obs[2:6], [math.cos(q[0]), math.sin(q[0]), math.cos(q[1]), math.sin(q[1])], atol=1e-6
    )
    np.testing.assert_allclose(obs[6:], v, rtol=1e-6)
    mujoco.mj_kinematics(env.model, env.data)
    np.testing.assert_allclose(obs[:2], env.data.body("finger").xpos[:2], atol=1e-7)
    np.testing.assert_allclose(
        obs, arm_state(env.data.qpos, env.data.qvel, 0.12, 0.12), rtol=1e-6, atol=1e-7
    )


# ---------------------------------------------------------------------- task and start distribution
def test_goals_are_uniform_on_the_disk() -> None:
    env = make(n=3).unwrapped
    rng = np.random.default_rng(0)
    goals = np.concatenate([env.sample_task(rng) for _ in range(3000)])
    radius = np.hypot(goals[:, 0], goals[:, 1])
    assert radius.max() <= GOAL_DISK_RADIUS
    # Area-uniform: P(r < R/2) = 1/4 and E[r^2] = R^2 / 2.
    assert np.mean(radius < GOAL_DISK_RADIUS / 2) == pytest.approx(0.25, abs=0.02)
    assert np.mean(radius**2) == pytest.approx(GOAL_DISK_RADIUS**2 / 2, rel=0.03)
    quadrants = np.histogram(np.arctan2(goals[:, 1], goals[:, 0]), bins=4, range=(-np.pi, np.pi))[0]
    assert quadrants.min() > 0.22 * len(goals)


def test_every_goal_of_the_disk_is_reachable() -> None:
    env = make().unwrapped
    l1, l2 = env.upper_arm_length, env.forearm_length
    reach_min = math.sqrt(l1**2 + l2**2 + 2 * l1 * l2 * math.cos(env.wrist_range[1]))
    assert reach_min == pytest.approx(0.0417, abs=1e-4)
    assert l1 + l2 > GOAL_DISK_RADIUS  # goals at the rim are reached exactly
    for radius in np.linspace(0.0, GOAL_DISK_RADIUS, 40):
        # The nearest fingertip position is at distance max(reach_min - r, 0) from the goal.
        assert max(reach_min - radius, 0.0) < GOAL_RADIUS


def test_sub_episode_start_is_random_with_zero_velocity_and_goals_are_kept() -> None:
    env = make(num_sub_episodes=40, sub_episode_length=1, meta_features=False).unwrapped
    obs, _ = env.reset(seed=0)
    goals = env.task.copy()
    starts = [obs]
    for _ in range(39):
        obs, *_, info = env.step(np.ones(2, dtype=np.float32))
        starts.append(obs)
        assert info["goal_index"] == 0 and info["goals_reached"] == 0
    starts = np.array(starts)
    np.testing.assert_array_equal(starts[:, 6:], 0.0)
    wrist = np.arctan2(starts[:, 5], starts[:, 4])
    shoulder = np.arctan2(starts[:, 3], starts[:, 2])
    assert np.all(np.abs(wrist) <= math.radians(160) + 1e-6)
    assert shoulder.min() < -2 and shoulder.max() > 2 and np.ptp(wrist) > 3
    np.testing.assert_array_equal(env.task, goals)


# ---------------------------------------------------------------------- reward and goals
def test_reward_on_a_hand_built_state() -> None:
    env = make(sub_episode_length=50).unwrapped
    goal = (0.1, 0.05)
    env.reset(seed=0, options={"task": [goal, (-0.1, -0.1)]})
    # Fingertip 0.02 from the goal: distance term 1 - 0.02 / 0.05 = 0.6 (the arm is at rest and
    # a zero torque keeps it there).
    env.set_joint_state(joints_for(env, goal[0] + 0.02, goal[1]))
    obs, reward, *_, info = env.step(ZERO)
    assert reward == pytest.approx(0.6, abs=1e-9)
    assert info["reward_terms"] == pytest.approx({"distance": 0.6, "control": 0.0}, abs=1e-9)
    # Out of range: only the action cost, 0.01 * ||a||^2 of the clipped action.
    env.reset(seed=0, options={"task": [goal, (-0.1, -0.1)]})
    env.set_joint_state(joints_for(env, goal[0] + 0.06, goal[1]))
    obs, reward, *_, info = env.step(np.array([3.0, -0.5], dtype=np.float32))
    assert info["reward_terms"]["control"] == pytest.approx(-0.01 * (1.0 + 0.25))
    assert info["reward_terms"]["distance"] == 0.0
    assert reward == info["reward_terms"]["distance"] + info["reward_terms"]["control"]
    assert info["goal_index"] == 0


def test_goal_switching_and_parking_on_the_last_goal() -> None:
    env = make(n=3, num_sub_episodes=2, sub_episode_length=10).unwrapped
    goals = [(0.1, 0.05), (-0.12, 0.08), (0.0, -0.15)]
    env.reset(seed=0, options={"task": goals})
    # Sit 0.01 from goal 0: it pays 0.8 and goal 1 becomes current (after the reward).
    env.set_joint_state(joints_for(env, goals[0][0], goals[0][1] + 0.01))
    _, reward, *_, info = env.step(ZERO)
    assert reward == pytest.approx(0.8, abs=1e-9)
    assert (info["goal_index"], info["goals_reached"]) == (1, 1)
    # Staying there now pays nothing: goal 0 is no longer current.
    _, reward, *_, info = env.step(ZERO)
    assert reward == 0.0 and info["goal_index"] == 1
    # Jump onto goal 2: it is not current, so nothing happens.
    env.set_joint_state(joints_for(env, *goals[2]))
    _, reward, *_, info = env.step(ZERO)
    assert reward == 0.0 and info["goal_index"] == 1
    env.set_joint_state(joints_for(env, *goals[1]))
    _, reward, *_, info = env.step(ZERO)
    assert reward == pytest.approx(1.0, abs=1e-9)
    assert (info["goal_index"], info["goals_reached"]) == (2, 2)
    env.set_joint_state(joints_for(env, *goals[2]))
    for _ in range(5):  # the last goal pays on every step: the arm parks on it
        _, reward, *_, info = env.step(ZERO)
        assert reward == pytest.approx(1.0, abs=1e-9)
        assert (info["goal_index"], info["goals_reached"]) == (2, 3)
    # Step 10 ends the sub-episode: the goals are kept, the current goal is back to the first.
    _, reward, _, truncated, info = env.step(ZERO)
    assert reward == pytest.approx(1.0, abs=1e-9) and not truncated
    assert info["sub_episode_end"] and info["final_goals_reached"] == 3
    assert (info["goal_index"], info["goals_reached"]) == (0, 0)
    np.testing.assert_array_equal(env.task, goals)


def test_last_step_final_goals_reached_and_step_after_end() -> None:
    env = make(n=1, num_sub_episodes=1, sub_episode_length=3).unwrapped
    env.reset(seed=0, options={"task": [(0.1, 0.1)]})
    env.set_joint_state(joints_for(env, 0.1, 0.1))
    for _ in range(3):
        _, _, terminated, truncated, info = env.step(ZERO)
        assert not terminated
    assert truncated and info["sub_episode_end"] and info["final_goals_reached"] == 1
    np.testing.assert_allclose(info["final_state"][:2], [0.1, 0.1], atol=1e-6)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(ZERO)


# ---------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"n": 0}, ValueError, "n"),
        ({"n": 1.5}, TypeError, "n"),
        ({"num_sub_episodes": 0}, ValueError, "num_sub_episodes"),
        ({"sub_episode_length": 0}, ValueError, "sub_episode_length"),
        ({"sub_episode_length": 2.0}, TypeError, "sub_episode_length"),
        ({"width": 0}, ValueError, "width"),
        ({"render_mode": "rgb"}, ValueError, "render_mode"),
        ({"goal_radius": 0.1}, TypeError, "goal_radius"),
    ],
)
def test_bad_arguments_raise_at_make(kwargs: dict, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        gym.make(ENV_ID, **kwargs)


def test_bad_actions_and_tasks_raise() -> None:
    env = make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.reset(options={"task": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="shape"):
        env.reset(options={"task": np.zeros(2)})
    with pytest.raises(ValueError, match="finite"):
        env.reset(options={"task": [[0.1, np.inf], [0.0, 0.0]]})
    with pytest.raises(ValueError, match="option"):
        env.reset(options={"goals": np.zeros((2, 2))})
    obs, info = env.reset(options={"task": [[0.3, 0.0], [0.0, 0.0]]})  # off-distribution is allowed
    assert info["task"][0, 0] == 0.3


# ---------------------------------------------------------------------- rendering
def test_rgb_array_frames_show_goals_and_trails() -> None:
    env = make(n=2, sub_episode_length=30, render_mode="rgb_array", width=128, height=96).unwrapped
    env.reset(seed=0, options={"task": [(0.1, 0.05), (-0.12, -0.1)]})
    first = env.render()
    assert first.shape == (96, 128, 3) and first.dtype == np.uint8
    for _ in range(35):
        env.step(np.array([1.0, 0.3], dtype=np.float32))
    frame = env.render()
    assert frame.shape == (96, 128, 3) and frame is not first
    scale = env._pixels_per_metre

    def pixel(x: float, y: float) -> np.ndarray:
        return frame[round(48 - scale * y), round(64 + scale * x)].astype(int)

    # Goal 0 is current (yellow), goal 1 comes later (orange): both drawn at their positions.
    current, later = pixel(0.1 + 0.03, 0.05 + 0.03), pixel(-0.12 - 0.03, -0.1 - 0.03)
    assert current[0] > 150 and current[1] > 120 and current[2] < 90
    assert later[0] > 130 and later[2] < 90 and later[1] < current[1]
    # Trails: red (sub-episode 1) and green (sub-episode 2) pixels.
    red = (frame[..., 0] > 180) & (frame[..., 1] < 80) & (frame[..., 2] < 80)
    green = (frame[..., 1] > 130) & (frame[..., 0] < 80) & (frame[..., 2] < 110)
    assert red.sum() > 5 and green.sum() > 2
    env.close()


def test_reached_goals_are_dimmed() -> None:
    env = make(n=2, sub_episode_length=30, render_mode="rgb_array").unwrapped
    goals = [(0.1, 0.05), (-0.12, -0.1)]
    env.reset(seed=0, options={"task": goals})
    before = env.render()
    env.set_joint_state(joints_for(env, *goals[0]))
    env.step(ZERO)
    after = env.render()
    y, x = round(128 - env._pixels_per_metre * 0.08), round(128 + env._pixels_per_metre * 0.13)
    assert before[y, x].astype(int).sum() > after[y, x].astype(int).sum() + 150
    env.close()


def test_human_mode_headless() -> None:
    """The human window receives the MuJoCo frame (the display surface holds it)."""
    from tests.meta_envs.test_rendering import assert_window_shows

    pygame = pytest.importorskip("pygame")
    env = make(render_mode="human")
    env.reset(seed=0)
    assert env.render() is None
    env.step(ZERO)
    assert env.render() is None
    assert_window_shows(pygame, env.unwrapped._render_rgb())
    env.close()
    rgb = make(render_mode="rgb_array")  # a renderer still works after the window closed
    rgb.reset(seed=0)
    assert rgb.render().shape == (256, 256, 3)


def test_mujoco_gl_is_chosen_before_mujoco_is_imported() -> None:
    code = (
        "import os; from meta_envs.envs.reacher import ReacherNEnv; "
        "env = ReacherNEnv(render_mode='rgb_array'); env.reset(seed=0); "
        "print(os.environ['MUJOCO_GL'], env.render().shape)"
    )
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY", "PYOPENGL_PLATFORM")
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ
    )
    assert result.returncode == 0, result.stderr
    backend, shape = result.stdout.split(maxsplit=1)
    assert backend in ("egl", "osmesa") and shape.strip() == "(256, 256, 3)"
    assert choose_mujoco_gl() is None  # mujoco is imported here already: nothing to choose


# ---------------------------------------------------------------------- vector form
def test_native_vector_env_equals_single_envs() -> None:
    kwargs = {"n": 2, "num_sub_episodes": 2, "sub_episode_length": 4}
    native = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
    assert native.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    singles = [gym.make(ENV_ID, **kwargs) for _ in range(3)]
    obs, infos = native.reset(seed=5)
    for i, env in enumerate(singles):
        single_obs, single_info = env.reset(seed=5 + i)
        np.testing.assert_array_equal(obs[i], single_obs)
        np.testing.assert_array_equal(infos["task"][i], single_info["task"])
    rng = np.random.default_rng(0)
    for _ in range(8):
        actions = rng.uniform(-1.2, 1.2, (3, 2)).astype(np.float32)
        obs, rewards, _, truncations, infos = native.step(actions)
        for i, env in enumerate(singles):
            single_obs, reward, _, truncated, info = env.step(actions[i])
            np.testing.assert_array_equal(obs[i], single_obs)
            assert rewards[i] == reward and truncations[i] == truncated
            assert infos["goal_index"][i] == info["goal_index"]
            assert infos["reward_terms"]["distance"][i] == info["reward_terms"]["distance"]
    assert truncations.all()
    obs, rewards, *_ = native.step(np.zeros((3, 2), dtype=np.float32))  # NEXT_STEP autoreset
    np.testing.assert_array_equal(rewards, 0.0)
    assert obs[0, -1] == 0.0
    with pytest.raises(ValueError, match="NaN"):
        native.step(np.full((3, 2), np.nan))


# ---------------------------------------------------------------------- policies
def test_reference_policies_work_and_are_ordered() -> None:
    env = gym.make(ENV_ID, sub_episode_length=150)
    returns = {}
    for kind in ("random", "explorer", "oracle"):
        policy = make_policy(kind, env, seed=0)
        total = 0.0
        for seed in range(2):
            obs, info = env.reset(seed=seed)
            policy.reset()
            done = False
            while not done:
                action = policy(obs, info)
                assert env.action_space.contains(action)
                obs, reward, _, done, info = env.step(action)
                total += reward
        returns[kind] = total / 2
    assert returns["random"] < 0 < returns["explorer"] <= returns["oracle"]
    assert returns["oracle"] > 0.7 * 3 * 150  # parks on the last goal for most of every sub-episode
    assert returns["explorer"] > 0.5 * returns["oracle"]


def test_explorer_never_reads_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    env = gym.make(ENV_ID, sub_episode_length=100)
    obs, info = env.reset(seed=0)
    goals = env.unwrapped.task.copy()
    policy = make_policy("explorer", env)

    def forbidden(self):  # noqa: ANN001
        raise AssertionError("the explorer read the task")

    monkeypatch.setattr(ReacherNEnv, "task", property(forbidden))
    reached = 0
    for _ in range(300):
        obs, _, _, _, info = env.step(policy(obs, {k: v for k, v in info.items() if k != "task"}))
        reached = max(reached, info.get("final_goals_reached", 0))
    assert reached == 2, goals


# ---------------------------------------------------------------------- packaging
def test_model_loads_from_an_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "meta_envs/envs/assets/reacher_n.xml" in archive.namelist()
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    code = (
        "import gymnasium as gym, meta_envs, meta_envs.envs.reacher as r; "
        "env = gym.make('meta_envs/ReacherN-v0'); env.reset(seed=0); "
        "env.step(env.action_space.sample()); "
        "print(r.__file__); print(r.model_xml()[:8])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert run.returncode == 0, run.stderr
    module_file, head = run.stdout.split()[:2]
    assert Path(module_file).is_relative_to(target)
    assert head.startswith("<!--") or head.startswith("<mujoco")
