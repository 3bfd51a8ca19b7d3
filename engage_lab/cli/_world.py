"""``engage-lab generate``: write a realistic recorded world (JSON Lines) and its truth."""

from __future__ import annotations

import argparse
import json

from engage_lab.cli._output import say, visible
from engage_lab.world import generate_world


def _generate(args: argparse.Namespace) -> int:
    summary = generate_world(
        args.out,
        visitors=args.visitors,
        seed=args.seed,
        mode=args.mode,
        days=args.days,
        config=args.config,
        config_history=args.config_history,
        chat_recorder=args.recorder,
        progress=not args.no_progress,
    )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))  # escapes every control character
        return 0
    lines = [
        f"world written to {visible(summary.out)} (seed {summary.seed}, {summary.mode}, "
        f"{summary.days} days)",
        f"  visitors    {summary.visitors:>12,}",
        f"  visits      {summary.visits:>12,}",
        f"  page views  {summary.page_views:>12,}",
        f"  agents      {summary.agents:>12,}",
        "  records per file:",
        *(f"    {visible(name):<24}{rows:>12,}" for name, rows in summary.records.items()),
        f"  elapsed     {summary.elapsed_s:>12.2f} s",
        f"  page views/s{summary.page_views_per_s:>12,.0f}",
        f"  config      {visible(summary.config or '(default production configuration of the mode)')}",
    ]
    if summary.config_history:
        lines.append(f"  history     {visible(summary.config_history)}")
    lines.append(f"  NOTE: {summary.chat_events_note}" if not summary.chat_events_recorded else
                 "  chat events recorded")  # fmt: skip
    say("\n".join(lines))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``generate``."""
    generate = commands.add_parser(
        "generate",
        help="generate a realistic recorded world",
        description="Write a generated history as JSON Lines files at the top of --out "
        "and the hidden ground truth under --out/truth/. Same arguments, same bytes.",
    )
    generate.add_argument("--out", required=True, help="output folder")
    generate.add_argument("--visitors", type=int, required=True, help="number of visitors")
    generate.add_argument("--seed", type=int, required=True, help="seed (prefixes every id)")
    generate.add_argument("--mode", choices=["live_chat", "messaging"], default="live_chat")
    generate.add_argument("--days", type=int, default=28, help="span in days (default 28)")
    generate.add_argument(
        "--config",
        help="configuration the chat events are recorded with (default: the packaged "
        "production configuration of the mode)",
    )
    generate.add_argument(
        "--config-history", help="configuration history with an edit (recorded likewise)"
    )
    generate.add_argument(
        "--recorder",
        choices=["default", "reference"],
        default="default",
        help="who records the chat events: the compiled recording of the reference Chat "
        "Manager (default) or the Python reference itself (same bytes, much slower)",
    )
    generate.add_argument("--json", action="store_true", help="print the summary as JSON")
    generate.add_argument("--no-progress", action="store_true", help="no progress bar")
    generate.set_defaults(func=_generate)
