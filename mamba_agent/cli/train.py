"""``mamba-agent train``: a run directory with logs, evaluations and checkpoints, and its resume.

Everything that changes the run's future lives in the checkpoint (model, optimisers, return
normaliser, slow critic, counters, schedule position, generator states, replay, and the run's own
position: next evaluation step, wall time, CSV rows written), which is written atomically at the
start of a collection (between meta-episodes, so no env state is lost) every
``--checkpoint-every`` minutes and when SIGINT / SIGTERM arrive. A resumed run drops the CSV rows
written after that checkpoint and continues exactly as the uninterrupted run would have: on the CPU
the same losses and evaluation returns follow.
"""

from __future__ import annotations

import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback

from mamba_agent.algorithm import MAMBA
from mamba_agent.cli.logger import make_run_logger
from mamba_agent.cli.run_dir import (
    RunDir,
    RunError,
    command_line,
    count_rows,
    git_commit,
    machine_info,
    now,
    truncate_rows,
    versions,
)
from mamba_agent.config import config_to_dict
from mamba_agent.evaluation import (
    MetaEvalResult,
    evaluate_meta_episodes,
    reference_returns_of,
    resolve_env_id,
)
from mamba_agent.persistence import atomic_torch_save
from mamba_agent.progress import ProgressBar

__all__ = ["TrainSettings", "StopTraining", "RunCallback", "start_run", "resume_run"]


