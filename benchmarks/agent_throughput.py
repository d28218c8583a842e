"""MAMBA agent throughput: seconds per update at the Point Robot paper shape (B = 16, T = 300,
GRU 512, 512 imagination starts per sequence, horizon 2) and at T = 900 / 1,800, env frames/s of
``learn`` with the ``cpu`` preset, and peak memory; beside the machine yardstick factor.

    python benchmarks/agent_throughput.py                 # everything (a few minutes on 2 cores)
    python benchmarks/agent_throughput.py --lengths 300   # only the update timing at T = 300
    python benchmarks/agent_throughput.py --rounds 5      # T = 300 and the yardstick, alternated

Target on the reference machine (factor 1.0), 2 CPU cores: <= 0.8 s per update at T = 300; on
another machine scale it by the yardstick factor printed here. The yardstick is the development
machine's ``shared/bench/yardstick.py`` beside the repository (``<repo>/../shared/bench``); where it
is absent the factor and the target verdict are left out.

Every measurement runs in a fresh process; when one fails (an exception, or the process dies) the
benchmark stops with that process's error and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue as queue_module
import resource
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from mamba_agent import MAMBA
from mamba_agent.behavior.actor_critic import ActorCritic
from mamba_agent.config import make_config
from mamba_agent.cpu_memory import retain_freed_memory
from mamba_agent.data.batch import Batch
from mamba_agent.nn.kernels import native_kernels_available
from mamba_agent.world_model.model import WorldModel

YARDSTICK = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "yardstick.py"
"""The machine yardstick, found relative to the repository (``<repo>/../shared/bench``); optional."""


def _batch(
    B: int, T: int, obs_dim: int, act_dim: int, rng: np.random.Generator, device: str = "cpu"
) -> Batch:
    is_first = np.zeros((B, T), bool)
    is_first[:, 0] = True
    return Batch.from_numpy(
        {
            "obs": rng.normal(size=(B, T, obs_dim)).astype(np.float32),
            "prev_action": rng.uniform(-1, 1, size=(B, T, act_dim)).astype(np.float32),
            "reward": (rng.random((B, T)) < 0.1).astype(np.float32),
            "is_first": is_first,
            "is_terminal": np.zeros((B, T), bool),
        },
        device,
    )


def _onednn_linear_flops(x_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of mkldnn::_linear_pointwise (plain or with a fused add): 2 x rows x out x in."""
    return 2 * int(np.prod(out_shape)) * x_shape[-1]


def _addmm_inplace_flops(self_shape, a_shape, b_shape, *args, **kwargs) -> int:
    """FLOPs of aten.addmm_ (the counter knows only the out-of-place addmm)."""
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


# the ops the counter does not know: oneDNN's packed Linears (counted like aten.mm) and addmm_
_EXTRA_FLOPS = {torch.ops.aten.addmm_: _addmm_inplace_flops}
if hasattr(torch.ops.mkldnn, "_linear_pointwise"):
    _EXTRA_FLOPS[torch.ops.mkldnn._linear_pointwise] = _onednn_linear_flops


