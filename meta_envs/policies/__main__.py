"""``python -m meta_envs.policies [-n M] [--write | --shipped] [ids...]``: the reference returns.

Computes and prints, for every id and every argument set the shipped table covers (the defaults,
and Reacher-N with one goal), the mean meta-episode return of the random, explorer and oracle
policies with its standard error and the mean return of each sub-episode, over ``M`` meta-episodes
(default: the shipped table's count, 10,000 for the 2D envs and 1,000 for Reacher-N): minutes per
row. ``--shipped`` prints the table shipped with the package instead, at once; ``--write`` stores
what it computes in that table.
"""

from __future__ import annotations

import argparse
import sys

import meta_envs
from meta_envs.policies.reference import (
    format_row,
    shipped_arguments,
    shipped_meta_episodes,
    shipped_row,
    table_key,
    table_row,
    write_table,
)


def main(argv: list[str] | None = None) -> None:
    """Compute and print the reference returns of every id (or the ids given); ``--write`` stores
    them, ``--shipped`` prints the stored ones instead."""
    parser = argparse.ArgumentParser(prog="python -m meta_envs.policies", description=main.__doc__)
    parser.add_argument("env_ids", nargs="*", help="ids to compute (default: every registered id)")
    parser.add_argument(
        "-n",
        "--num-meta-episodes",
        type=int,
        default=None,
        help="meta-episodes per policy (default: the shipped table's count for each id)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="store the results in the shipped table")
    mode.add_argument(
        "--shipped",
        action="store_true",
        help="print the table shipped with the package instead of computing it",
    )
    args = parser.parse_args(argv)
    env_ids = args.env_ids or meta_envs.env_ids()
    if args.num_meta_episodes is not None and args.num_meta_episodes < 1:
        parser.error("--num-meta-episodes must be >= 1")
    if args.shipped:
        if args.num_meta_episodes is not None:
            parser.error("--shipped prints the stored table; -n applies to computing only")
        for env_id in env_ids:
            for env_kwargs in shipped_arguments(env_id):
                try:
                    row = shipped_row(env_id, **env_kwargs)
                except KeyError as err:
                    parser.error(str(err.args[0]))
                print(format_row(table_key(env_id, **env_kwargs), row))
        return
    for env_id in env_ids:
        count = args.num_meta_episodes or shipped_meta_episodes(env_id)
        print(
            f"computing {env_id} ({len(shipped_arguments(env_id))} argument set(s)): {count}"
            " meta-episodes per policy (minutes; --shipped prints the stored table at once)",
            file=sys.stderr,
            flush=True,
        )
        if args.write:
            write_table([env_id], args.num_meta_episodes)
            continue
        for env_kwargs in shipped_arguments(env_id):
            row = table_row(env_id, args.num_meta_episodes, **env_kwargs)
            print(format_row(table_key(env_id, **env_kwargs), row), flush=True)


if __name__ == "__main__":
    main()
