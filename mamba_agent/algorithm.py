"""The SB3-style facade: ``MAMBA(env).learn(...)``, ``predict``, ``save`` / ``load``.

Orchestration only: the model parts live in ``world_model`` and ``behavior``, collection and replay
in ``data``. Acting (:meth:`MAMBA.predict`) threads the recurrent state explicitly and never trains.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ConvertCallback
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.utils import get_latest_run_id

from mamba_agent.behavior.acting import State, act, initial_state
from mamba_agent.behavior.actor_critic import ActorCritic
from mamba_agent.config import (
    MAMBAConfig,
    config_from_dict,
    config_to_dict,
    make_config,
    preset_for_env,
)
from mamba_agent.cpu_memory import retain_freed_memory
from mamba_agent.data.batch import Batch
from mamba_agent.data.collector import Collector, CollectResult
from mamba_agent.data.replay import MetaEpisodeReplay, recency_share, wm_horizon
from mamba_agent.data.spaces import (
    ActionCodec,
    check_observation_space,
    env_id_of,
    make_vector_env,
    needs_augmentation,
)
from mamba_agent.persistence import (
    MODEL_FORMAT,
    atomic_torch_save,
    episodes_from_tensors,
    episodes_to_tensors,
    load_episodes_npz,
    safe_torch_load,
    save_episodes_npz,
    space_from_data,
    space_to_data,
)
from mamba_agent.progress import ProgressBar
from mamba_agent.world_model.model import WorldModel

__all__ = ["MAMBA"]


_NOT_ENV_KWARGS = ("num_envs", "vectorization_mode", "vector_kwargs", "render_mode")
"""Spec kwargs that say how an env was made, not which env it is (not stored with the model)."""


def _device(device: str | torch.device) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class MAMBA:
    """MAMBA meta-RL learner (DreamerV3 world model on whole meta-episodes).

    Args:
        env: a registered env id, a ``gymnasium.Env`` or a ``gymnasium.vector.VectorEnv`` whose
            episodes are meta-episodes (None only via :meth:`load`).
        preset: a name from :data:`mamba_agent.config.PRESETS`, or "auto": the env id's preset
            (the paper-scale one on CUDA, its ``_cpu`` variant on CPU).
        device: "auto", "cpu", "cuda", ...
        seed: seeds torch, the numpy generators and the env resets.
        verbose: 0 silent, 1 logs to stdout.
        tensorboard_log: folder for TensorBoard logs (CSV is written there too).
        env_kwargs: keyword arguments for ``gym.make`` / ``gym.make_vec`` when ``env`` is an id
            (e.g. ``{"n": 3}`` for Rooms-N).
        **overrides: any config field by name (``deter=128``, ``dreamer_vanilla=True``...).
    """

    def __init__(
        self,
        env: str | gym.Env | VectorEnv | None,
        preset: str = "auto",
        device: str | torch.device = "auto",
        seed: int | None = None,
        verbose: int = 0,
        tensorboard_log: str | None = None,
        env_kwargs: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        self.device = _device(device)
        if preset == "auto":
            preset = preset_for_env(env_id_of(env), cpu=self.device.type == "cpu")
        self.preset = preset
        self.config = make_config(preset, **overrides)
        self.seed = int(np.random.SeedSequence().entropy % 2**31) if seed is None else int(seed)
        self.verbose, self.tensorboard_log = verbose, tensorboard_log
        self.env: VectorEnv | None = None
        self.augment = False
        if env is None:
            raise ValueError("MAMBA needs an env (use MAMBA.load(path) to load without one)")
        self.env_id = env_id_of(env)
        self.env_kwargs = dict(env_kwargs or {})
        if not isinstance(env, str):
            spec_kwargs = dict(getattr(getattr(env, "spec", None), "kwargs", None) or {})
            self.env_kwargs = {k: v for k, v in spec_kwargs.items() if k not in _NOT_ENV_KWARGS}
        self.augment = needs_augmentation(env, self.config.train.augment_obs, env_kwargs)
        venv = make_vector_env(
            env, self.config.train.num_envs, self.augment, self.config.train.time_scale, env_kwargs
        )
        self._build(venv.single_observation_space, venv.single_action_space)
        self._attach_env(venv)

    # -- construction ---------------------------------------------------------------------------
    def _build(self, obs_space: gym.Space, act_space: gym.Space) -> None:
        cfg = self.config
        self.observation_space, self.action_space = obs_space, act_space
        self.obs_dim = check_observation_space(obs_space)
        self.codec = ActionCodec(act_space)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.world_model = WorldModel(cfg.world_model, self.obs_dim, self.codec.dim)
            wm = cfg.world_model
            self.actor_critic = ActorCritic(
                cfg.behavior,
                self.world_model.feat_dim,
                self.codec.dim,
                self.codec.discrete,
                wm.head_units,
                wm.head_layers,
                wm.bins,
                wm.unimix,
            )
        self.world_model.to(self.device)
        self.actor_critic.to(self.device)
        self._move_optimizers()
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.act_generator = torch.Generator(device=self.device).manual_seed(self.seed + 1)
        self.rng = np.random.default_rng(self.seed)
        self.replay = MetaEpisodeReplay(
            cfg.replay.replay_capacity,
            cfg.replay.dreamer_vanilla,
            cfg.replay.window_length,
            recency=cfg.replay.replay_recency,
        )
        self.num_timesteps = 0
        self._n_updates = 0
        self._update_carry = 0.0
        self._episodes_done = 0
        self._logger: Logger | None = None
        self._custom_logger = False
        self.last_metrics: dict[str, float] = {}
        self._ep_returns: deque[float] = deque(maxlen=100)
        self._ep_sub_returns: deque[list[float]] = deque(maxlen=100)

    def _move_optimizers(self) -> None:
        for opt in (
            self.world_model.optimizer,
            self.actor_critic.actor_opt,
            self.actor_critic.critic_opt,
        ):
            for st in opt.state.values():
                for k, v in st.items():
                    if torch.is_tensor(v) and k != "step":
                        st[k] = v.to(self.device)

    def _attach_env(self, venv: VectorEnv) -> None:
        if venv.single_observation_space.shape != self.observation_space.shape:
            raise ValueError(
                f"observation space {venv.single_observation_space} does not match the model's "
                f"{self.observation_space} (augment_obs={self.augment})"
            )
        if venv.single_action_space != self.action_space:
            raise ValueError(
                f"action space {venv.single_action_space} does not match the "
                f"model's {self.action_space}"
            )
        self.env = venv
        self.collector = Collector(venv, self.codec.dim)
        self._collector_seeded = False

    # -- SB3 compatibility ----------------------------------------------------------------------
    def get_env(self) -> VectorEnv | None:
        """The vector env used for collection (callbacks see it as ``training_env``)."""
        return self.env

    def get_vec_normalize_env(self) -> None:
        """SB3 compatibility: MAMBA uses no VecNormalize."""
        return None

    @property
    def logger(self) -> Logger:
        """SB3 logger (stdout / CSV / TensorBoard depending on ``verbose`` and ``tensorboard_log``)."""
        if self._logger is None:
            self._logger = self._make_logger("MAMBA", True)
        return self._logger

    def _make_logger(self, tb_log_name: str, reset_num_timesteps: bool) -> Logger:
        formats = ["stdout"] if self.verbose >= 1 else []
        folder = None
        if self.tensorboard_log is not None:
            run = get_latest_run_id(self.tensorboard_log, tb_log_name)
            run = run + 1 if reset_num_timesteps or run == 0 else run
            folder = os.path.join(self.tensorboard_log, f"{tb_log_name}_{run}")
            formats += ["csv", "tensorboard"]
        return configure(folder, formats)

    def set_logger(self, logger: Logger) -> None:
        """Use ``logger`` (e.g. ``stable_baselines3.common.logger.configure(path, ["csv"])``)
        instead of the default one; ``learn`` then keeps it."""
        self._logger = logger
        self._custom_logger = True

    @property
    def replay_buffer(self) -> MetaEpisodeReplay:
        """The meta-episode replay (SB3's CheckpointCallback saves it when asked)."""
        return self.replay

    # -- acting ---------------------------------------------------------------------------------
    def initial_state(self, n: int) -> State:
        """Acting state of ``n`` fresh meta-episodes (reset by ``episode_start`` anyway)."""
        return initial_state(self.world_model, n)

    def _act(
        self, obs: np.ndarray, state: State, is_first: np.ndarray, deterministic: bool
    ) -> tuple[np.ndarray, State]:
        actor = self.actor_critic.actor
        return act(self.world_model, actor, obs, state, is_first, deterministic, self.act_generator)

    def predict(
        self,
        observation: np.ndarray,
        state: State | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, State]:
        """Action(s) for ``observation`` (O,) or (n, O), threading the recurrent ``state`` as
        sb3-contrib's RecurrentPPO does: pass back the returned state with ``episode_start`` True
        at meta-episode starts. ``state=None`` starts fresh meta-episodes. Never trains."""
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        obs = obs[None] if single else obs
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim:
            hint = (
                " (this model appends [previous reward, t/T]: wrap the env with "
                "mamba_agent.data.wrappers.MetaFeatures)"
                if self.augment
                else ""
            )
            raise ValueError(
                f"observation of shape {np.shape(observation)} does not match the "
                f"model's observation size {self.obs_dim}{hint}"
            )
        n = obs.shape[0]
        if state is None:
            state = self.initial_state(n)
            start = np.ones(n, dtype=bool)
        else:
            start = (
                np.zeros(n, bool)
                if episode_start is None
                else np.asarray(episode_start, dtype=bool).reshape(n)
            )
        vec, new_state = self._act(obs, state, start, deterministic)
        action = self.codec.to_env(vec)
        return (action[0] if single else action), new_state

    # -- learning -------------------------------------------------------------------------------
    def _init_callback(self, callback: Any, progress_bar: bool) -> BaseCallback:
        if isinstance(callback, list):
            callback = CallbackList(callback)
        if callback is not None and not isinstance(callback, BaseCallback):
            callback = ConvertCallback(callback)
        if progress_bar:
            callback = CallbackList(([callback] if callback else []) + [ProgressBar()])
        if callback is None:
            callback = CallbackList([])
        callback.init_callback(self)  # type: ignore[arg-type]
        return callback

    def train(self, gradient_steps: int) -> dict[str, float]:
        """``gradient_steps`` updates (world model, then actor-critic); returns mean metrics."""
        cfg = self.config
        sums: dict[str, float] = {}
        horizon = None
        if not cfg.replay.dreamer_vanilla:
            horizon = wm_horizon(
                self.num_timesteps,
                cfg.replay.horizon_start,
                cfg.replay.horizon_steps,
                self.replay.max_length(),
            )
        recency = recency_share(
            self.num_timesteps, cfg.replay.replay_recency, cfg.replay.replay_recency_steps
        )
        amp = torch.bfloat16 if cfg.train.precision == "bfloat16" else None
        for _ in range(gradient_steps):
            t0 = time.perf_counter()
            arrays = self.replay.sample(cfg.replay.batch_size, self.rng, horizon, recency)
            batch = Batch.from_numpy(arrays, self.device)
            metrics, post = self.world_model.train_step(batch, self.generator, amp)
            metrics.update(
                self.actor_critic.train_step(
                    self.world_model, post, batch.is_terminal, self.generator, amp, batch.reward
                )
            )
            metrics["time/update_seconds"] = time.perf_counter() - t0
            metrics["world_model/horizon"] = float(batch.shape[1])
            self._n_updates += 1
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + v
        self.last_metrics = metrics if gradient_steps else self.last_metrics
        return {k: v / max(gradient_steps, 1) for k, v in sums.items()}

    def _policy(self, obs: np.ndarray, is_first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Collection policy: acts from the per-env acting state kept across ``learn`` calls."""
        vec, self._acting_state = self._act(obs, self._acting_state, is_first, False)
        return self.codec.to_env(vec), vec

    def _random_policy(
        self, obs: np.ndarray, is_first: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.codec.random(obs.shape[0], self.rng)

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        log_interval: int | None = None,
        tb_log_name: str = "MAMBA",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> MAMBA:
        """Train for ``total_timesteps`` real env steps (prefill included). ``callback``: an SB3
        callback, a list of them, or a function(locals, globals) -> bool. Returns self.

        Each collection that starts between meta-episodes resets the envs with a seed derived
        from ``seed`` and the number of meta-episodes collected so far, so a model saved between
        ``learn`` calls (or by a callback at ``on_rollout_start``) and loaded again continues
        exactly as the uninterrupted run."""
        if int(total_timesteps) < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        total_timesteps = int(total_timesteps)
        if self.env is None:
            raise ValueError("this model has no env: pass env= to MAMBA.load or set_env")
        cfg = self.config.train
        log_interval = cfg.log_interval if log_interval is None else log_interval
        if self.device.type == "cpu" and cfg.cpu_retain_memory:
            retain_freed_memory()
        if not self._custom_logger and (reset_num_timesteps or self._logger is None):
            self._logger = self._make_logger(tb_log_name, reset_num_timesteps)
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._collector_seeded = False
        else:
            total_timesteps += self.num_timesteps
        callback = self._init_callback(callback, progress_bar)
        callback.on_training_start(locals(), globals())
        start_time, start_steps = time.time(), self.num_timesteps
        iteration, stats, keep_going = 0, {}, True

        def on_step(step_locals: dict[str, Any]) -> bool:
            nonlocal keep_going
            self.num_timesteps += int(step_locals["real_steps"])
            callback.update_locals(step_locals)
            keep_going = bool(callback.on_step())
            return keep_going and self.num_timesteps < total_timesteps

        while self.num_timesteps < total_timesteps and keep_going:
            callback.on_rollout_start()
            if not self._collector_seeded or self.collector.at_boundary():
                self.collector.reset(seed=self.seed + 1000 * self._episodes_done)
                self._acting_state = self.initial_state(self.env.num_envs)
                self._collector_seeded = True
            prefill = len(self.replay) < cfg.prefill_episodes
            act = self._random_policy if prefill else self._policy
            want = cfg.prefill_episodes - len(self.replay) if prefill else self.env.num_envs
            result = self.collector.collect(act, max(want, 1), on_step=on_step)
            callback.on_rollout_end()
            self._store(result)
            if not prefill and len(self.replay) > 0:
                self._update_carry += cfg.train_ratio * result.steps / self.env.num_envs
                n_updates = int(self._update_carry)
                self._update_carry -= n_updates
                if n_updates:
                    stats = self.train(n_updates)
            iteration += 1
            if log_interval and iteration % log_interval == 0:
                self._log(stats, start_time, start_steps)
        callback.on_training_end()
        return self

    def _store(self, result: CollectResult) -> None:
        for ep in result.episodes:
            self.replay.add(ep)
        self._episodes_done += len(result.episodes)
        self._ep_returns.extend(result.returns)
        self._ep_sub_returns.extend(result.sub_episode_returns)

    def _log(self, stats: dict[str, float], start_time: float, start_steps: int) -> None:
        log = self.logger
        elapsed = max(time.time() - start_time, 1e-9)
        if self._ep_returns:
            log.record("rollout/return", float(np.mean(self._ep_returns)))
            subs = [s for s in self._ep_sub_returns if len(s) == len(self._ep_sub_returns[-1])]
            if subs and len(subs[0]) > 1:
                for k, v in enumerate(np.mean(subs, 0), start=1):
                    log.record(f"rollout/sub_episode_{k}_return", float(v))
        log.record("rollout/episodes", self._episodes_done)
        log.record("time/fps", int((self.num_timesteps - start_steps) / elapsed))
        log.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        log.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
        log.record("train/n_updates", self._n_updates)
        for k, v in stats.items():
            log.record(k, v)
        log.dump(step=self.num_timesteps)

    def dump_logs(self) -> None:
        """Write the recorded metrics now (SB3 compatibility)."""
        self.logger.dump(step=self.num_timesteps)

    # -- persistence ----------------------------------------------------------------------------
    def _state(self, include_replay: bool = False) -> dict[str, Any]:
        """Everything :meth:`load` restores, as plain data (loadable with ``weights_only=True``)."""
        state: dict[str, Any] = {
            "format": MODEL_FORMAT,
            "format_version": 1,
            "config": config_to_dict(self.config),
            "preset": self.preset,
            "seed": self.seed,
            "env_id": self.env_id,
            "env_kwargs": _plain_kwargs(self.env_kwargs),
            "observation_space": space_to_data(self.observation_space),
            "action_space": space_to_data(self.action_space),
            "augment": self.augment,
            "world_model": self.world_model.state_dict(),
            "actor_critic": self.actor_critic.state_dict(),
            "wm_opt": self.world_model.optimizer.state_dict(),
            "actor_opt": self.actor_critic.actor_opt.state_dict(),
            "critic_opt": self.actor_critic.critic_opt.state_dict(),
            "counters": {
                "num_timesteps": self.num_timesteps,
                "n_updates": self._n_updates,
                "update_carry": self._update_carry,
                "episodes": self._episodes_done,
            },
            "episode_stats": {
                "returns": [float(r) for r in self._ep_returns],
                "sub_episode_returns": [[float(r) for r in s] for s in self._ep_sub_returns],
            },
            "rng": _plain_rng_state(self.rng.bit_generator.state),
            "generator": self.generator.get_state(),
            "act_generator": self.act_generator.get_state(),
        }
        if include_replay:
            state["replay"] = episodes_to_tensors(list(self.replay.episodes))
        return state

    def save(self, path: str | os.PathLike, include_replay: bool = False) -> Path:
        """Write config, weights, optimiser states, return normaliser, slow critic, counters,
        schedule position, generator states and the env id / kwargs to ``path`` (".zip" added when
        it has no suffix), atomically. ``include_replay`` also stores the replay contents, making
        the file a full training checkpoint. Returns the path written.

        The file holds plain data only (tensors, numbers, strings): :meth:`load` reads it with
        ``torch.load(weights_only=True)``, so loading a model never runs code."""
        path = Path(path)
        if path.suffix == "":
            path = path.with_suffix(".zip")
        return atomic_torch_save(self._state(include_replay), path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        env: str | gym.Env | VectorEnv | None = None,
        device: str | torch.device = "auto",
        **kwargs: Any,
    ) -> MAMBA:
        """Load a model saved with :meth:`save` (on any device: tensors are mapped to ``device``).
        ``env`` (optional) must have the saved observation and action spaces; an id string is made
        with the saved env kwargs unless ``env_kwargs=`` is given. The replay is restored when the
        file holds one (``save(include_replay=True)``).

        Raises ``ValueError`` naming the file when it is not a mamba-agent model file (nothing in
        it is ever executed: it is read with ``weights_only=True``)."""
        path = Path(path)
        if not path.exists() and path.with_suffix(".zip").exists():
            path = path.with_suffix(".zip")
        dev = _device(device)
        return cls.from_state(safe_torch_load(path, map_location=dev), env, dev, path, **kwargs)

    @classmethod
    def from_state(
        cls,
        data: dict[str, Any],
        env: str | gym.Env | VectorEnv | None = None,
        device: str | torch.device = "auto",
        source: str | os.PathLike = "<state>",
        **kwargs: Any,
    ) -> MAMBA:
        """:meth:`load` from a model file's content already read (with
        :func:`mamba_agent.persistence.safe_torch_load`); ``source`` names it in errors."""
        path, dev = source, _device(device)
        self = cls.__new__(cls)
        try:
            self.device, self.preset, self.seed = dev, data["preset"], int(data["seed"])
            self.config: MAMBAConfig = config_from_dict(data["config"])
            self.env_id, self.env_kwargs = data.get("env_id"), dict(data.get("env_kwargs") or {})
            self.verbose = kwargs.get("verbose", 0)
            self.tensorboard_log = kwargs.get("tensorboard_log")
            self.augment, self.env = bool(data["augment"]), None
            obs_space = space_from_data(data["observation_space"])
            act_space = space_from_data(data["action_space"])
            self._build(obs_space, act_space)
            self.world_model.load_state_dict(data["world_model"])
            self.actor_critic.load_state_dict(data["actor_critic"])
            self.world_model.optimizer.load_state_dict(data["wm_opt"])
            self.actor_critic.actor_opt.load_state_dict(data["actor_opt"])
            self.actor_critic.critic_opt.load_state_dict(data["critic_opt"])
            c = data["counters"]
            self.num_timesteps, self._n_updates = int(c["num_timesteps"]), int(c["n_updates"])
            self._update_carry, self._episodes_done = float(c["update_carry"]), int(c["episodes"])
            self.rng.bit_generator.state = data["rng"]
            stats = data.get("episode_stats", {})
            self._ep_returns.extend(stats.get("returns", []))
            self._ep_sub_returns.extend([list(s) for s in stats.get("sub_episode_returns", [])])
            if "replay" in data:
                for ep in episodes_from_tensors(data["replay"]):
                    self.replay.add(ep)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"{path} is not a valid mamba-agent model file: {err!r}") from None
        self._move_optimizers()
        for gen, key in ((self.generator, "generator"), (self.act_generator, "act_generator")):
            try:
                gen.set_state(data[key].cpu())
            except RuntimeError:  # saved on another device type: generator states differ
                gen.manual_seed(self.seed + self._n_updates + (key == "act_generator"))
        if env is not None:
            self.set_env(env, kwargs.get("env_kwargs"))
        return self

    def set_env(
        self, env: str | gym.Env | VectorEnv, env_kwargs: dict[str, Any] | None = None
    ) -> None:
        """Attach an env for further ``learn`` calls (its spaces must match the model's). An id
        string is made with ``env_kwargs``, else with the kwargs the model was trained with."""
        if isinstance(env, str):
            if env_kwargs is None and env == self.env_id:
                env_kwargs = self.env_kwargs
            self.env_id, self.env_kwargs = env, dict(env_kwargs or {})
        venv = make_vector_env(
            env, self.config.train.num_envs, self.augment, self.config.train.time_scale, env_kwargs
        )
        self._attach_env(venv)

    def save_replay_buffer(self, path: str | os.PathLike) -> None:
        """Write the replay contents to ``path`` (needed to resume training exactly) as plain
        arrays in ``.npz`` format, atomically; the name is kept as given."""
        save_episodes_npz(list(self.replay.episodes), path)

    def load_replay_buffer(self, path: str | os.PathLike) -> None:
        """Replace the replay contents with those written by :meth:`save_replay_buffer` (read with
        ``allow_pickle=False``; ``ValueError`` naming the file if it is not such a file)."""
        episodes = load_episodes_npz(path)
        self.replay.load_state_dict({"capacity": self.replay.capacity, "episodes": episodes})


def _plain_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The env kwargs that are plain data (what a weights-only file can hold)."""
    plain = (bool, int, float, str, type(None))
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, plain):
            out[str(key)] = value
        elif isinstance(value, list | tuple) and all(isinstance(v, plain) for v in value):
            out[str(key)] = list(value)
    return out


def _plain_rng_state(state: dict[str, Any]) -> dict[str, Any]:
    """A numpy bit-generator state with numpy scalars turned into Python numbers."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.generic):
            return value.item()
        return value

    return plain(state)
