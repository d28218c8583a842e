"""``mamba-agent plot``: learning curves from the eval.csv of run directories."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from mamba_agent.cli.run_dir import RunDir, RunError

__all__ = [
    "find_runs",
    "plot_runs",
    "plot_command",
    "curve_band",
    "differences_from_preset",
    "run_label",
]

_REFERENCE_STYLE = {"random": ":", "explorer": "--", "oracle": "-."}


def find_runs(paths: list[Path]) -> list[RunDir]:
    """Run directories among ``paths``: each path itself, or the run directories below it."""
    runs: list[RunDir] = []
    for path in paths:
        if RunDir(path).manifest_path.is_file():
            runs.append(RunDir(path))
            continue
        found = sorted(p.parent for p in path.glob("**/manifest.json"))
        if not found:
            raise RunError(f"{path} is not a run directory and holds none")
        runs += [RunDir(p) for p in found]
    return runs


def curve_band(
    curves: list[tuple[np.ndarray, np.ndarray]], points: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max of several (x, y) curves on a common grid over the x range they share
    (linear interpolation); one curve is returned as it is."""
    if len(curves) == 1:
        x, y = curves[0]
        return x, y, y, y
    lo = max(float(c[0][0]) for c in curves)
    hi = min(float(c[0][-1]) for c in curves)
    grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
    ys = np.stack([np.interp(grid, x, y) for x, y in curves])
    return grid, ys.mean(0), ys.min(0), ys.max(0)


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def differences_from_preset(run: RunDir, preset: str) -> dict[str, Any] | None:
    """The fields of the run's ``config.toml`` whose values differ from ``preset`` as this version
    of the package defines it (a field the file lacks counts as its default); None when the run
    has no readable MAMBA config or the preset is unknown here. Two runs with the same
    configuration get the same differences, whether their settings came from the preset or from
    ``--set``."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    from mamba_agent.config import MAMBAConfig, config_to_dict, make_config

    try:
        with run.config_path.open("rb") as f:
            config = tomllib.load(f)
        reference = config_to_dict(make_config(preset))
    except (OSError, ValueError, tomllib.TOMLDecodeError):
        return None
    if "rl2" in config:
        return None
    # a field the run's config lacks was added to the package later, with a default that keeps
    # the behaviour from before it: the run had that default
    defaults = config_to_dict(MAMBAConfig())
    diff = {}
    for section, fields in reference.items():
        for key, value in fields.items():
            used = config.get(section, {}).get(key, defaults[section][key])
            if _plain(used) != _plain(value):
                diff[key] = used
    for section, fields in config.items():  # fields this version no longer has
        diff.update({k: v for k, v in fields.items() if k not in reference.get(section, {})})
    return diff


def run_label(run: RunDir, manifest: dict[str, Any]) -> str:
    """Method, preset and settings of a run (the curve label of ``plot``, the table row of
    ``sweep-report``): the fields where its config differs from the preset
    (else, for runs without a config file, its ``--set`` overrides)."""
    method = manifest.get("method", "mamba")
    preset = manifest.get("preset_resolved") or manifest.get("preset", "")
    settings = differences_from_preset(run, preset) if preset else None
    if settings is None:
        settings = manifest.get("overrides") or {}
    extra = " ".join(f"{k}={v}" for k, v in settings.items())
    return " ".join(p for p in (method, preset, extra) if p)


def plot_runs(runs: list[RunDir], out: Path, title: str | None = None) -> Path:
    """Draw return and normalised score against env steps and wall time, one panel row per env,
    one line (mean) and band (min to max over seeds) per method and settings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    groups: dict[str, dict[str, list[tuple[dict, list[dict[str, float]]]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for run in runs:
        manifest = run.read_manifest()
        rows = [r for r in run.read_eval() if "timesteps" in r and "return_mean" in r]
        if not rows:
            continue
        env = manifest.get("env_id", "?")
        kwargs = manifest.get("env_kwargs") or {}
        if kwargs:
            env += " " + ",".join(f"{k}={v}" for k, v in kwargs.items())
        groups[env][run_label(run, manifest)].append((manifest, rows))
    if not groups:
        raise RunError("no evaluations to plot (the runs have no eval.csv rows yet)")
    has_score = any(
        "normalized_score" in rows[0]
        for methods in groups.values()
        for entries in methods.values()
        for _, rows in entries
    )
    ncols = 4 if has_score else 2
    fig, axes = plt.subplots(
        len(groups), ncols, figsize=(4.2 * ncols, 3.4 * len(groups)), squeeze=False
    )
    for row_axes, (env, methods) in zip(axes, groups.items()):
        reference = None
        for label, entries in methods.items():
            n = len(entries)
            for col, (xkey, ykey) in enumerate(
                [
                    ("timesteps", "return_mean"),
                    ("wall_time", "return_mean"),
                    ("timesteps", "normalized_score"),
                    ("wall_time", "normalized_score"),
                ][:ncols]
            ):
                curves = []
                for manifest, rows in entries:
                    reference = reference or manifest.get("reference_returns")
                    pts = [(r[xkey], r[ykey]) for r in rows if xkey in r and ykey in r]
                    if pts:
                        x, y = np.array(pts).T
                        x = x / 60.0 if xkey == "wall_time" else x
                        curves.append((x, y))
                if not curves:
                    continue
                x, mean, low, high = curve_band(curves)
                ax = row_axes[col]
                (line,) = ax.plot(x, mean, label=f"{label} ({n} run{'s' * (n > 1)})")
                if n > 1:
                    ax.fill_between(x, low, high, alpha=0.2, color=line.get_color())
        for col, ax in enumerate(row_axes):
            normalized = col >= 2
            for kind, value in (reference or {}).items():
                if normalized and reference:
                    span = reference["explorer"] - reference["random"]
                    value = (value - reference["random"]) / span if span else np.nan
                ax.axhline(
                    value, color="grey", lw=1, ls=_REFERENCE_STYLE.get(kind, "-"), label=kind
                )
            ax.set_xlabel("env steps" if col % 2 == 0 else "wall time (minutes)")
            if col % 2 == 0:
                ax.xaxis.set_major_formatter(
                    matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0")
                )
            ax.set_ylabel("normalised score" if normalized else "evaluation return")
            ax.set_title(env, fontsize=9)
            ax.grid(alpha=0.3)
        # beside the row, not over a curve (method labels with their --set overrides are long)
        row_axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_command(args: argparse.Namespace) -> None:
    """Draw the curves (see the sub-command's help)."""
    runs = find_runs(args.runs)
    path = plot_runs(runs, args.out, args.title)
    print(f"wrote {path} ({len(runs)} run{'s' * (len(runs) > 1)})")
