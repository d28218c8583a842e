"""The environment pages of the docs are the env docstrings (docs/gen_env_pages.py writes them),
and each page's picture exists."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gen_env_pages", ROOT / "docs" / "gen_env_pages.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


@pytest.mark.parametrize("env_id", list(gen.ENVS), ids=list(gen.ENVS))
def test_env_page_matches_the_docstring(env_id):
    slug, _ = gen.ENVS[env_id]
    page = ROOT / "docs" / "environments" / f"{slug}.md"
    assert page.read_text() == gen.page(env_id), (
        f"{page} is out of date: run `python docs/gen_env_pages.py`"
    )
    assert (ROOT / "docs" / "images" / f"{slug}.png").is_file()


def test_every_registered_env_has_a_page():
    import gymnasium as gym

    import meta_envs  # noqa: F401

    ids = {k for k in gym.registry if k.startswith("meta_envs/")}
    assert ids == set(gen.ENVS)
