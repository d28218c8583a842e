"""The SB3-style facade: construction, errors, seeding, predict, save / load, SB3 integration."""

from __future__ import annotations

import dataclasses
import glob
import os

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.registration import EnvSpec
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    CheckpointCallback,
    EvalCallback,
)
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from tiny_envs import BanditMetaEnv, DriftMetaEnv

from mamba_agent import MAMBA
from mamba_agent.config import ENV_PRESETS, make_config, preset_for_env
from mamba_agent.data.wrappers import MetaFeatures
from mamba_agent.persistence import atomic_torch_save


def losses(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.startswith("time/")}


def tiny(env: gym.Env | None = None, **kw) -> MAMBA:
    return MAMBA(env if env is not None else BanditMetaEnv(), preset="tiny", seed=0, **kw)


def test_config_overrides_and_presets():
    cfg = make_config("tiny", deter=8, dreamer_vanilla=True, imag_horizon=2)
    assert (cfg.world_model.deter, cfg.replay.dreamer_vanilla, cfg.behavior.imag_horizon) == (
        8,
        True,
        2,
    )
    with pytest.raises(TypeError, match="no_such_field"):
        make_config("tiny", no_such_field=1)
    with pytest.raises(TypeError):
        tiny(no_such_field=1)
    with pytest.raises(ValueError, match="preset"):
        make_config("nope")
    with pytest.raises(ValueError, match="replay_recency"):
        make_config("tiny", replay_recency=1.5)
    with pytest.raises(ValueError, match="replay_recency_steps"):
        make_config("tiny", replay_recency=0.5, replay_recency_steps=-1)
    assert preset_for_env("meta_envs/PointRobot-v0") == "point_robot"
    assert preset_for_env("meta_envs/RoomsN-v0", cpu=True) == "rooms_cpu"
    assert preset_for_env("CartPole-v1") == "default"
    pr = make_config("point_robot")
    assert pr.behavior.imag_horizon == 2 and pr.world_model.enc_layers == 4
    assert make_config("reacher").world_model.wm_lr == 2e-4
    for name in (
        "point_robot",
        "point_robot_wind",
        "escape_room",
        "rooms",
        "reacher",
        "cpu",
        "reacher_cpu",
        "tiny",
    ):
        make_config(name)
    # the departures from the paper stay out of the paper-scale presets
    for name in ("default", "point_robot", "point_robot_wind", "escape_room", "rooms", "reacher"):
        cfg = make_config(name)
        assert cfg.behavior.ac_eps == 1e-5 and cfg.replay.replay_recency == 0.0
        assert not cfg.world_model.reward_from_deter and cfg.world_model.gru_chrono == 0
    env_cpu = [f"{paper}_cpu" for paper in ENV_PRESETS.values()]
    for name in env_cpu:  # the CPU recipe: horizon 2 and the measured memory settings
        cfg = make_config(name)
        assert cfg.behavior.imag_horizon == 2
        assert cfg.world_model.reward_from_deter and cfg.world_model.gru_chrono == 300
        assert cfg.behavior.ac_eps == 1e-8 and cfg.replay.replay_recency == 0.5


