"""The learn progress bar counts real env steps (what total_timesteps counts), not autoreset steps,
and a continued learn call resumes the bar at the model's step counter."""

from __future__ import annotations

from tiny_envs import BanditMetaEnv

from mamba_agent import MAMBA
from mamba_agent.progress import ProgressBar


class Recording(ProgressBar):
    def _on_step(self) -> bool:
        super()._on_step()
        assert int(self.pbar.n) == self.model.num_timesteps  # at every vector step
        return True

    def _on_training_end(self) -> None:
        self.final = (int(self.pbar.initial), int(self.pbar.n), int(self.pbar.total))
        super()._on_training_end()


def test_bar_ends_exactly_at_the_budget_with_autoresets():
    # 2 envs, 8-step meta-episodes: every 8 steps a vector step of autoresets that SB3's bar counts
    model = MAMBA(BanditMetaEnv(), preset="tiny", device="cpu", seed=0, num_envs=2, train_ratio=0.1)
    bar = Recording()
    model.learn(100, callback=bar)
    assert model.num_timesteps == 100
    assert bar.final == (0, 100, 100)
    bar = Recording()
    model.learn(30, callback=bar, reset_num_timesteps=False)
    assert bar.final == (100, 130, 130)  # resumes where the model is


def test_progress_bar_flag_uses_the_counting_bar(monkeypatch):
    seen = []
    monkeypatch.setattr(ProgressBar, "_on_training_end", lambda self: seen.append(self.pbar.n))
    model = MAMBA(BanditMetaEnv(), preset="tiny", device="cpu", seed=0, num_envs=2, train_ratio=0.1)
    model.learn(50, progress_bar=True)
    assert seen == [50]
