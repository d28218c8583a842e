"""Batch time alignment, meta-episode replay, Dreamer-Vanilla windows, recurrent resets."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from mamba_agent.data.batch import Batch
from mamba_agent.data.collector import Collector
from mamba_agent.data.replay import MetaEpisodeReplay, recency_share
from mamba_agent.data.spaces import ActionCodec
from mamba_agent.data.wrappers import MetaFeatures, MetaFeaturesVector
from mamba_agent.world_model.rssm import RSSM


class CounterEnv(gym.Env):
    """obs = [t], reward on arriving at t = 10 t + action; 2 sub-episodes of 2 steps (not terminal)."""

    def __init__(self, length: int = 4) -> None:
        self.length = length
        self.observation_space = gym.spaces.Box(-100, 100, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action: Any):
        self.t += 1
        info = {"sub_episode_end": self.t % 2 == 0}
        return (
            np.array([float(self.t)], np.float32),
            10.0 * self.t + int(action),
            False,
            self.t >= self.length,
            info,
        )


def scripted(obs: np.ndarray, is_first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Action = obs mod 3 (so each row's previous action is checkable)."""
    a = obs[:, 0].astype(int) % 3
    return a, np.eye(3, dtype=np.float32)[a]


def test_collector_time_alignment_on_hand_built_meta_episode():
    env = gym.vector.SyncVectorEnv([lambda: CounterEnv(4)])
    col = Collector(env, act_dim=3)
    col.reset(seed=0)
    res = col.collect(scripted, min_episodes=2)
    assert len(res.episodes) == 2 and res.steps == 8  # autoreset steps are not counted
    for ep in res.episodes:
        assert np.array_equal(ep["obs"][:, 0], [0, 1, 2, 3, 4])
        # row t: a_{t-1} = (t - 1) mod 3 (zero at the first row); r_t = 10 t + a_{t-1}
        assert np.array_equal(ep["prev_action"][0], np.zeros(3))
        assert np.array_equal(ep["prev_action"][1:].argmax(-1), [0, 1, 2, 0])
        assert np.array_equal(ep["reward"], [0, 10, 21, 32, 40])
        assert np.array_equal(ep["is_first"], [True, False, False, False, False])
        assert not ep["is_terminal"].any()  # truncation and sub-episode ends are not terminal
    assert res.returns == [103.0, 103.0]
    assert res.sub_episode_returns[0] == [31.0, 72.0]


def test_replay_samples_whole_meta_episodes_from_start():
    replay = MetaEpisodeReplay(capacity=1000)
    for k in range(3):
        L = 10
        replay.add(
            {
                "obs": np.arange(L + 1, dtype=np.float32)[:, None] + 100 * k,
                "prev_action": np.zeros((L + 1, 1), np.float32),
                "reward": np.zeros(L + 1, np.float32),
                "is_first": np.arange(L + 1) == 0,
                "is_terminal": np.zeros(L + 1, bool),
            }
        )
    rng = np.random.default_rng(0)
    batch = replay.sample(4, rng)
    assert batch["obs"].shape == (4, 11, 1)
    assert np.all(batch["obs"][:, 0, 0] % 100 == 0)  # every sequence starts at t = 0
    assert batch["is_first"][:, 0].all() and not batch["is_first"][:, 1:].any()
    short = replay.sample(4, rng, horizon=5)  # horizon schedule: the first 5 rows
    assert short["obs"].shape == (4, 5, 1) and np.all(short["obs"][:, :, 0] % 100 == np.arange(5))
    b = Batch.from_numpy(batch)
    assert b.shape == (4, 11) and b.is_first.dtype == torch.bool
    # capacity in env steps: the oldest meta-episode goes first
    small = MetaEpisodeReplay(capacity=25)
    for ep in list(replay.episodes):
        small.add(ep)
    assert len(small) == 2 and small.num_steps == 20 and small.episodes[0]["obs"][0, 0] == 100


def _numbered_episode(k: int, L: int = 4) -> dict[str, np.ndarray]:
    return {
        "obs": np.full((L + 1, 1), k, np.float32),
        "prev_action": np.zeros((L + 1, 1), np.float32),
        "reward": np.zeros(L + 1, np.float32),
        "is_first": np.arange(L + 1) == 0,
        "is_terminal": np.zeros(L + 1, bool),
    }


def test_replay_recency_prefers_the_newest_meta_episodes():
    n, draws = 50, 400
    uniform = MetaEpisodeReplay(capacity=10_000)
    recent = MetaEpisodeReplay(capacity=10_000, recency=0.5)
    for k in range(n):
        uniform.add(_numbered_episode(k))
        recent.add(_numbered_episode(k))
    rng = np.random.default_rng(0)
    u = np.concatenate([uniform.sample(16, rng)["obs"][:, 0, 0] for _ in range(draws)])
    r = np.concatenate([recent.sample(16, rng)["obs"][:, 0, 0] for _ in range(draws)])
    newest = n - 1
    # uniform: the newest is drawn ~1/50 of the time; half the batch at 1/(age+1) adds
    # 0.5 / H(50) ~ 11 % of draws for the newest alone
    assert abs(np.mean(u == newest) - 1 / n) < 0.01
    assert 0.10 < np.mean(r == newest) < 0.15
    assert np.mean(r == 0) > 0  # the oldest can still be drawn
    # the uniform half of the batch comes first and covers the whole replay
    halves = np.stack([recent.sample(16, rng)["obs"][:, 0, 0] for _ in range(draws)])
    assert halves[:, :8].mean() < halves[:, 8:].mean()
    # Dreamer-Vanilla windows: the same share, of the meta-episodes the windows are cut from
    windows = MetaEpisodeReplay(capacity=10_000, dreamer_vanilla=True, window_length=2, recency=0.5)
    for k in range(n):
        windows.add(_numbered_episode(k))
    w = np.concatenate([windows.sample(16, rng)["obs"][:, 0, 0] for _ in range(draws)])
    assert 0.10 < np.mean(w == newest) < 0.15
    with pytest.raises(ValueError, match="recency"):
        MetaEpisodeReplay(capacity=10, recency=1.5)