@pytest.mark.parametrize("env_id", sorted(ENV_PRESETS))
def test_auto_preset_on_cpu_is_a_cpu_variant_for_every_known_env(env_id):
    """preset="auto" on the CPU gives every env of ENV_PRESETS its ``<env>_cpu`` preset: the
    ``cpu`` sizes, the CPU recipe (imagination horizon 2 and the memory settings), and a horizon
    schedule exactly where the paper-scale preset has one (scaled down for CPU budgets)."""
    paper = ENV_PRESETS[env_id]
    assert preset_for_env(env_id) == paper
    name = preset_for_env(env_id, cpu=True)
    assert name == f"{paper}_cpu"
    cpu, paper_cfg, cfg = make_config("cpu"), make_config(paper), make_config(name)
    # the cpu networks and learning rates (the memory settings aside)
    memory = {"reward_from_deter": False, "gru_chrono": 0}
    assert dataclasses.replace(cfg.world_model, **memory) == cpu.world_model
    assert cfg.train == cpu.train and cfg.replay.batch_size == cpu.replay.batch_size
    assert cfg.world_model.reward_from_deter and cfg.behavior.imag_horizon == 2
    assert cfg.behavior.imag_starts == cpu.behavior.imag_starts
    has_schedule = paper_cfg.replay.horizon_steps > 0
    assert (cfg.replay.horizon_steps > 0) == has_schedule
    if has_schedule:
        assert cfg.replay.horizon_steps < paper_cfg.replay.horizon_steps

    class Registered(BanditMetaEnv):  # the agent reads the id from the spec alone
        spec = EnvSpec(env_id, entry_point="tiny_envs:BanditMetaEnv")

    model = MAMBA(Registered(), device="cpu", seed=0)
    assert model.preset == name and model.config == cfg


class ImageEnv(BanditMetaEnv):
    def __init__(self) -> None:
        super().__init__()
        self.observation_space = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)


class MultiActionEnv(BanditMetaEnv):
    def __init__(self) -> None:
        super().__init__()
        self.action_space = gym.spaces.MultiDiscrete([2, 2])


def test_wrong_spaces_give_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="observation"):
        tiny(ImageEnv(), augment_obs=False)
    with pytest.raises(TypeError, match="action"):
        tiny(MultiActionEnv())
    model = tiny()
    with pytest.raises(ValueError, match="observation"):
        model.predict(np.zeros(5, np.float32))
    model.save(tmp_path / "m")
    with pytest.raises(ValueError, match="action space"):
        MAMBA.load(tmp_path / "m", env=BanditMetaEnv(continuous=True))


def test_augmentation_auto_detection():
    assert tiny().observation_space.shape == (3,)  # [obs, previous reward, t / T]
    assert tiny(augment_obs=False).observation_space.shape == (1,)

    class Declared(BanditMetaEnv):
        meta_features = True

    assert tiny(Declared()).observation_space.shape == (1,)


def test_same_seed_same_first_losses():
    a, b, c = tiny(), tiny(), MAMBA(BanditMetaEnv(), preset="tiny", seed=1)
    for m in (a, b, c):
        m.learn(40)
    assert a._n_updates > 0 and losses(a.last_metrics) == losses(b.last_metrics)
    assert losses(a.last_metrics) != losses(c.last_metrics)
    for pa, pb in zip(a.world_model.parameters(), b.world_model.parameters()):
        assert torch.equal(pa, pb)


def test_predict_single_and_batched_threads_state():
    model = tiny(DriftMetaEnv())
    action, state = model.predict(np.zeros(3, np.float32), deterministic=True)
    assert action.shape == (1,) and state[0].shape == (1, 32)
    obs = np.zeros((4, 3), np.float32)
    actions, state = model.predict(obs, deterministic=True)
    assert actions.shape == (4, 1) and np.all(np.abs(actions) <= 1)
    again, state2 = model.predict(obs, state, np.zeros(4, bool), deterministic=True)
    assert not np.allclose(state2[0], state[0])  # the recurrent state moves on
    fresh, _ = model.predict(obs, state, np.ones(4, bool), deterministic=True)
    assert np.allclose(fresh, actions, atol=1e-6)  # episode_start resets it
    disc, _ = tiny().predict(np.zeros((2, 3), np.float32))
    assert disc.dtype.kind == "i" and disc.shape == (2,)


