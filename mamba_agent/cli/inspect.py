"""``mamba-agent eval`` and ``mamba-agent render``: look at a trained agent."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from mamba_agent.algorithm import MAMBA
from mamba_agent.cli.run_dir import RunDir, RunError
from mamba_agent.data.wrappers import MetaFeatures
from mamba_agent.evaluation import evaluate_meta_episodes, reference_returns_of, resolve_env_id

__all__ = ["load_agent", "eval_command", "render_command", "render_meta_episodes", "caption"]

DEFAULT_EVAL_SEED = 1_000_000


def load_agent(
    target: Path, device: str = "cpu", env: str | None = None, env_kwargs: list[str] | None = None
) -> tuple[MAMBA, str, dict[str, Any], dict[str, Any]]:
    """Load the model of a run directory (``model.zip``, else ``checkpoint.pt``) or a model file.

    Returns the model, the env id and kwargs to run it on (the ones it was trained with unless
    given), and the run's manifest ({} for a bare model file)."""
    from mamba_agent.cli import parse_assignments

    manifest: dict[str, Any] = {}
    if target.is_dir():
        run = RunDir(target)
        manifest = run.read_manifest() if run.manifest_path.exists() else {}
        path = run.model_file()
    elif target.exists() or target.with_suffix(".zip").exists():
        path = target
    else:
        raise RunError(f"{target}: no such run directory or model file")
    from mamba_agent.cli.train import load_agent_file

    model, _ = load_agent_file(path, device)
    if not isinstance(model, MAMBA):  # RL²: the env it was made with
        model.env_id, model.env_kwargs = model.rl2_info["env_id"], model.rl2_info["env_kwargs"]
    env_id = env or model.env_id or manifest.get("env_id")
    if env_id is None:
        raise RunError(f"{path} does not say which env it was trained on: pass --env ID")
    if env_kwargs is not None:
        kwargs = parse_assignments(env_kwargs, "--env-kwargs")
    elif env is None or env == model.env_id:
        kwargs = dict(model.env_kwargs or manifest.get("env_kwargs") or {})
    else:
        kwargs = {}
    return model, resolve_env_id(env_id), kwargs, manifest


def method_name(model: Any) -> str:
    """How tables name a loaded agent: "MAMBA", "Dreamer-Vanilla" (MAMBA with ``dreamer_vanilla``)
    or "RL²"."""
    if not isinstance(model, MAMBA):
        return "RL²"
    return "Dreamer-Vanilla" if model.config.replay.dreamer_vanilla else "MAMBA"


def _fmt(mean: float, std: float | None = None) -> str:
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def eval_command(args: argparse.Namespace) -> None:
    """Evaluate and print the table (see the sub-command's help)."""
    from rich.console import Console
    from rich.table import Table

    if args.episodes < 1:
        raise RunError(f"--episodes must be >= 1, got {args.episodes}")
    model, env_id, kwargs, manifest = load_agent(
        args.target, args.device, args.env, args.env_kwargs
    )
    seed = args.seed if args.seed is not None else manifest.get("eval_seed", DEFAULT_EVAL_SEED)
    reference = reference_returns_of(env_id, kwargs)
    result = evaluate_meta_episodes(
        model, env_id, args.episodes, seed, kwargs, reference, deterministic=not args.stochastic
    )
    subs = result.sub_episode_returns
    n_sub = 0 if subs is None else subs.shape[1]
    title = (
        f"{env_id} {kwargs or ''}: {args.episodes} meta-episodes, tasks of seed {seed}, "
        f"{model.num_timesteps} env steps of training"
    )
    table = Table(title=title)
    table.add_column("policy")
    table.add_column("total", justify="right")
    for k in range(n_sub):
        table.add_column(f"sub-ep. {k + 1}", justify="right")
    table.add_column("normalised", justify="right")
    score = result.normalized_score
    name = method_name(model)
    row = [name + (" (stochastic)" if args.stochastic else ""), _fmt(result.mean, result.std)]
    row += [_fmt(float(subs[:, k].mean()), float(subs[:, k].std())) for k in range(n_sub)]
    table.add_row(*row, "—" if score is None else f"{score:.3f}")
    for kind, value in (reference or {}).items():
        norm = result.normalize(value)
        table.add_row(kind, _fmt(value), *(["—"] * n_sub), "—" if norm is None else f"{norm:.3f}")
    Console(width=max(Console().width, 120)).print(table)
    print(f"{name}: mean ± std over the meta-episodes, deterministic actor unless --stochastic")
    if reference:
        print(
            "normalised score: (return - random) / (explorer - random); reference returns are "
            "the env's own (their meta-episodes and tasks, not these)"
        )


