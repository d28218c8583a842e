"""Every Python code block of the docs runs as written, in order, on a fresh install.

For each Markdown page (``README.md`` and every ``docs/*.md``, found by glob so that pages added
later are covered), the fenced blocks opened with ```` ```python ```` are extracted and run in
order, in one namespace, in **one fresh Python subprocess per page** (its working directory a
temporary directory, so files the examples write land there; ``SDL_VIDEODRIVER=dummy``,
``SDL_AUDIODRIVER=dummy``, ``MUJOCO_GL=egl``; the repository on ``PYTHONPATH``). A failure names
the page, the block number (1-based, counting the page's Python blocks) and its first line, and
shows the error.

Opting out: a block is skipped only when the line right before its fence is the visible marker
``<!-- docs-test: skip (reason) -->`` (an HTML comment, so readers of the rendered page do not see
it, but anyone editing the Markdown does); the reason is required. Skip a block only when it
cannot run anywhere (it needs a display, a GPU, a file the user brings).

Long budgets: the subprocess runs with the environment variable ``MAMBA_AGENT_DOCS_TEST=1``, and,
for pages whose code imports ``mamba_agent``, a prelude written here (not in the Markdown, and
never read by the library) caps every ``MAMBA.learn(total_timesteps)`` at
:data:`LEARN_STEPS_CAP` real steps and makes every ``MAMBA(...)`` use the ``tiny`` preset, so the
docs can show realistic budgets and still be checked in seconds. Such pages train and import
torch, so they are marked ``slow`` (run them with ``pytest -m slow tests/test_docs.py``);
``README.md`` and ``docs/envs.md`` must not need it and run in the default suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The environment variable set in the subprocess (the harness's prelude reads it).
DOCS_TEST_VARIABLE = "MAMBA_AGENT_DOCS_TEST"
#: ``MAMBA.learn`` budgets are capped at this many real steps under the docs test.
LEARN_STEPS_CAP = 256
#: Wall-clock limit of one page's subprocess (seconds).
PAGE_TIMEOUT = 600
#: The opt-out marker, on the line right before a fence.
SKIP_MARKER = re.compile(r"^<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")
#: Pages that must run in the default suite.
REQUIRED_FAST_PAGES = ("README.md", "docs/envs.md")

FENCE_OPEN = re.compile(r"^(?P<indent>\s*)```python\s*$")


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(text: str) -> list[dict]:
    """The page's ```` ```python ```` blocks: ``{"number", "line", "code", "skip"}`` each, with
    ``skip`` the reason of a skip marker on the line before the fence (or None)."""
    lines = text.splitlines()
    blocks: list[dict] = []
    i = 0
    while i < len(lines):
        match = FENCE_OPEN.match(lines[i])
        if match is None:
            i += 1
            continue
        indent = len(match.group("indent"))
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        previous = lines[start - 1].strip() if start > 0 else ""
        marker = SKIP_MARKER.match(previous)
        blocks.append(
            {
                "number": len(blocks) + 1,
                "line": start + 1,
                "code": "\n".join(body) + "\n",
                "skip": marker.group("reason").strip() if marker else None,
            }
        )
        i += 1
    return blocks


#: Runs the blocks of one page; written to the temporary directory with the blocks as JSON.
RUNNER = r"""
import json, os, sys, traceback

page, blocks, cap = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
uses_agent = any("mamba_agent" in b["code"] for b in blocks if b["skip"] is None)
if os.environ.get("MAMBA_AGENT_DOCS_TEST") == "1" and uses_agent:
    # Shorten training budgets (the docs show realistic ones): tiny networks, few steps.
    from mamba_agent import MAMBA

    _init, _learn = MAMBA.__init__, MAMBA.learn

    def _tiny_init(self, *args, **kwargs):
        args = list(args)
        if len(args) >= 2:
            args[1] = "tiny"
        else:
            kwargs["preset"] = "tiny"
        _init(self, *args, **kwargs)

    def _short_learn(self, total_timesteps, *args, **kwargs):
        return _learn(self, min(int(total_timesteps), cap), *args, **kwargs)

    MAMBA.__init__, MAMBA.learn = _tiny_init, _short_learn

namespace = {"__name__": "__main__"}
for block in blocks:
    if block["skip"] is not None:
        continue
    first = block["code"].strip().splitlines()[0] if block["code"].strip() else ""
    label = f"{page}, python block {block['number']} (line {block['line']}: {first!r})"
    try:
        exec(compile(block["code"], f"<{page} block {block['number']}>", "exec"), namespace)
    except BaseException:
        print(f"DOCS-TEST FAILED in {label}", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
"""


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _marks(page: Path) -> list:
    uses_agent = any(
        "mamba_agent" in block["code"] and block["skip"] is None
        for block in python_blocks(page.read_text())
    )
    return [pytest.mark.slow] if uses_agent and _page_id(page) not in REQUIRED_FAST_PAGES else []


@pytest.mark.parametrize(
    "page", [pytest.param(p, id=_page_id(p), marks=_marks(p)) for p in pages()]
)
def test_page_code_blocks_run(page: Path, tmp_path: Path) -> None:
    blocks = python_blocks(page.read_text())
    if not any(block["skip"] is None for block in blocks):
        pytest.skip(f"{_page_id(page)} has no Python block to run")
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "run_blocks.py").write_text(RUNNER)
    environ = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "MUJOCO_GL": "egl",
        DOCS_TEST_VARIABLE: "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    result = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "run_blocks.py"),
            _page_id(page),
            str(tmp_path / "blocks.json"),
            str(LEARN_STEPS_CAP),
        ],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT,
    )
    assert result.returncode == 0, f"{_page_id(page)}:\n{result.stderr[-6000:]}"


def test_required_pages_run_in_the_default_suite() -> None:
    """README.md and docs/envs.md need no training, so they are never marked slow."""
    for name in REQUIRED_FAST_PAGES:
        assert _marks(ROOT / name) == [], f"{name} must run in the default suite"


def test_block_extraction_and_skip_marker() -> None:
    text = (
        "intro\n```python\nx = 1\n```\n"
        "<!-- docs-test: skip (needs a display) -->\n```python\nshow()\n```\n"
        "```bash\nls\n```\n"
        "- item:\n\n  ```python\n  y = x + 1\n  ```\n"
    )
    blocks = python_blocks(text)
    assert [b["code"] for b in blocks] == ["x = 1\n", "show()\n", "y = x + 1\n"]
    assert [b["skip"] for b in blocks] == [None, "needs a display", None]
    assert [b["line"] for b in blocks] == [2, 6, 14]
    # A marker without a reason is not a marker.
    assert python_blocks("<!-- docs-test: skip -->\n```python\nz = 0\n```\n")[0]["skip"] is None