def test_save_load_identical_predict_and_training(tmp_path):
    model = tiny(DriftMetaEnv())
    model.learn(60)
    model.save(tmp_path / "model")
    model.save_replay_buffer(tmp_path / "replay.pkl")
    loaded = MAMBA.load(tmp_path / "model.zip", env=DriftMetaEnv(), device="cpu")
    loaded.load_replay_buffer(tmp_path / "replay.pkl")
    assert loaded.num_timesteps == model.num_timesteps and len(loaded.replay) == len(model.replay)
    obs = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    for det in (True, False):
        a1, s1 = model.predict(obs, deterministic=det)
        a2, s2 = loaded.predict(obs, deterministic=det)
        assert np.array_equal(a1, a2) and all(np.array_equal(x, y) for x, y in zip(s1, s2))
    m1, m2 = model.train(2), loaded.train(2)
    assert losses(m1) == losses(m2)
    for p1, p2 in zip(model.actor_critic.parameters(), loaded.actor_critic.parameters()):
        assert torch.equal(p1, p2)
    loaded.learn(30, reset_num_timesteps=False)  # and training goes on with the env
    assert loaded.num_timesteps >= model.num_timesteps + 30


def test_a_model_saved_on_cuda_loads_on_cpu(tmp_path, monkeypatch):
    """Without a GPU, fake a CUDA checkpoint: every tensor tagged "cuda:0" and the generators
    holding CUDA-sized (Philox) states, as a model saved with device="cuda" has."""
    model = tiny(DriftMetaEnv())
    model.learn(40)
    data = model._state()
    data["generator"] = data["act_generator"] = torch.zeros(16, dtype=torch.uint8)
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    atomic_torch_save(data, tmp_path / "cuda_model.zip")
    monkeypatch.undo()
    if not torch.cuda.is_available():  # the file really asks for CUDA
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "cuda_model.zip", weights_only=False)
    loaded = MAMBA.load(tmp_path / "cuda_model.zip", device="cpu")
    assert loaded.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.world_model.parameters())
    obs = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    a1, s1 = model.predict(obs, deterministic=True)
    a2, s2 = loaded.predict(obs, deterministic=True)
    assert np.array_equal(a1, a2) and all(np.array_equal(x, y) for x, y in zip(s1, s2))
    loaded.set_env(DriftMetaEnv())
    loaded.learn(20, reset_num_timesteps=False)  # optimiser states moved too: training goes on


@pytest.mark.parametrize("env_cls", [BanditMetaEnv, DriftMetaEnv], ids=["discrete", "continuous"])
@pytest.mark.parametrize("kernels", ["c++", "python"])
def test_bfloat16_learn_save_load_on_cpu(tmp_path, monkeypatch, kernels, env_cls):
    """precision="bfloat16" on the CPU (autocast works there), with the C++ kernels and with
    MAMBA_AGENT_KERNELS=python: updates run (imagination's GRU steps included), weights and
    optimiser states stay float32 and finite, the losses differ from float32's (autocast is on),
    and a saved model acts and trains on exactly as the original."""
    from mamba_agent.nn.kernels import KERNELS_ENV_VAR, native_kernels_available

    if kernels == "python":
        monkeypatch.setenv(KERNELS_ENV_VAR, "python")
    else:
        monkeypatch.delenv(KERNELS_ENV_VAR, raising=False)
        if not native_kernels_available("cpu", torch.float32):
            pytest.skip("the C++ kernels could not be built here")
    model = tiny(env_cls(), device="cpu", precision="bfloat16")
    model.learn(40)
    assert model._n_updates > 0
    assert all(np.isfinite(v) for v in losses(model.last_metrics).values())
    params = [*model.world_model.parameters(), *model.actor_critic.parameters()]
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in params)
    opt_states = model.world_model.optimizer.state.values()
    assert opt_states and all(st["exp_avg"].dtype == torch.float32 for st in opt_states)
    fp32 = tiny(env_cls(), device="cpu")
    fp32.learn(40)
    assert fp32._n_updates == model._n_updates
    assert losses(fp32.last_metrics) != losses(model.last_metrics)

    model.save(tmp_path / "bf16")
    model.save_replay_buffer(tmp_path / "replay.pkl")
    loaded = MAMBA.load(tmp_path / "bf16", env=env_cls(), device="cpu")
    loaded.load_replay_buffer(tmp_path / "replay.pkl")
    assert loaded.config.train.precision == "bfloat16"
    obs = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    a1, s1 = model.predict(obs, deterministic=True)
    a2, s2 = loaded.predict(obs, deterministic=True)
    assert np.array_equal(a1, a2) and all(np.array_equal(x, y) for x, y in zip(s1, s2))
    assert losses(model.train(2)) == losses(loaded.train(2))
    loaded.learn(20, reset_num_timesteps=False)
    assert loaded.num_timesteps >= model.num_timesteps + 20


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_runs_on_cuda_and_the_model_loads_on_cpu(tmp_path):
    """On a GPU machine: every tensor of training on CUDA, losses finite, and the saved model acts
    the same on the CPU."""
    model = tiny(DriftMetaEnv(), device="cuda")
    assert model.device.type == "cuda"
    model.learn(60)
    assert model.num_timesteps >= 60
    assert all(p.device.type == "cuda" for p in model.world_model.parameters())
    assert all(p.device.type == "cuda" for p in model.actor_critic.parameters())
    assert all(np.isfinite(p.detach().cpu().numpy()).all() for p in model.world_model.parameters())
    model.save(tmp_path / "cuda_model")
    loaded = MAMBA.load(tmp_path / "cuda_model", device="cpu")
    obs = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    a1, _ = model.predict(obs, deterministic=True)
    a2, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_allclose(a1, a2, atol=1e-4)


