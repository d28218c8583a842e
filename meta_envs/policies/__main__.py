"""``python -m meta_envs.policies [--write] [ids...]``: print (and store) the reference returns."""

from __future__ import annotations

import argparse

import meta_envs
from meta_envs.policies.reference import compute_reference_returns, write_table


def main() -> None:
    """Print the reference returns of every id (or the ids given); ``--write`` stores them."""
    parser = argparse.ArgumentParser(prog="python -m meta_envs.policies", description=main.__doc__)
    parser.add_argument("env_ids", nargs="*", help="ids to compute (default: every registered id)")
    parser.add_argument(
        "--write", action="store_true", help="store the results in the shipped table"
    )
    args = parser.parse_args()
    env_ids = args.env_ids or meta_envs.env_ids()
    if args.write:
        write_table(env_ids)
    else:
        for env_id in env_ids:
            print(env_id, compute_reference_returns(env_id), flush=True)


if __name__ == "__main__":
    main()
