"""`pulse config check FILE` and `pulse config init [FILE]`: a configuration before a run."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from streams.cli.render import console, fail
from streams.config_loader import default_config_path, load_config


def register(commands: Any) -> None:
    parser = commands.add_parser("config", help="check a configuration file, or start one")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        help="validate a config file and say what it sets up",
        description="Reads FILE as every command would; errors name the file, the line "
        "and the fix, and exit with 2.",
    )
    check.add_argument("file", type=Path)
    check.set_defaults(run=run_check)
    init = actions.add_parser(
        "init",
        help="write the shipped sample configuration to a file, to edit",
        description="Copies the sample every command uses by default (commented).",
    )
    init.add_argument("file", type=Path, nargs="?", default=Path("pulse.yaml"))
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(run=run_init)


def run_check(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        return fail(f"{args.file} does not exist", "start one with: pulse config init FILE")
    config = load_config(args.file)  # a ConfigError ends in one line naming file:line
    campaigns = [c.name for c in config.campaigns.campaigns]
    console.print(
        f"{args.file}: valid — {config.stream.partitions} partitions, "
        f"{len(config.segments)} rule segments, {len(campaigns)} campaigns"
        + (f" ({', '.join(campaigns)})" if campaigns else "")
        + f", churn horizon {config.models.churn.horizon_days} days"
    )
    return 0


def run_init(args: argparse.Namespace) -> int:
    if args.file.exists() and not args.force:
        return fail(f"{args.file} exists", "pick another name, or pass --force to overwrite it")
    args.file.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(default_config_path(), args.file)
    console.print(f"wrote {args.file}; check it with: pulse config check {args.file}")
    return 0