def test_evaluate_policy_and_sb3_callbacks(tmp_path):
    model = tiny(verbose=0)
    model.set_logger(configure(str(tmp_path / "logs"), ["csv", "tensorboard"]))

    class Counter(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def _on_step(self) -> bool:
            self.calls += 1
            return True

    class Stop(BaseCallback):
        def _on_step(self) -> bool:
            return self.num_timesteps < 60

    counter = Counter()
    eval_env = MetaFeatures(BanditMetaEnv(), 8)
    callbacks = CallbackList(
        [
            counter,
            CheckpointCallback(
                save_freq=20, save_path=str(tmp_path / "ckpt"), save_replay_buffer=True
            ),
            EvalCallback(
                eval_env,
                eval_freq=25,
                n_eval_episodes=2,
                verbose=0,
                best_model_save_path=str(tmp_path / "best"),
            ),
        ]
    )
    model.learn(80, callback=callbacks, progress_bar=True)
    assert counter.calls > 0 and model.num_timesteps >= 80
    assert glob.glob(str(tmp_path / "ckpt" / "rl_model_*_steps.zip"))
    assert glob.glob(str(tmp_path / "ckpt" / "rl_model_replay_buffer_*_steps.pkl"))
    assert os.path.exists(tmp_path / "best" / "best_model.zip")
    header = open(tmp_path / "logs" / "progress.csv").readline()
    for key in ("rollout/return", "time/fps", "world_model/kl", "behavior/actor_loss"):
        assert key in header
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=3, deterministic=True)
    assert np.isfinite(mean) and np.isfinite(std)  # the returns themselves: the next test
    stopper = tiny()
    stopper.learn(1000, callback=Stop())
    assert stopper.num_timesteps < 100


class AlternatingBandit(BanditMetaEnv):
    """The bandit with the good arm 0, 1, 0, 1, ... at successive resets (known returns)."""

    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    def reset(self, *, seed=None, options=None):
        task = self.resets % 2
        self.resets += 1
        return super().reset(seed=seed, options={"task": task})