def test_recency_share_applies_for_the_first_steps_only():
    assert recency_share(0, 0.5, 0) == recency_share(10**9, 0.5, 0) == 0.5  # the whole run
    assert recency_share(0, 0.5, 100) == recency_share(99, 0.5, 100) == 0.5
    assert recency_share(100, 0.5, 100) == recency_share(250, 0.5, 100) == 0.0


def test_sample_recency_argument_overrides_the_replays_share():
    n, draws = 50, 400
    recent = MetaEpisodeReplay(capacity=10_000, recency=0.5)
    for k in range(n):
        recent.add(_numbered_episode(k))
    rng = np.random.default_rng(0)

    def newest_share(recency):
        drawn = [recent.sample(16, rng, recency=recency)["obs"][:, 0, 0] for _ in range(draws)]
        return np.mean(np.concatenate(drawn) == n - 1)

    assert abs(newest_share(0.0) - 1 / n) < 0.01  # uniform, as a replay built with 0
    assert 0.10 < newest_share(None) < 0.15  # the replay's own 0.5
    assert 0.20 < newest_share(1.0) < 0.27  # the whole batch: 1 / H(50) ~ 22 %
    with pytest.raises(ValueError, match="recency"):
        recent.sample(16, rng, recency=-0.1)


def test_dreamer_vanilla_windows_start_anywhere_and_reinitialise():
    replay = MetaEpisodeReplay(capacity=10_000, dreamer_vanilla=True, window_length=8)
    L = 40
    replay.add(
        {
            "obs": np.arange(L + 1, dtype=np.float32)[:, None],
            "prev_action": np.zeros((L + 1, 1), np.float32),
            "reward": np.zeros(L + 1, np.float32),
            "is_first": np.arange(L + 1) == 0,
            "is_terminal": np.zeros(L + 1, bool),
        }
    )
    batch = replay.sample(64, np.random.default_rng(0))
    starts = batch["obs"][:, 0, 0]
    assert batch["obs"].shape == (64, 8, 1)
    assert len(np.unique(starts)) > 10 and starts.max() <= L + 1 - 8
    assert np.all(np.diff(batch["obs"][:, :, 0], axis=1) == 1)  # contiguous windows
    assert batch["is_first"][:, 0].all() and not batch["is_first"][:, 1:].any()


def _rssm() -> RSSM:
    torch.manual_seed(0)
    return RSSM(deter=16, stoch=3, classes=4, hidden=8, embed=5, act_dim=2)


def test_recurrent_state_resets_only_at_meta_episode_starts():
    rssm = _rssm()
    B, T = 2, 8
    embed = torch.randn(B, T, 5)
    act = torch.randn(B, T, 2)
    first = torch.zeros(B, T, dtype=torch.bool)
    first[:, 0] = True
    first[1, 4] = True  # sequence 1: a new meta-episode starts at row 4

    def run(a: torch.Tensor) -> torch.Tensor:
        return rssm.observe(embed, a, first, torch.Generator().manual_seed(0))[0].deter

    base = run(act)
    changed = act.clone()
    changed[:, 2] += 1.0  # perturb a_1 (row 2), e.g. an action of an earlier sub-episode
    diff = (run(changed) - base).abs().sum(-1)
    assert torch.all(diff[:, :2] == 0)
    assert diff[0, 2:].min() > 0  # sequence 0 remembers it to the end: no sub-episode reset
    assert diff[1, 2:4].min() > 0 and torch.all(diff[1, 4:] == 0)  # sequence 1 forgets at reset
    # a reset row starts from the learned initial state, as the first row does
    init = rssm.initial(1)
    fresh = rssm.observe(
        embed[1:, 4:], act[1:, 4:], first[1:, 4:], torch.Generator().manual_seed(0)
    )[0].deter
    assert torch.allclose(fresh[0, 0], rssm._gru_step(init, torch.zeros(1, 8))[0], atol=1e-6)


def test_observation_augmentation_wrappers():
    env = MetaFeatures(CounterEnv(4), time_scale=4)
    obs, _ = env.reset()
    assert np.array_equal(obs, [0, 0, 0])
    obs, *_ = env.step(1)
    assert np.allclose(obs, [1, 11, 0.25])
    venv = MetaFeaturesVector(gym.vector.SyncVectorEnv([lambda: CounterEnv(2)]), time_scale=2)
    obs, _ = venv.reset(seed=0)
    rows = [obs[0]]
    for _ in range(3):  # 2 steps, then the autoreset step
        obs, *_ = venv.step(np.array([0]))
        rows.append(obs[0])
    assert np.allclose(rows, [[0, 0, 0], [1, 10, 0.5], [2, 20, 1.0], [0, 0, 0]])


def test_action_codec():
    box = ActionCodec(
        gym.spaces.Box(np.array([0.0, -2.0], np.float32), np.array([1.0, 2.0], np.float32))
    )
    assert np.allclose(box.to_env(np.array([[-1.0, 0.5]])), [[0.0, 1.0]])
    disc = ActionCodec(gym.spaces.Discrete(3, start=1))
    assert disc.to_env(np.array([[0.0, 0.0, 1.0]]))[0] == 3
    env_a, vec = disc.random(5, np.random.default_rng(0))
    assert vec.shape == (5, 3) and np.all(vec.sum(-1) == 1) and np.all(env_a >= 1)