def _update_timing(
    T: int,
    repeats: int,
    threads: int,
    precision: str,
    retain: bool,
    device: str,
    queue: mp.Queue,
) -> None:
    torch.set_num_threads(threads)
    if retain:  # as MAMBA.learn does on the CPU (config field cpu_retain_memory)
        retain_freed_memory()
    torch.manual_seed(0)
    cfg = make_config("point_robot", imag_starts=512, imag_horizon=2, batch_size=16)
    obs_dim, act_dim = 4, 2
    wm = WorldModel(cfg.world_model, obs_dim, act_dim).to(device)
    ac = ActorCritic(
        cfg.behavior,
        wm.feat_dim,
        act_dim,
        False,
        cfg.world_model.head_units,
        cfg.world_model.head_layers,
        cfg.world_model.bins,
        cfg.world_model.unimix,
    )
    ac.to(device)
    gen = torch.Generator(device).manual_seed(0)
    batch = _batch(16, T, obs_dim, act_dim, np.random.default_rng(0), device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else lambda: None
    amp = torch.bfloat16 if precision == "bfloat16" else None
    times, wm_times = [], []
    for i in range(repeats + 1):
        sync()
        t0 = time.perf_counter()
        _, post = wm.train_step(batch, gen, amp)
        sync()
        t1 = time.perf_counter()
        ac.train_step(wm, post, batch.is_terminal, gen, amp)
        sync()
        if i > 0:  # the first update warms up allocators
            times.append(time.perf_counter() - t0)
            wm_times.append(t1 - t0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device.startswith("cuda"):  # the device's memory, not the host's
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    # one more update, counted (after the peak memory is read: it measures the timed updates); on
    # one thread, since the counter does not see ops that the C++ scan runs on worker threads
    torch.set_num_threads(1)
    with FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOPS) as counter:
        _, post = wm.train_step(batch, gen, amp)
        ac.train_step(wm, post, batch.is_terminal, gen, amp)
    queue.put(
        {
            "T": T,
            "update_s": statistics.median(times),
            "wm_s": statistics.median(wm_times),
            "peak_rss_mb": peak_mb,
            "gflop": counter.get_total_flops() / 1e9,
        }
    )


class PointRobotLike(gym.Env):
    """Stand-in when meta_envs is not importable: 2-D point, goal on the half circle, 3 x 100 steps,
    observation [x, y, previous reward, t / 300]."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.meta_features = True

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        phi = self.np_random.uniform(0, np.pi)
        self.goal, self.pos, self.t = np.array([np.cos(phi), np.sin(phi)]), np.zeros(2), 0
        return np.array([0, 0, 0, 0], np.float32), {}

    def step(self, action):
        self.pos = np.clip(self.pos + 0.1 * np.clip(action, -1, 1), -2, 2)
        d = np.linalg.norm(self.pos - self.goal)
        r = float(1 - d) if d <= 0.2 else 0.0
        self.t += 1
        if self.t % 100 == 0:
            self.pos = np.zeros(2)
        obs = np.array([*self.pos, r, self.t / 300], np.float32)
        return obs, r, False, self.t >= 300, {"sub_episode_end": self.t % 100 == 0}


def _learn_fps(steps: int, threads: int, retain: bool, queue: mp.Queue) -> None:
    torch.set_num_threads(threads)
    native_kernels_available("cpu", torch.float32)  # a first build of the kernels is not timed
    try:
        import meta_envs  # noqa: F401  (benchmarks may import both packages)

        env, name = "meta_envs/PointRobot-v0", "meta_envs/PointRobot-v0"
        model = MAMBA(env, preset="point_robot_cpu", device="cpu", seed=0, cpu_retain_memory=retain)
    except Exception:  # meta_envs not (yet) importable: a stand-in of the same shape
        env, name = PointRobotLike(), "PointRobotLike (stand-in)"
        model = MAMBA(
            gym.vector.SyncVectorEnv([PointRobotLike] * 4),
            preset="point_robot_cpu",
            device="cpu",
            seed=0,
            cpu_retain_memory=retain,
        )
    t0 = time.perf_counter()
    model.learn(steps)
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        {
            "env": name,
            "steps": model.num_timesteps,
            "updates": model._n_updates,
            "seconds": elapsed,
            "fps": model.num_timesteps / elapsed,
            "peak_rss_mb": peak_mb,
        }
    )


class MeasurementFailed(RuntimeError):
    """A measuring process raised or died without a result (its traceback or exit code inside)."""


def _run_reporting_errors(target: Callable[..., None], args: tuple, queue: mp.Queue) -> None:
    """The measuring process: ``target(*args, queue)``; an exception is sent back as its
    traceback (and the process exits non-zero) instead of leaving the parent waiting."""
    try:
        target(*args, queue)
    except BaseException:
        queue.put({"error": traceback.format_exc()})
        raise


def _in_subprocess(target: Callable[..., None], *args, poll_s: float = 1.0) -> dict:
    """Run ``target(*args, queue)`` in a fresh (spawned) process and return what it puts on the
    queue. Raises :class:`MeasurementFailed` with the child's traceback when it raises, or with its
    exit code when it dies without a result (killed, out of memory, a crash in native code)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run_reporting_errors, args=(target, args, queue))
    proc.start()
    try:
        while True:
            try:
                out = queue.get(timeout=poll_s)
                break
            except queue_module.Empty:
                if proc.is_alive():
                    continue
                try:  # it may have exited just after putting its result
                    out = queue.get(timeout=poll_s)
                    break
                except queue_module.Empty:
                    raise MeasurementFailed(
                        f"{target.__name__} process exited with code {proc.exitcode} "
                        "without a result"
                    ) from None
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if "error" in out:
        raise MeasurementFailed(f"{target.__name__} failed in its process:\n{out['error']}")
    return out


def yardstick(runs: int = 3) -> float | None:
    """Median yardstick factor over ``runs`` runs (None when the yardstick is not there)."""
    if not YARDSTICK.exists():
        return None
    factors = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, str(YARDSTICK)], capture_output=True, text=True, check=True
        ).stdout
        factors.append(json.loads(out.strip().splitlines()[-1])["factor"])
    return statistics.median(factors)