def _documented_rollouts(model: MAMBA, episodes: int) -> list[float]:
    """Returns of the docs' predict loop (state threaded, fresh at each meta-episode)."""
    env, returns = MetaFeatures(AlternatingBandit(), 8), []
    for _ in range(episodes):
        obs, _ = env.reset()
        state, start, done, total = None, True, False, 0.0
        while not done:
            action, state = model.predict(obs, state, episode_start=[start], deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            start, done, total = False, terminated or truncated, total + reward
        returns.append(total)
    return returns


def test_evaluate_policy_gives_the_models_returns():
    """evaluate_policy (SB3: a DummyVecEnv, state and episode_start threaded by SB3) returns what
    the model earns: the returns of the documented predict loop on the same tasks, and exactly
    8 or 0 per 8-pull meta-episode for a policy that always pulls one arm."""
    model = tiny()
    model.learn(40)

    def evaluate() -> list[float]:
        env = Monitor(MetaFeatures(AlternatingBandit(), 8))
        returns, lengths = evaluate_policy(
            model, env, n_eval_episodes=4, deterministic=True, return_episode_rewards=True
        )
        assert lengths == [8] * 4
        return [float(r) for r in returns]

    assert evaluate() == _documented_rollouts(model, 4)
    out = model.actor_critic.actor.net[-1]  # the policy's output layer: make it one fixed arm
    with torch.no_grad():
        out.weight.zero_()
        for arm, expected in ((1, [0.0, 8.0, 0.0, 8.0]), (0, [8.0, 0.0, 8.0, 0.0])):
            out.bias.copy_(torch.tensor([10.0, -10.0] if arm == 0 else [-10.0, 10.0]))
            assert evaluate() == expected == _documented_rollouts(model, 4)


def test_dreamer_vanilla_and_vector_env_input():
    venv = gym.vector.SyncVectorEnv([BanditMetaEnv, BanditMetaEnv])
    model = MAMBA(venv, preset="tiny", seed=0, dreamer_vanilla=True, window_length=4)
    model.learn(60)
    assert model._n_updates > 0 and model.last_metrics["world_model/horizon"] == 4.0


@pytest.mark.parametrize("vanilla", [False, True])
def test_replay_value_loss_trains_in_learn(vanilla):
    kw = {"dreamer_vanilla": True, "window_length": 4} if vanilla else {}
    model = tiny(replay_value=0.3, **kw)
    model.learn(60)
    loss = model.last_metrics["behavior/replay_critic_loss"]
    assert model._n_updates > 0 and np.isfinite(loss) and loss > 0
    assert "behavior/replay_critic_loss" not in tiny().learn(60).last_metrics


def test_replay_recency_steps_end_the_recency_share_in_learn():
    """With replay_recency_steps, train() passes the replay the recency share for the first
    replay_recency_steps env steps and 0 (uniform) from then on."""
    model = tiny(replay_recency=0.5, replay_recency_steps=40)
    sample, seen = model.replay.sample, []

    def recording_sample(*args, **kwargs):
        seen.append((model.num_timesteps, args[3] if len(args) > 3 else kwargs.get("recency")))
        return sample(*args, **kwargs)

    model.replay.sample = recording_sample
    model.learn(80)
    assert seen and all(r == (0.5 if t < 40 else 0.0) for t, r in seen)
    assert {r for _, r in seen} == {0.0, 0.5}
    constant = tiny(replay_recency=0.5)
    sample_c, seen_c = constant.replay.sample, []
    constant.replay.sample = lambda *a, **k: seen_c.append(a[3]) or sample_c(*a, **k)
    constant.learn(80)
    assert seen_c and set(seen_c) == {0.5}


@pytest.mark.parametrize("retain", [True, False])
def test_learn_on_cpu_retains_freed_memory_unless_disabled(monkeypatch, retain):
    """learn on the CPU applies the glibc settings of mamba_agent.cpu_memory (config field
    cpu_retain_memory, on by default); with the field False it leaves the C library alone."""
    import mamba_agent.algorithm as algorithm
    from mamba_agent.cpu_memory import retain_freed_memory

    calls = []
    monkeypatch.setattr(algorithm, "retain_freed_memory", lambda: calls.append(1) or True)
    tiny(device="cpu", cpu_retain_memory=retain).learn(10)
    assert calls == ([1] if retain else [])
    if os.uname().sysname == "Linux" and "glibc" in os.confstr("CS_GNU_LIBC_VERSION"):
        assert retain_freed_memory() and retain_freed_memory()  # applied, idempotent