@functools.lru_cache(maxsize=16)
def _caption_font(size: int) -> Any:
    """Pillow's default font at ``size`` (loaded once per size; every frame has a caption)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one fixed-size font
        return ImageFont.load_default()


def caption(frame: np.ndarray, text: str) -> np.ndarray:
    """``frame`` (H, W, 3) with a band of ``text`` below it."""
    from PIL import Image, ImageDraw

    h, w = frame.shape[:2]
    band = max(18, h // 16)
    image = Image.new("RGB", (w, h + band), (255, 255, 255))
    image.paste(Image.fromarray(np.ascontiguousarray(frame[..., :3])), (0, 0))
    draw = ImageDraw.Draw(image)
    size = max(8, band - 6)
    font = _caption_font(size)
    width = draw.textlength(text, font=font)
    if width > w - 8:  # fit the width (a text's width grows with the font size)
        font = _caption_font(max(8, int(size * (w - 8) / width)))
    draw.text((4, h + 2), text, fill=(0, 0, 0), font=font)
    return np.asarray(image)


def render_meta_episodes(
    model: MAMBA,
    env_id: str,
    env_kwargs: dict[str, Any],
    episodes: int,
    seed: int,
    every: int = 1,
) -> tuple[list[np.ndarray], list[list[float]]]:
    """Frames (with captions) of ``episodes`` meta-episodes of the deterministic agent, reset with
    ``seed + k``, and each one's sub-episode returns."""
    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    if getattr(model, "augment", False):
        scale = model.config.train.time_scale or (env.spec.max_episode_steps or 1000)
        env = MetaFeatures(env, scale)
    frames: list[np.ndarray] = []
    all_subs: list[list[float]] = []
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            state, start, done, t = None, True, False, 0
            subs = [0.0]

            def text(subs: list[float] = subs, k: int = k) -> str:
                parts = " | ".join(f"{r:.1f}" for r in subs)
                return f"meta-episode {k + 1}  sub-episode returns: {parts}  total {sum(subs):.1f}"

            frames.append(caption(env.render(), text()))
            while not done:
                action, state = model.predict(obs, state, np.array([start]), deterministic=True)
                start = False
                obs, reward, terminated, truncated, info = env.step(action)
                done = terminated or truncated
                subs[-1] += float(reward)
                t += 1
                if t % every == 0 or done:
                    frames.append(caption(env.render(), text()))
                if info.get("sub_episode_end") and not done:
                    subs.append(0.0)
            all_subs.append(list(subs))
    finally:
        env.close()
    return frames, all_subs


def render_command(args: argparse.Namespace) -> None:
    """Write the video (see the sub-command's help)."""
    import imageio.v2 as imageio

    if args.episodes < 1 or args.every < 1 or args.fps < 1:
        raise RunError("--episodes, --every and --fps must be >= 1")
    suffix = args.out.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise RunError(f"--out must end in .mp4 or .gif, got {args.out}")
    model, env_id, kwargs, manifest = load_agent(
        args.target, args.device, args.env, args.env_kwargs
    )
    seed = args.seed if args.seed is not None else manifest.get("eval_seed", DEFAULT_EVAL_SEED)
    frames, subs = render_meta_episodes(model, env_id, kwargs, args.episodes, seed, args.every)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        # even sizes for H.264
        h, w = frames[0].shape[:2]
        frames = [f[: h - h % 2, : w - w % 2] for f in frames]
        imageio.mimwrite(args.out, frames, fps=args.fps, macro_block_size=1)
    else:
        imageio.mimwrite(args.out, frames, duration=1000 / args.fps, loop=0)
    if args.still is not None:
        args.still.parent.mkdir(parents=True, exist_ok=True)
        imageio.imwrite(args.still, frames[-1])
        print(f"wrote {args.still}")
    for k, s in enumerate(subs):
        print(
            f"meta-episode {k + 1}: sub-episode returns "
            + ", ".join(f"{r:.2f}" for r in s)
            + f" (total {sum(s):.2f})"
        )
    print(f"wrote {args.out} ({len(frames)} frames)")
