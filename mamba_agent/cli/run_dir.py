"""A run directory: what ``mamba-agent train`` writes and every other command reads.

::

    RUN_DIR/
      manifest.json    env id and kwargs, seed, preset, budget and evaluation settings, reference
                       returns, versions, git commit, CPU (written once, at the start)
      config.toml      the full MAMBA configuration, readable (written once)
      checkpoint.pt    the latest training checkpoint: model, optimisers, counters, generators,
                       replay and the run's own position (replaced atomically)
      model.zip        the final model (written when training ends)
      progress.csv     SB3 logger: training metrics every --log-interval collections
      eval.csv         one row per evaluation on the fixed evaluation tasks
      events.out.tfevents.*   the same metrics for TensorBoard
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mamba_agent.persistence import atomic_write

__all__ = ["RunDir", "RunError", "CSV_EVAL_FIXED", "machine_info", "versions", "git_commit"]

RUN_FORMAT = "mamba-agent/run"

CSV_EVAL_FIXED = [
    "timesteps",
    "wall_time",
    "episodes",
    "return_mean",
    "return_std",
    "normalized_score",
]
"""Leading columns of eval.csv; ``sub_episode_<k>_return`` columns follow (k from 1)."""


class RunError(Exception):
    """A problem with the command's input that the user must fix (printed as one line)."""


@dataclass
class RunDir:
    """Paths and files of one run directory."""

    path: Path

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def model_path(self) -> Path:
        return self.path / "model.zip"

    @property
    def progress_path(self) -> Path:
        return self.path / "progress.csv"

    @property
    def eval_path(self) -> Path:
        return self.path / "eval.csv"

    def exists(self) -> bool:
        """Whether this folder already holds a run (a manifest or a checkpoint)."""
        return self.manifest_path.exists() or self.checkpoint_path.exists()

    def read_manifest(self) -> dict[str, Any]:
        """The run's manifest; ``RunError`` when the folder holds no run."""
        if not self.manifest_path.is_file():
            raise RunError(f"{self.path} is not a run directory of mamba-agent (no manifest.json)")
        try:
            data = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as err:
            raise RunError(f"{self.manifest_path} is unreadable: {err}") from None
        if data.get("format") != RUN_FORMAT:
            raise RunError(f"{self.manifest_path} is not a mamba-agent run manifest")
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write the manifest atomically."""
        text = json.dumps({"format": RUN_FORMAT, **manifest}, indent=2, sort_keys=False) + "\n"
        atomic_write(self.manifest_path, lambda f: f.write(text.encode()))

    def write_config(self, config: dict[str, dict[str, Any]], header: str) -> None:
        """Write the nested config dict as TOML (sections of scalars), with a comment header."""
        lines = [f"# {line}" for line in header.splitlines()] + [""]
        for section, fields in config.items():
            lines.append(f"[{section}]")
            lines += [f"{key} = {_toml_value(value)}" for key, value in fields.items()]
            lines.append("")
        text = "\n".join(lines)
        atomic_write(self.config_path, lambda f: f.write(text.encode()))

    def model_file(self) -> Path:
        """The file to load a trained agent from: the final model, else the latest checkpoint."""
        for path in (self.model_path, self.checkpoint_path):
            if path.is_file():
                return path
        raise RunError(f"{self.path} holds no model.zip or checkpoint.pt")

    # -- eval.csv -------------------------------------------------------------------------------
    def read_eval(self) -> list[dict[str, float]]:
        """Rows of eval.csv as floats (empty cells skipped); [] when there is none."""
        if not self.eval_path.is_file():
            return []
        with self.eval_path.open(newline="") as f:
            return [
                {k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)
            ]

    def append_eval(self, row: dict[str, Any], sub_episodes: int) -> None:
        """Append one row to eval.csv (header written with the first row), flushed to disk."""
        columns = CSV_EVAL_FIXED + [f"sub_episode_{k + 1}_return" for k in range(sub_episodes)]
        new = not self.eval_path.exists() or self.eval_path.stat().st_size == 0
        if not new:
            with self.eval_path.open(newline="") as f:
                columns = next(csv.reader(f), columns)
        with self.eval_path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
            f.flush()
            os.fsync(f.fileno())


def count_rows(path: Path) -> int:
    """Data rows of a CSV file (lines after the header); 0 when missing."""
    if not path.is_file():
        return 0
    with path.open(newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def truncate_rows(path: Path, rows: int) -> None:
    """Keep the header and the first ``rows`` data rows of a CSV file (rows written after a
    checkpoint by a run that then crashed are dropped: the resumed run writes them again)."""
    if not path.is_file():
        return
    with path.open(newline="") as f:
        records = list(csv.reader(f))
    if len(records) <= rows + 1:
        return
    keep = records[: rows + 1]

    def write(fh: Any) -> None:
        import io

        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(keep)
        fh.write(text.getvalue().encode())

    atomic_write(path, write)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that change results."""
    import gymnasium
    import numpy
    import stable_baselines3
    import torch

    import mamba_agent

    return {
        "python": platform.python_version(),
        "mamba_agent": mamba_agent.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "gymnasium": gymnasium.__version__,
        "stable_baselines3": stable_baselines3.__version__,
    }


def git_commit() -> str | None:
    """The commit of the source tree mamba_agent is imported from, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    commit = out.stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=5,
    )
    return commit + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def machine_info() -> dict[str, Any]:
    """The CPU model, core count and platform."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
    }


def now() -> str:
    """The current time, ISO 8601 with the UTC offset."""
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


def command_line() -> list[str]:
    """The command as typed (program name and arguments)."""
    return [Path(sys.argv[0]).name, *sys.argv[1:]]
