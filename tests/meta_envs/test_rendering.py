"""Rendering on every id: off-screen rgb_array frames, the human window, the video writer."""

from __future__ import annotations

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest

import meta_envs
from tests.meta_envs.conftest import ENV_IDS, make


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_array_frames(env_id: str) -> None:
    env = make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.ndim == 3 and first.shape[2] == 3 and first.dtype == np.uint8
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 3  # something is drawn
    for _ in range(4):
        env.step(env.action_space.sample())
    later = env.render()
    assert later.shape == first.shape
    assert not np.array_equal(first, later)  # the agent moved or its trail grew


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rgb_array_opens_no_window(env_id: str) -> None:
    pygame = pytest.importorskip("pygame")
    env = make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.render()
    assert pygame.display.get_surface() is None


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_human_mode_headless(env_id: str) -> None:
    """Under the dummy video driver the human window still receives the frame: the display
    surface holds exactly the rgb_array drawing of the same state."""
    pygame = pytest.importorskip("pygame")
    env = make(env_id, render_mode="human")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert env.render() is None
    assert_window_shows(pygame, env.unwrapped._render_rgb())
    env.close()
    assert pygame.display.get_surface() is None


def assert_window_shows(pygame, frame: np.ndarray) -> None:
    """The pygame display surface shows ``frame`` (an (H, W, 3) array)."""
    surface = pygame.display.get_surface()
    assert surface is not None, "no window was opened"
    shown = np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2))
    np.testing.assert_array_equal(shown, frame)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_render_without_mode_warns_and_before_reset_raises(env_id: str) -> None:
    env = make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None
    fresh = make(env_id, render_mode="rgb_array").unwrapped
    with pytest.raises(gym.error.ResetNeeded):
        fresh.render()


def test_trail_colours_one_per_sub_episode() -> None:
    from meta_envs.rendering.canvas import TRAIL_COLORS

    env = make(
        "meta_envs/PointRobot-v0", num_sub_episodes=3, sub_episode_length=8, render_mode="rgb_array"
    )
    env.reset(seed=0, options={"task": [-1.0, 0.0]})  # far away: no goal colour near the trails
    for _ in range(8 * 2 + 4):
        env.step(np.array([0.7, 1.0], dtype=np.float32))
    frame = env.render()
    pixels = {tuple(p) for p in frame.reshape(-1, 3)}
    for colour in TRAIL_COLORS[:3]:
        assert colour in pixels


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_save_video_round_trip(tmp_path, suffix: str) -> None:
    env = make("meta_envs/EscapeRoom-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frames = [env.render()]
    for _ in range(9):
        env.step(env.action_space.sample())
        frames.append(env.render())
    path = meta_envs.save_video(frames, tmp_path / "sub" / f"video{suffix}", fps=10)
    assert path.exists() and path.stat().st_size > 0
    reader = imageio.get_reader(path, format="GIF" if suffix == ".gif" else "FFMPEG")
    count = reader.get_length() if suffix == ".gif" else reader.count_frames()
    assert count == len(frames)
    assert reader.get_data(0).shape[:2] == frames[0].shape[:2]


def test_save_video_bad_input(tmp_path) -> None:
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="mp4"):
        meta_envs.save_video([frame], tmp_path / "video.avi")
    with pytest.raises(ValueError, match="at least one"):
        meta_envs.save_video([], tmp_path / "video.mp4")
    with pytest.raises(ValueError, match="same shape"):
        meta_envs.save_video([frame, np.zeros((4, 4, 3), np.uint8)], tmp_path / "video.mp4")


def test_save_video_pads_odd_frame_sizes_for_mp4(tmp_path) -> None:
    frames = [np.full((35, 51, 3), 10 * i, dtype=np.uint8) for i in range(5)]
    path = meta_envs.save_video(frames, tmp_path / "odd.mp4")
    reader = imageio.get_reader(path, format="FFMPEG")
    assert reader.count_frames() == 5
    assert reader.get_data(0).shape == (36, 52, 3)
