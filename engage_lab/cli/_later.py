"""``engage-lab replay`` and ``engage-lab compare``; ``lab`` and ``dashboard`` are not built.

``replay CONFIG --db DB`` prints a KPI table and the fidelity to the recorded chat events
with the first mismatching page views; ``--json`` prints only the JSON object on stdout
(progress goes to stderr); ``--out FILE.parquet`` writes the events with the fixed Arrow
schema. ``compare A B --db DB`` replays both and prints them side by side.
``--counterfactual`` is declared by the stable interface but not built: it says so and
exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.table import Table
from rich.text import Text

import engage_lab as el
from engage_lab.cli._args import open_existing, utf8_text
from engage_lab.cli._output import console, literal, say, visible
from engage_lab.compare import compare_results, comparison_to_dict
from engage_lab.config import load_any
from engage_lab.errors import EngageLabError, NotBuiltError
from engage_lab.events import write_events
from engage_lab.kpis import JSON_KPIS
from engage_lab.replay import ENGINES, ReplayResult, replay

#: Rows of the first-mismatches table printed by ``replay`` (the JSON holds more).
MISMATCH_ROWS = 30


def _not_built(args: argparse.Namespace) -> int:
    raise NotBuiltError("not built yet")


def _log(message: str) -> None:
    say(message, err=True)


def _open_existing(db: str) -> el.Lab:
    # replay and compare only read the database: a read-only file replays
    lab = open_existing(db, read_only=True)
    # DuckDB draws its progress bar on stdout when it is a terminal: it would break the
    # --json contract (stdout holds only the JSON object) and clutter the tables.
    lab.sql("SET enable_progress_bar = false")
    return lab


def _restrictions(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"sample": args.sample, "segment": args.segment}
    if (args.since is None) != (args.until is None):
        raise EngageLabError("--since and --until go together")
    if args.since is not None:
        out["time_range"] = (args.since, args.until)
    return out


def _run(lab: el.Lab, config: str, args: argparse.Namespace) -> ReplayResult:
    _log(f"replaying {visible(config)} with the {args.engine} engine ...")
    result = replay(lab, config, engine=args.engine, seed=args.seed, **_restrictions(args))
    _log(
        f"replayed {result.kpis['page_views']:,} page views in {result.elapsed_s:.2f} s"
        f" ({len(result.events):,} events)"
    )
    return result


def _format(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return visible(value)


def _print_replay(result: ReplayResult) -> None:
    out = console()
    table = Table(title=literal(f"replay of {result.config_label} ({result.engine} engine)"))
    table.add_column("kpi")
    table.add_column("value", justify="right")
    flat = result.kpi_table().set_index("kpi")["value"].to_dict()
    main = [k for k in flat if k.split(".")[0] in JSON_KPIS or k == "fidelity"]
    extras = [k for k in flat if k not in main and not k.startswith("refusals_by_hour.")]
    for name in main + extras:
        table.add_row(literal(name), _format(flat[name]))
    out.print(table)
    hours = result.kpis.get("refusals_by_hour", {})
    busy = {h: n for h, n in hours.items() if n}
    out.print(literal(f"refusals by hour ({result.timezone}): {busy if busy else 'none'}"))
    if result.comparison is None:
        out.print("fidelity: no recorded chat events in this database")
        return
    bad = len(result.comparison.mismatched)
    total = len(result.comparison.page_views)
    out.print(f"fidelity {result.fidelity:.4f}: {bad:,} of {total:,} page views differ")
    if bad and result.mismatches is not None:
        rows = result.mismatches.head(MISMATCH_ROWS)
        mismatch = Table(title="first mismatching page views (decision events, both sides, UTC)")
        for column in ("page_view_id", "side", "event_at", "event", "trigger_id", "item_id"):
            mismatch.add_column(column, no_wrap=True)
        mismatch.add_column("mode")
        mismatch.add_column("differs")
        for row in rows.itertuples(index=False):
            mismatch.add_row(
                _text(row.page_view_id),
                _text(row.side),
                _instant(row.event_at),
                _text(row.event),
                _text(row.trigger_id),
                _text(row.item_id),
                _text(row.mode),
                "yes" if row.differs else "",
            )
        out.print(mismatch)


def _instant(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _text(value: Any) -> Text:
    """A cell from the data: ids and labels are shown, never read as markup."""
    return literal("" if value is None or value != value else value)


def _replay(args: argparse.Namespace) -> int:
    if args.counterfactual:
        raise NotBuiltError("--counterfactual is not built yet (faithful replay only)")
    with _open_existing(args.db) as lab:
        result = _run(lab, args.config, args)
    if args.out:
        try:
            path = write_events(result.events, args.out)
        except OSError as exc:
            raise EngageLabError(f"cannot write {args.out}: {exc}") from exc
        _log(f"events written to {path}")
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    else:
        _print_replay(result)
    return 0


def _compare(args: argparse.Namespace) -> int:
    for config in (args.a, args.b):  # a bad B is said before A is replayed
        load_any(config)
    with _open_existing(args.db) as lab:
        a = _run(lab, args.a, args)
        b = _run(lab, args.b, args)
    table = compare_results(a, b)
    if args.json:
        sys.stdout.write(json.dumps(comparison_to_dict(table, a, b), indent=2) + "\n")
        return 0
    caption = f"A = {visible(a.config_label)}\nB = {visible(b.config_label)}\n({a.engine} engine)"
    view = Table(caption=Text(caption))
    view.add_column("kpi")
    for column in ("A", "B", "B − A", "relative"):
        view.add_column(column, justify="right")
    for name, row in table.iterrows():
        if name.startswith("refusals_by_hour."):
            continue
        rel = row["relative_difference"]
        view.add_row(
            literal(name),
            _format(row["a"]),
            _format(row["b"]),
            _format(row["difference"]),
            "—" if rel is None else f"{rel:+.1%}",
        )
    console().print(view)
    return 0


def _restriction_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", choices=list(ENGINES), default="fast")
    parser.add_argument(
        "--seed", type=utf8_text, help="seed of the gating draws (default: the history's)"
    )
    parser.add_argument(
        "--since", type=utf8_text, help="replay page views starting at or after this instant"
    )
    parser.add_argument(
        "--until", type=utf8_text, help="... and before this instant (with --since)"
    )
    parser.add_argument(
        "--sample", type=float, help="stable hash sample of visitors, a fraction in (0, 1]"
    )
    parser.add_argument(
        "--segment",
        type=utf8_text,
        metavar="JSON",
        help='condition on page / visitor attributes, e.g. \'{"page.device": "mobile"}\'',
    )
    parser.add_argument("--json", action="store_true", help="print only a JSON object")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``replay`` and ``compare`` (built) and ``lab`` / ``dashboard`` (not built)."""
    replay_cmd = commands.add_parser(
        "replay",
        help="replay a configuration over the recorded history",
        description="Replay CONFIG (a configuration or configuration history) over the "
        "history in --db; print KPIs and the fidelity to the recorded chat events.",
    )
    replay_cmd.add_argument("config", help="configuration or configuration-history JSON")
    replay_cmd.add_argument("--db", required=True)
    replay_cmd.add_argument("--counterfactual", action="store_true", help="(not built yet)")
    replay_cmd.add_argument(
        "--out", type=utf8_text, help="write the events to this Parquet file (a UTF-8 name)"
    )
    _restriction_options(replay_cmd)
    replay_cmd.set_defaults(func=_replay)

    compare = commands.add_parser(
        "compare",
        help="replay two configurations and compare their KPIs",
        description="Replay A and B over the same history; print the KPIs side by side.",
    )
    compare.add_argument("a")
    compare.add_argument("b")
    compare.add_argument("--db", required=True)
    _restriction_options(compare)
    compare.set_defaults(func=_compare)

    for name, text in (("lab", "JupyterLab on notebooks/"), ("dashboard", "Voila dashboard")):
        cmd = commands.add_parser(name, help=f"{text} (not built yet)")
        cmd.set_defaults(func=_not_built)