@dataclass
class TrainSettings:
    """What ``mamba-agent train`` was asked for (stored in the manifest; ``--resume`` reads it)."""

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    method: str = "mamba"
    preset: str = "auto"
    overrides: dict[str, Any] = field(default_factory=dict)
    steps: int = 100_000
    minutes: float | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    eval_every: int = 10_000
    eval_episodes: int = 10
    final_eval_episodes: int = 100
    eval_seed: int = 1_000_000
    checkpoint_every: float = 10.0
    log_interval: int = 5
    verbose: int = 1
    progress_bar: bool = True

    def check(self) -> None:
        """``RunError`` for values no run can use."""
        if self.steps < 1:
            raise RunError(f"--steps must be >= 1, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise RunError(f"--minutes must be > 0, got {self.minutes}")
        if self.method not in METHODS:
            raise RunError(f"unknown method {self.method!r}; choose one of {list(METHODS)}")
        if self.eval_every < 0:
            raise RunError(
                f"--eval-every must be >= 0 (0: only the final evaluation), got {self.eval_every}"
            )
        if self.eval_episodes < 1 or self.final_eval_episodes < 0:
            raise RunError("--eval-episodes must be >= 1 and --final-eval-episodes >= 0")
        if not self.checkpoint_every > 0:
            raise RunError(f"--checkpoint-every must be > 0 minutes, got {self.checkpoint_every}")
        if self.threads is not None and self.threads < 1:
            raise RunError(f"--threads must be >= 1, got {self.threads}")


METHODS = ("mamba", "dreamer_vanilla", "rl2")
"""``--method``: MAMBA, its Dreamer-Vanilla ablation (``dreamer_vanilla=True``), or the RL²
baseline (sb3-contrib's RecurrentPPO, :mod:`mamba_agent.baselines.rl2`)."""


class StopTraining(Exception):
    """Raised by :class:`RunCallback` after the checkpoint that a signal asked for."""


class TimeBudgetReached(Exception):
    """Raised by :class:`RunCallback` when the run's ``--minutes`` are spent."""


def agent_state(model: Any, include_replay: bool = True) -> dict[str, Any]:
    """The checkpoint / model-file content of a MAMBA or RL² model (plain data)."""
    if isinstance(model, MAMBA):
        return model._state(include_replay=include_replay)
    from mamba_agent.baselines.rl2 import rl2_state

    return rl2_state(model)


def load_agent_file(
    path: Path, device: str, env_kwargs: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """A MAMBA or RL² model from a model or checkpoint file (with its env attached), and the
    run position stored beside it ({} in a model file). The file is read once."""
    from mamba_agent.baselines.rl2 import is_rl2, load_rl2_state
    from mamba_agent.persistence import safe_torch_load

    data = safe_torch_load(path, map_location="cpu")
    position = dict(data.get("run", {}))
    if is_rl2(data):
        return load_rl2_state(data, device), position
    model = MAMBA.from_state(data, device=device, source=path)
    if model.env_id is not None:
        resolve_env_id(model.env_id)
        model.set_env(model.env_id, env_kwargs if env_kwargs is not None else model.env_kwargs)
    return model, position


class RunCallback(BaseCallback):
    """Checkpoints, evaluations and signal handling of a run, at the start of each collection.

    Order at each collection start: checkpoint (when due, or when a signal arrived), evaluation
    (when ``num_timesteps`` passed the next evaluation step), then stop if a signal arrived. The
    checkpoint comes first so that a run resumed from it repeats the evaluation that followed it
    (its row was dropped from eval.csv with the rows after the checkpoint).
    """

    def __init__(
        self,
        run: RunDir,
        settings: TrainSettings,
        reference: dict[str, float] | None,
        progress: ProgressBar | None,
        position: dict[str, Any],
    ) -> None:
        super().__init__()
        self.run, self.settings, self.reference, self.progress = run, settings, reference, progress
        # the first evaluation step (unused with eval_every 0: only the final evaluation)
        self.next_eval: int = int(position.get("next_eval", settings.eval_every))
        self.wall_before: float = float(position.get("wall_time", 0.0))
        self.checkpointed = bool(position.get("checkpointed", False))
        self.finished = bool(position.get("finished", False))
        self._t0 = time.monotonic()
        self._last_checkpoint = time.monotonic()
        self.stop_signal: int | None = None
        self._old_handlers: dict[int, Any] = {}
        self.last_eval: MetaEvalResult | None = None

    # -- signals --------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGINT / SIGTERM: checkpoint at the next collection start, then stop. A second SIGINT
        stops at once (the last checkpoint stays)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)

    def restore_signal_handlers(self) -> None:
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum
        name = signal.Signals(signum).name
        print(
            f"\n{name}: checkpointing after the current update round, then stopping "
            "(Ctrl-C again to stop now; the last checkpoint stays)",
            flush=True,
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    # -- position -------------------------------------------------------------------------------
    def wall_time(self) -> float:
        """Seconds of this run so far, over every resume."""
        return self.wall_before + time.monotonic() - self._t0

    def position(self) -> dict[str, Any]:
        """The run's own state stored in the checkpoint."""
        return {
            "next_eval": self.next_eval,
            "wall_time": self.wall_time(),
            "eval_rows": count_rows(self.run.eval_path),
            "progress_rows": count_rows(self.run.progress_path),
            "checkpointed": True,
            "finished": self.finished,
        }

    # -- actions --------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Write the checkpoint now (atomically)."""
        state = agent_state(self.model)
        state["run"] = self.position()
        atomic_torch_save(state, self.run.checkpoint_path)
        self.checkpointed = True
        self._last_checkpoint = time.monotonic()

    def evaluate(self, episodes: int) -> MetaEvalResult:
        """Evaluate on the fixed tasks, append to eval.csv, record to the logger and the bar."""
        s = self.settings
        result = evaluate_meta_episodes(
            self.model, s.env_id, episodes, s.eval_seed, s.env_kwargs, self.reference
        )
        subs = result.sub_episode_means
        row: dict[str, Any] = {
            "timesteps": self.model.num_timesteps,
            "wall_time": round(self.wall_time(), 3),
            "episodes": episodes,
            "return_mean": result.mean,
            "return_std": result.std,
            "normalized_score": result.normalized_score,
        }
        row.update({f"sub_episode_{k + 1}_return": v for k, v in enumerate(subs)})
        self.run.append_eval(row, len(subs))
        log = self.model.logger
        log.record("eval/return", result.mean)
        log.record("eval/return_std", result.std)
        for k, v in enumerate(subs):
            log.record(f"eval/sub_episode_{k + 1}_return", v)
        if result.normalized_score is not None:
            log.record("eval/normalized_score", result.normalized_score)
        if self.progress is not None:
            status: dict[str, Any] = {"eval": round(result.mean, 2)}
            if result.normalized_score is not None:
                status["score"] = round(result.normalized_score, 3)
            self.progress.set_status(**status)
        self.last_eval = result
        return result

    def _on_rollout_start(self) -> None:
        s = self.settings
        due = time.monotonic() - self._last_checkpoint >= s.checkpoint_every * 60.0
        if not self.checkpointed or due or self.stop_signal is not None:
            self.checkpoint()
        if self.stop_signal is not None:
            raise StopTraining(signal.Signals(self.stop_signal).name)
        if s.minutes is not None and self.wall_time() >= s.minutes * 60.0:
            raise TimeBudgetReached()
        if s.eval_every and self.model.num_timesteps >= self.next_eval:
            self.evaluate(s.eval_episodes)
            self.next_eval = (self.model.num_timesteps // s.eval_every + 1) * s.eval_every

    def _on_step(self) -> bool:
        return True


def _reference(env_id: str, env_kwargs: dict[str, Any]) -> dict[str, float] | None:
    try:
        return reference_returns_of(env_id, env_kwargs)
    except Exception:
        return None


def start_run(settings: TrainSettings, run_dir: Path) -> Path:
    """Create ``run_dir`` and train from scratch (``RunError`` if it already holds a run)."""
    settings.check()
    run = RunDir(run_dir)
    if run.exists():
        other = None
        try:
            other = run.read_manifest().get("env_id")
        except RunError:
            pass
        if other is not None and other != settings.env_id:
            raise RunError(
                f"{run_dir} holds a run of {other}, not {settings.env_id}; "
                "choose another --run-dir (nothing was overwritten)"
            )
        raise RunError(
            f"{run_dir} already holds a run; continue it with "
            f"`mamba-agent train --resume {run_dir}` or choose another --run-dir"
        )
    env_id = resolve_env_id(settings.env_id)
    settings.env_id = env_id
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        if settings.method == "rl2":
            from mamba_agent.baselines.rl2 import make_rl2

            device = "cpu" if settings.device == "auto" else settings.device
            model = make_rl2(env_id, settings.env_kwargs, settings.preset, settings.seed, device,
                             settings.overrides)  # fmt: skip
            model.preset = model.rl2_info["preset"]
        else:
            overrides = dict(settings.overrides)
            if settings.method == "dreamer_vanilla":
                overrides["dreamer_vanilla"] = True
            model = MAMBA(
                env_id,
                preset=settings.preset,
                device=settings.device,
                seed=settings.seed,
                env_kwargs=settings.env_kwargs,
                **overrides,
            )
    except TypeError as err:
        raise RunError(str(err)) from None
    reference = _reference(env_id, settings.env_kwargs)
    run.path.mkdir(parents=True, exist_ok=True)
    manifest = {
        "created": now(),
        "command": command_line(),
        **asdict(settings),
        "preset_resolved": model.preset,
        "device_resolved": str(model.device),
        "rl2": getattr(model, "rl2_info", None),
        "torch_threads": torch.get_num_threads(),
        "reference_returns": reference,
        "versions": versions(),
        "git_commit": git_commit(),
        "machine": machine_info(),
    }
    run.write_manifest(manifest)
    config = (
        config_to_dict(model.config)
        if isinstance(model, MAMBA)
        else {"rl2": {**_rl2_settings(model)}}
    )
    run.write_config(
        config,
        f"{'MAMBA' if isinstance(model, MAMBA) else 'RL² (RecurrentPPO)'} configuration of this "
        f"run: preset {model.preset!r} + overrides "
        f"{settings.overrides or {}}\nenv {env_id} {settings.env_kwargs or ''}, seed "
        f"{settings.seed}. Written once by `mamba-agent train`; the checkpoint holds the same.",
    )
    return _train(model, run, settings, reference, {}, resumed=False)


def resume_run(run_dir: Path, steps: int | None = None, minutes: float | None = None) -> Path:
    """Continue the run in ``run_dir`` from its checkpoint, up to its budget; ``steps`` and
    ``minutes`` replace the budget's env steps and wall-time minutes (kept in the manifest for
    later resumes)."""
    run = RunDir(run_dir)
    manifest = run.read_manifest()
    if not run.checkpoint_path.is_file():
        raise RunError(f"{run_dir} has no checkpoint.pt to resume from")
    known = set(TrainSettings.__dataclass_fields__)
    settings = TrainSettings(**{k: v for k, v in manifest.items() if k in known})
    if steps is not None:
        settings.steps = steps
    if minutes is not None:
        settings.minutes = minutes
    settings.check()
    if steps is not None or minutes is not None:
        manifest = {k: v for k, v in manifest.items() if k != "format"}
        run.write_manifest({**manifest, "steps": settings.steps, "minutes": settings.minutes})
    resolve_env_id(settings.env_id)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = "cpu" if settings.method == "rl2" and settings.device == "auto" else settings.device
    model, position = load_agent_file(run.checkpoint_path, device, settings.env_kwargs)
    if not isinstance(model, MAMBA):
        model.preset = model.rl2_info["preset"]
    for stale in run.path.glob(".*.tmp"):  # a write that a crash cut short (never renamed)
        stale.unlink()
    truncate_rows(run.eval_path, int(position.get("eval_rows", 0)))
    return _train(model, run, settings, manifest.get("reference_returns"), position, resumed=True)


def _train(
    model: MAMBA,
    run: RunDir,
    settings: TrainSettings,
    reference: dict[str, float] | None,
    position: dict[str, Any],
    resumed: bool,
) -> Path:
    if position.get("finished") and (
        model.num_timesteps >= settings.steps
        or (settings.minutes is not None and position.get("wall_time", 0) >= settings.minutes * 60)
    ):
        print(f"{run.path}: finished at {model.num_timesteps} env steps (pass --steps to extend)")
        return run.path
    lock = _lock_run(run)
    keep = int(position.get("progress_rows", 0)) if resumed else None
    model.verbose = settings.verbose
    model.set_logger(make_run_logger(str(run.path), settings.verbose, keep))
    progress = ProgressBar(total=settings.steps, disable=not settings.progress_bar)
    callback = RunCallback(run, settings, reference, progress, position)
    callback.init_callback(model)  # also used outside learn (the final stage of a resumed run)
    callback.install_signal_handlers()
    try:
        if model.num_timesteps < settings.steps:
            where = f"resuming at {model.num_timesteps}" if resumed else "starting"
            print(
                f"{run.path}: {settings.method}, {where} / {settings.steps} env steps, preset "
                f"{model.preset}, {model.device}, {torch.get_num_threads()} threads",
                flush=True,
            )
            try:
                model.learn(
                    settings.steps - model.num_timesteps,
                    callback=[callback, progress],
                    log_interval=settings.log_interval,
                    reset_num_timesteps=False,
                )
            except TimeBudgetReached:
                progress._on_training_end()
                print(
                    f"time budget of {settings.minutes} minutes reached at "
                    f"{model.num_timesteps} env steps"
                )
        callback.finished = False
        callback.checkpoint()
        if settings.final_eval_episodes:
            result = callback.evaluate(settings.final_eval_episodes)
            model.logger.dump(step=model.num_timesteps)
            score = result.normalized_score
            print(
                f"final evaluation ({settings.final_eval_episodes} meta-episodes): return "
                f"{result.mean:.2f} ± {result.std:.2f}"
                + ("" if score is None else f", normalised score {score:.3f}")
            )
        atomic_torch_save(agent_state(model, include_replay=False), run.model_path)
        callback.finished = True
        callback.checkpoint()
    except StopTraining as stop:
        progress._on_training_end()
        print(
            f"{stop}: checkpoint written at {model.num_timesteps} env steps; continue with "
            f"`mamba-agent train --resume {run.path}`"
        )
    finally:
        callback.restore_signal_handlers()
        model.logger.close()
        lock.close()
    return run.path


def _lock_run(run: RunDir, wait: float = 30.0) -> Any:
    """An exclusive lock on the run directory, held while this process trains it (released by
    the OS when the process ends, however it ends): two processes never train one run. Waits up
    to ``wait`` seconds for a process that is ending, then raises ``RunError``."""
    handle = open(run.path / ".lock", "a")  # noqa: SIM115  (kept open: it holds the lock)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return handle
    end = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except OSError:
            if time.monotonic() > end:
                handle.close()
                raise RunError(f"another process is training {run.path}") from None
            time.sleep(0.5)


def _rl2_settings(model: Any) -> dict[str, Any]:
    from mamba_agent.baselines.rl2 import RL2_PRESETS

    info = model.rl2_info
    return {**RL2_PRESETS[info["preset"]], **info["overrides"]}
