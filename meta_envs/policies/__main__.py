"""``python -m meta_envs.policies [-n M] [--write] [ids...]``: print (and store) the reference returns.

Prints, for every id, the mean meta-episode return of the random, explorer and oracle policies
with its standard error and the mean return of each sub-episode, over ``M`` meta-episodes
(default: the shipped table's count, 10,000 for the 2D envs and 1,000 for Reacher-N).
"""

from __future__ import annotations

import argparse

import meta_envs
from meta_envs.policies.reference import format_row, table_row, write_table


def main() -> None:
    """Print the reference returns of every id (or the ids given); ``--write`` stores them."""
    parser = argparse.ArgumentParser(prog="python -m meta_envs.policies", description=main.__doc__)
    parser.add_argument("env_ids", nargs="*", help="ids to compute (default: every registered id)")
    parser.add_argument(
        "-n",
        "--num-meta-episodes",
        type=int,
        default=None,
        help="meta-episodes per policy (default: the shipped table's count for each id)",
    )
    parser.add_argument(
        "--write", action="store_true", help="store the results in the shipped table"
    )
    args = parser.parse_args()
    env_ids = args.env_ids or meta_envs.env_ids()
    if args.num_meta_episodes is not None and args.num_meta_episodes < 1:
        parser.error("--num-meta-episodes must be >= 1")
    if args.write:
        write_table(env_ids, args.num_meta_episodes)
    else:
        for env_id in env_ids:
            print(format_row(env_id, table_row(env_id, args.num_meta_episodes)), flush=True)


if __name__ == "__main__":
    main()
