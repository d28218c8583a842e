"""Package-level promises: docstrings match constructors, imports stay light, ids register."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import gymnasium as gym
import pytest

from tests.meta_envs.conftest import ENV_IDS

SECTIONS = [
    "## Description",
    "## Task Distribution",
    "## Action Space",
    "## Observation Space",
    "## Rewards",
    "## Starting State",
    "## Episode End",
    "## Arguments",
    "## Version History",
]


def env_class(env_id: str) -> type:
    return type(gym.make(env_id).unwrapped)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_docstring_has_gymnasium_sections(env_id: str) -> None:
    doc = inspect.getdoc(env_class(env_id))
    positions = [doc.find(section) for section in SECTIONS]
    assert all(p >= 0 for p in positions), [s for s, p in zip(SECTIONS, positions) if p < 0]
    assert positions == sorted(positions)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_arguments_table_matches_constructor(env_id: str) -> None:
    cls = env_class(env_id)
    doc = inspect.getdoc(cls)
    table = doc[doc.index("## Arguments") : doc.index("## Version History")]
    rows = dict(re.findall(r"^\|\s*`(\w+)`\s*\|\s*`([^`]*)`\s*\|", table, flags=re.M))
    parameters = {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
    }
    assert set(rows) == set(parameters)
    for name, default in parameters.items():
        assert eval(rows[name]) == default, name  # noqa: S307 - our own docstring


def test_every_id_is_registered_by_import() -> None:
    code = (
        "import gymnasium as gym, meta_envs; "
        "ids = [i for i in gym.registry if i.startswith('meta_envs/')]; print(sorted(ids))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert eval(out) == sorted(ENV_IDS)  # noqa: S307


def test_colon_form_imports_the_package() -> None:
    code = (
        "import gymnasium as gym; env = gym.make('meta_envs:meta_envs/RoomsN-v0', n=4); "
        "print(env.unwrapped.n)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "4"


def test_importable_with_torch_blocked_and_lazy_heavy_imports() -> None:
    code = f"""
import sys
sys.modules["torch"] = None  # any "import torch" now raises ImportError
import gymnasium as gym
import meta_envs
assert not any(m.split(".")[0] in ("pygame", "mujoco", "imageio") for m in sys.modules), "heavy import"
for env_id in {ENV_IDS!r}:
    env = gym.make(env_id, num_sub_episodes=1, sub_episode_length=3, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.render()
    meta_envs.make_policy("explorer", env)
print("ok")
"""
    env = {"SDL_VIDEODRIVER": "dummy", "MUJOCO_GL": "egl", "PATH": ""}
    import os

    env = {**os.environ, **env}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