def main() -> None:
    try:
        _main()
    except MeasurementFailed as exc:
        sys.exit(f"benchmark stopped: {exc}")


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="*", default=[300, 900, 1800])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--learn-steps", type=int, default=6000)
    parser.add_argument("--skip-learn", action="store_true")
    parser.add_argument(
        "--device",
        default="cpu",
        help="device of the update timings, e.g. cuda (peak memory is then the device's); the "
        "learn frames/s and the target verdict are for the CPU",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate the yardstick and the T = 300 timing this many times and print each "
        "round's seconds per update at factor 1.0 and their median (the machine's speed drifts: "
        "a factor measured next to each timing tracks it better than one for all)",
    )
    parser.add_argument(
        "--free-memory",
        action="store_true",
        help="time the updates with the C library's default malloc settings (the library's "
        "cpu_retain_memory=False) instead of retain_freed_memory()",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        choices=["float32", "bfloat16"],
        help="update timing with opt-in bfloat16 autocast (the default is float32)",
    )
    parser.add_argument(
        "--omp-wait-policy",
        default="",
        help="OMP_WAIT_POLICY for the measuring processes and the yardstick ('' = unset, the "
        "default; PASSIVE keeps 2-thread timings stable when other processes share the cores)",
    )
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    memory = "peak RSS" if args.device == "cpu" else "peak device memory"
    if args.omp_wait_policy:
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy
    policy = os.environ.get("OMP_WAIT_POLICY", "")
    print(
        f"device {args.device}, threads {args.threads}, precision {args.precision}, "
        f"OMP_WAIT_POLICY={policy}, "
        f"cpu_retain_memory {not args.free_memory}, kernels "
        f"{'C++' if native_kernels_available('cpu', torch.float32) else 'PyTorch ops'}"
    )
    if args.rounds > 1:
        _rounds(args)
        return
    factor = yardstick()
    if factor is not None:
        print(f"yardstick factor (median of 3): {factor}")
    rows = []
    for T in args.lengths:
        r = _timing(args, T)
        rows.append(r)
        print(
            f"update  B=16 T={T:5d}: {r['update_s']:.3f} s/update (world model {r['wm_s']:.3f} s,"
            f" actor-critic {r['update_s'] - r['wm_s']:.3f} s), {r['gflop']:.1f} GFLOP ="
            f" {r['gflop'] / r['update_s']:.0f} GFLOP/s, {memory} {r['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    if len(rows) > 1:
        base = rows[0]
        for r in rows[1:]:
            print(
                f"growth  T={base['T']} -> {r['T']}: x{r['update_s'] / base['update_s']:.2f} time "
                f"for x{r['T'] / base['T']:.0f} length"
            )
    if rows and rows[0]["T"] == 300 and factor is not None and args.device == "cpu":
        target = 0.8 * factor
        verdict = "meets" if rows[0]["update_s"] <= target else "misses"
        print(f"target at T=300: 0.8 s x factor {factor} = {target:.2f} s -> {verdict} it")
    if not args.skip_learn:
        r = _in_subprocess(_learn_fps, args.learn_steps, args.threads, not args.free_memory)
        print(
            f"learn   {r['env']}, cpu preset: {r['steps']} env steps, {r['updates']} updates in "
            f"{r['seconds']:.1f} s = {r['fps']:.0f} env frames/s, peak RSS {r['peak_rss_mb']:.0f} MB"
        )


def _timing(args: argparse.Namespace, T: int) -> dict:
    """The update timing at length ``T`` with the command line's settings, in a fresh process."""
    return _in_subprocess(
        _update_timing,
        T,
        args.repeats,
        args.threads,
        args.precision,
        not args.free_memory,
        args.device,
    )


def _rounds(args: argparse.Namespace) -> None:
    """Alternate the yardstick (median of 3) and the T = 300 update timing ``args.rounds`` times."""
    normalised = []
    for k in range(args.rounds):
        factor = yardstick()
        r = _timing(args, 300)
        if factor is None:
            print(f"round {k + 1}: {r['update_s']:.3f} s/update (no yardstick)", flush=True)
            continue
        normalised.append(r["update_s"] / factor)
        print(
            f"round {k + 1}: yardstick factor {factor}, T=300 {r['update_s']:.3f} s/update "
            f"(world model {r['wm_s']:.3f} s) = {normalised[-1]:.3f} s at factor 1.0",
            flush=True,
        )
    if normalised:
        median = statistics.median(normalised)
        verdict = "meets" if median <= 0.8 else "misses"
        print(
            f"T=300 at factor 1.0 over {len(normalised)} rounds: median {median:.3f} s "
            f"(range {min(normalised):.3f}-{max(normalised):.3f}) -> {verdict} the 0.8 s target"
        )


if __name__ == "__main__":
    main()
