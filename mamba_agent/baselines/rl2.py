"""RL²: sb3-contrib's RecurrentPPO with an LSTM policy whose memory spans the meta-episode.

The baseline of the learning-results comparison, trained by ``mamba-agent train --method rl2``
into the same run directories as MAMBA (same eval.csv, same checkpoints, same commands to
evaluate, render and plot). A Gymnasium episode is the meta-episode, so SB3's LSTM state reset
at ``reset`` is exactly RL²'s; the env is expected to put the previous reward in the observation
(the ``meta_envs`` envs do, ``meta_features=True``).

Files are plain data (policy and optimiser state dicts, counters), read with
``weights_only=True``: a resumed RL² run continues from its weights, optimiser and step counter,
but not bit for bit (the rollout in progress and the env states are not stored).
Needs the ``baselines`` extra: ``pip install -e ".[baselines]"``.
"""

from __future__ import annotations

from typing import Any

from mamba_agent.persistence import MODEL_FORMAT

__all__ = ["RL2_PRESETS", "make_rl2", "rl2_state", "load_rl2_state", "RL2_KIND"]

RL2_KIND = "rl2"

_BASE: dict[str, Any] = {
    "n_envs": 8,
    "n_steps": 300,
    "batch_size": 600,
    "n_epochs": 4,
    "learning_rate": 1e-3,  # screened on Point Robot: 0.37 at 42 min against 0.24 with 3e-4
    "gamma": 0.99,
    "gae_lambda": 0.95,
    "ent_coef": 0.0,
    "clip_range": 0.2,
    "max_grad_norm": 0.5,
    "lstm_hidden_size": 128,
    "net_arch": 64,
}
RL2_PRESETS: dict[str, dict[str, Any]] = {
    "rl2_cpu": dict(_BASE),
    "rl2_tiny": {
        **_BASE,
        "n_envs": 2,
        "n_steps": 40,
        "batch_size": 40,
        "n_epochs": 1,
        "lstm_hidden_size": 16,
        "net_arch": 16,
    },  # fmt: skip
}
"""RecurrentPPO settings by name: PPO's own arguments plus ``n_envs`` (parallel envs),
``lstm_hidden_size`` and ``net_arch`` (width of the two hidden layers of policy and value).
``rl2_cpu``'s learning rate is the best of the screens in docs/reproduce.md (PPO's 3e-4, 1e-3,
1e-3 with ``ent_coef=0.01``, ``gamma=0.999``: seed 0 on Point Robot, about 40 minutes each)."""

_POLICY_KEYS = ("lstm_hidden_size", "net_arch")


def _settings(preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    if preset in ("auto", "default"):
        preset = "rl2_cpu"
    if preset not in RL2_PRESETS:
        raise ValueError(f"unknown RL² preset {preset!r}; choose one of {sorted(RL2_PRESETS)}")
    unknown = sorted(set(overrides) - set(RL2_PRESETS[preset]))
    if unknown:
        raise ValueError(f"unknown RL² setting(s) {unknown}; valid: {sorted(RL2_PRESETS[preset])}")
    return {**RL2_PRESETS[preset], **overrides}


def make_rl2(
    env_id: str,
    env_kwargs: dict[str, Any] | None = None,
    preset: str = "rl2_cpu",
    seed: int = 0,
    device: str = "cpu",
    overrides: dict[str, Any] | None = None,
) -> Any:
    """A fresh RecurrentPPO on ``n_envs`` copies of ``env_id`` (SB3's ``make_vec_env``)."""
    try:
        from sb3_contrib import RecurrentPPO
    except ImportError as err:  # pragma: no cover - the extra is installed in the tests
        raise ValueError('the rl2 method needs sb3-contrib: pip install -e ".[baselines]"') from err
    from stable_baselines3.common.env_util import make_vec_env

    from mamba_agent.evaluation import resolve_env_id

    env_id = resolve_env_id(env_id)
    cfg = _settings(preset, dict(overrides or {}))
    venv = make_vec_env(env_id, n_envs=cfg["n_envs"], seed=seed, env_kwargs=env_kwargs or {})
    width = int(cfg["net_arch"])
    policy_kwargs = {
        "lstm_hidden_size": int(cfg["lstm_hidden_size"]),
        "net_arch": {"pi": [width, width], "vf": [width, width]},
    }
    ppo = {k: v for k, v in cfg.items() if k not in (*_POLICY_KEYS, "n_envs")}
    model = RecurrentPPO(
        "MlpLstmPolicy", venv, policy_kwargs=policy_kwargs, seed=seed, device=device, **ppo
    )
    model.rl2_info = {
        "env_id": env_id,
        "env_kwargs": dict(env_kwargs or {}),
        "preset": preset if preset not in ("auto", "default") else "rl2_cpu",
        "overrides": dict(overrides or {}),
        "seed": seed,
    }
    return model


def rl2_state(model: Any) -> dict[str, Any]:
    """What a checkpoint or model file of an RL² run holds (plain data)."""
    info = model.rl2_info
    return {
        "format": MODEL_FORMAT,
        "kind": RL2_KIND,
        **info,
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "counters": {"num_timesteps": int(model.num_timesteps)},
    }


def load_rl2_state(data: dict[str, Any], device: str = "cpu") -> Any:
    """Rebuild the RecurrentPPO of an :func:`rl2_state` dict (weights, optimiser, step count)."""
    if data.get("kind") != RL2_KIND:
        raise ValueError("not an RL² model file")
    model = make_rl2(
        data["env_id"], data["env_kwargs"], data["preset"], int(data["seed"]), device,
        data["overrides"],
    )  # fmt: skip
    model.policy.load_state_dict(data["policy"])
    model.policy.optimizer.load_state_dict(data["optimizer"])
    model.num_timesteps = int(data["counters"]["num_timesteps"])
    model._num_timesteps_at_start = model.num_timesteps
    return model


def is_rl2(data: dict[str, Any]) -> bool:
    """Whether a loaded model file is an RL² one."""
    return data.get("kind") == RL2_KIND
