"""A progress bar for :meth:`mamba_agent.MAMBA.learn` that counts what the budget counts.

SB3's ``ProgressBarCallback`` adds ``num_envs`` per vector step, so it also counts the autoreset
steps of a Gymnasium ``VectorEnv`` (which ``total_timesteps`` does not) and overshoots. This bar
advances by the real env steps of each vector step, starts at the model's step counter (a resumed
run resumes the bar), and shows env frames/s, the ETA, and whatever the training loop posts with
:meth:`ProgressBar.set_status` (the CLI posts the last evaluation return and normalised score).
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

__all__ = ["ProgressBar"]


class ProgressBar(BaseCallback):
    """tqdm bar over env steps, from ``model.num_timesteps`` to the ``learn`` call's end.

    Args:
        total: the step the bar ends at; None reads it from ``learn``'s locals
            (``total_timesteps``).
        disable: no bar at all (e.g. when stderr is not a terminal and nothing should print).
    """

    def __init__(self, total: int | None = None, disable: bool = False) -> None:
        super().__init__()
        self.total, self.disable = total, disable
        self.pbar: tqdm | None = None
        self._status: dict[str, str] = {}

    def _on_training_start(self) -> None:
        total = self.total if self.total is not None else int(self.locals["total_timesteps"])
        start = int(self.model.num_timesteps)
        self.pbar = tqdm(
            total=total,
            initial=min(start, total),
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            disable=self.disable,
            smoothing=0.05,
        )
        self.pbar.set_postfix(self._status, refresh=False)

    def set_status(self, **fields: Any) -> None:
        """Show ``key=value`` fields after the bar (formatted with ``str``; floats to 3 digits)."""
        for key, value in fields.items():
            self._status[key] = f"{value:.3g}" if isinstance(value, float) else str(value)
        if self.pbar is not None:
            self.pbar.set_postfix(self._status)

    def _on_step(self) -> bool:
        if self.pbar is not None:
            # MAMBA's learn passes the real env steps of the vector step; SB3's algorithms step
            # VecEnvs that reset inside step(), so every sub-env's step is a real one
            steps = int(self.locals.get("real_steps", self.training_env.num_envs))
            left = max(int(self.pbar.total) - int(self.pbar.n), 0)
            if steps:
                self.pbar.update(min(steps, left))
        return True

    def _on_training_end(self) -> None:
        if self.pbar is not None:
            self.pbar.refresh()
            self.pbar.close()
            self.pbar = None
