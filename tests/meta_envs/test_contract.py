"""The meta-episode contract, checked on every registered id."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from tests.meta_envs.conftest import ENV_IDS, SMALL, make


def rollout(env: gym.Env, seed: int, action_seed: int, options=None):
    """A whole meta-episode of seeded random actions; returns every step's outputs."""
    space = copy.deepcopy(env.action_space)
    space.seed(action_seed)
    obs, info = env.reset(seed=seed, options=options)
    steps = [(obs, 0.0, False, False, info)]
    truncated = False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(space.sample())
        steps.append((obs, reward, terminated, truncated, info))
    return steps


def assert_steps_equal(a, b) -> None:
    assert len(a) == len(b)
    for (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) in zip(a, b):
        np.testing.assert_array_equal(o1, o2)
        assert (r1, te1, tr1) == (r2, te2, tr2)
        assert i1.keys() == i2.keys()
        for key in i1:
            np.testing.assert_array_equal(np.asarray(i1[key]), np.asarray(i2[key]), err_msg=key)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_env_checker(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_both_make_forms_give_the_env(env_id: str) -> None:
    assert type(gym.make(env_id).unwrapped) is type(gym.make(f"meta_envs:{env_id}").unwrapped)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_meta_episode(env_id: str) -> None:
    assert_steps_equal(rollout(make(env_id), 3, 7), rollout(make(env_id), 3, 7))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seed_fixes_the_task_sequence(env_id: str) -> None:
    def tasks(seed: int) -> list:
        env = make(env_id)
        env.reset(seed=seed)
        out = [np.array(env.unwrapped.task)]
        for _ in range(3):
            env.reset()
            out.append(np.array(env.unwrapped.task))
        return out

    first, again, other = tasks(11), tasks(11), tasks(12)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))
    assert any(not np.array_equal(first[0], t) for t in first[1:])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_task_option_round_trip(env_id: str) -> None:
    env = make(env_id)
    env.reset(seed=1)
    task = env.unwrapped.task
    other = make(env_id)
    _, info = other.reset(seed=2, options={"task": task})
    np.testing.assert_array_equal(np.asarray(other.unwrapped.task), np.asarray(task))
    np.testing.assert_array_equal(np.asarray(info["task"]), np.asarray(task))
    # Same task and same seed: the same meta-episode as the sampled one.
    assert_steps_equal(
        rollout(make(env_id), 1, 0), rollout(make(env_id), 1, 0, options={"task": task})
    )


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sample_task_uses_the_generator_passed_in(env_id: str) -> None:
    """The task is a function of the generator passed in: the same seed gives the same task,
    other seeds other tasks (not a constant), and the env's own generator is left alone."""
    env = make(env_id).unwrapped
    env.reset(seed=1)
    own_state = env.np_random.bit_generator.state
    a = env.sample_task(np.random.default_rng(5))
    b = env.sample_task(np.random.default_rng(5))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    tasks = {np.asarray(env.sample_task(np.random.default_rng(s))).tobytes() for s in range(20)}
    assert len(tasks) >= 10, "sample_task ignores the generator passed in"
    rng = np.random.default_rng(5)
    env.sample_task(rng)
    assert rng.bit_generator.state != np.random.default_rng(5).bit_generator.state
    assert env.np_random.bit_generator.state == own_state
    env.reset(options={"task": a})  # a sampled task is a valid task


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_boundary_semantics_and_truncation(env_id: str) -> None:
    n_sub, length = SMALL["num_sub_episodes"], SMALL["sub_episode_length"]
    env = make(env_id)
    unwrapped = env.unwrapped
    d = unwrapped.physical_space.shape[0]
    steps = rollout(env, 0, 0)
    assert len(steps) == n_sub * length + 1
    obs0, _, _, _, info0 = steps[0]
    assert info0["sub_episode"] == 0 and info0["step_in_sub_episode"] == 0
    assert info0["sub_episode_end"] is False and "final_state" not in info0
    assert obs0[-2] == 0.0 and obs0[-1] == 0.0
    for t, (obs, reward, terminated, truncated, info) in enumerate(steps[1:], start=1):
        assert set(info) >= {"task", "sub_episode", "step_in_sub_episode", "sub_episode_end"}
        assert terminated is False
        assert truncated is (t == n_sub * length)
        assert obs[-2] == np.float32(reward)
        assert obs[-1] == np.float32(t / (n_sub * length))
        assert obs in env.observation_space
        boundary = t % length == 0
        assert info["sub_episode_end"] is boundary
        assert ("final_state" in info) is boundary
        if t < n_sub * length:
            assert info["sub_episode"] == t // length
            assert info["step_in_sub_episode"] == t % length
        else:
            assert info["sub_episode"] == n_sub - 1 and info["step_in_sub_episode"] == length
        if boundary:
            final_state = info["final_state"]
            assert final_state.shape == (d,) and final_state.dtype == np.float32
            if truncated:
                np.testing.assert_array_equal(obs[:d], final_state)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_boundary_step_returns_the_next_start(env_id: str) -> None:
    """The boundary observation is the state the next sub-episode starts from, and final_state is
    the state a longer sub-episode would have shown after the same actions."""
    short = make(env_id, num_sub_episodes=2, sub_episode_length=3).unwrapped
    longer = make(env_id, num_sub_episodes=1, sub_episode_length=4).unwrapped
    short.reset(seed=0)
    longer.reset(seed=0)
    space = copy.deepcopy(short.action_space)
    space.seed(0)
    for _ in range(3):
        action = space.sample()
        obs, *_, info = short.step(action)
        longer_obs, *_ = longer.step(action)
    d = short.physical_space.shape[0]
    np.testing.assert_array_equal(obs[:d], short._physical_state().astype(np.float32))
    np.testing.assert_array_equal(info["final_state"], longer_obs[:d])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bare_physical_state_without_meta_features(env_id: str) -> None:
    env = make(env_id, meta_features=False)
    with_features = make(env_id)
    d = env.unwrapped.physical_space.shape[0]
    assert env.observation_space.shape == (d,)
    assert with_features.observation_space.shape == (d + 2,)
    a, b = rollout(env, 4, 4), rollout(with_features, 4, 4)
    for (o1, r1, *_), (o2, r2, *_) in zip(a, b):
        np.testing.assert_array_equal(o1, o2[:d])
        assert r1 == r2


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"num_sub_episodes": 0}, ValueError),
        ({"num_sub_episodes": 2.0}, TypeError),
        ({"num_sub_episodes": True}, TypeError),
        ({"sub_episode_length": -1}, ValueError),
        ({"sub_episode_length": "10"}, TypeError),
        ({"render_mode": "ansi"}, ValueError),
        ({"meta_features": "yes"}, TypeError),
        ({"no_such_argument": 1}, TypeError),
    ],
)
@pytest.mark.filterwarnings("ignore:.*render_mode='ansi'")
def test_bad_arguments_raise_at_make(env_id: str, kwargs: dict, error: type[Exception]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_reset_options_raise(env_id: str) -> None:
    env = make(env_id)
    with pytest.raises(ValueError, match="option"):
        env.reset(options={"goal": 1})
    env.reset(seed=0)
    task = np.asarray(env.unwrapped.task, dtype=float)
    with pytest.raises(ValueError):
        env.reset(options={"task": np.append(task, 0.0)})  # wrong shape
    with pytest.raises(ValueError):
        env.reset(options={"task": np.full_like(task, np.nan)})  # not finite
    with pytest.raises(ValueError):
        env.reset(options={"task": "north"})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_actions_raise(env_id: str) -> None:
    env = make(env_id)
    env.reset(seed=0)
    space = env.action_space
    if isinstance(space, gym.spaces.Box):
        bad = [
            np.full(space.shape, np.nan),
            np.zeros(space.shape[0] + 1),
            np.zeros((1, *space.shape)),
        ]
    else:
        bad = [space.n, -1, 1.5, np.array([0, 1])]
    for action in bad:
        with pytest.raises(ValueError):
            env.unwrapped.step(action)


@pytest.mark.parametrize("env_id", [i for i in ENV_IDS if i != "meta_envs/RoomsN-v0"])
def test_continuous_actions_are_clipped(env_id: str) -> None:
    env = make(env_id, num_sub_episodes=1, sub_episode_length=3)
    a, b = make(env_id, num_sub_episodes=1, sub_episode_length=3), env
    a.reset(seed=0)
    b.reset(seed=0)
    high = a.action_space.high
    for _ in range(3):
        o1, r1, *_ = a.step(high)
        o2, r2, *_ = b.step(high * 7.0)
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_task_is_not_writable_through_info(env_id: str) -> None:
    """Neither writing into ``info["task"]`` (array tasks) nor replacing it (every task, the
    float door angle of Escape Room included) changes the env's task or the next infos."""
    env = make(env_id)
    _, info = env.reset(seed=0)
    before = np.array(env.unwrapped.task)
    if isinstance(info["task"], np.ndarray):
        info["task"][...] = 0
    np.testing.assert_array_equal(np.asarray(env.unwrapped.task), before)
    info["task"] = np.zeros_like(before) + 0.5
    np.testing.assert_array_equal(np.asarray(env.unwrapped.task), before)
    _, _, _, _, info = env.step(env.action_space.sample())
    np.testing.assert_array_equal(np.asarray(info["task"]), before)
    if isinstance(info["task"], np.ndarray):
        info["task"][...] = 0
    else:
        info["task"] = before + 0.5
    np.testing.assert_array_equal(np.asarray(env.unwrapped.task), before)
