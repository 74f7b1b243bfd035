"""``python -m gan_core.experiments``: create a comparison's runs, train them here one
after another, then print the figures and the verdict and save one picture."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .. import jobs
from ..errors import GanError
from ..runs import read_config
from ..settings import load_settings
from .analysis import summarise, summary_table, verdict
from .definitions import COMPARISONS, base_config, comparison
from .figure import comparison_figure
from .records import create, read_experiment


def _run_one_after_another(run_dirs: list[Path]) -> list[str]:
    """Train the runs here, one after another, saying on the terminal which one is
    training (each run's own output goes to its train.log)."""
    states = []
    for i, run_dir in enumerate(run_dirs, 1):
        variant = (read_experiment(run_dir) or {}).get("variant_label", "")
        print(f"[{i}/{len(run_dirs)}] {variant}: training {run_dir} (progress in its train.log)", flush=True)
        t0 = time.time()
        (state,) = jobs.train_queue([run_dir])
        print(f"[{i}/{len(run_dirs)}] {variant}: {state} in {(time.time() - t0) / 60:.1f} min", flush=True)
        states.append(state)
    return states


def report(run_dirs: list[Path], figure: Path | None, title: str = "") -> str:
    """The summary table, the verdict's sentences and the figure, as printed by the
    command line."""
    ids = {(read_experiment(d) or {}).get("id") for d in run_dirs}
    if len(ids) == 1 and None not in ids:  # one experiment's runs: in the order it launched them, under its label
        order = (read_experiment(run_dirs[0]) or {}).get("runs") or []
        title = title or (read_experiment(run_dirs[0]) or {}).get("label", "")
        run_dirs = sorted(run_dirs, key=lambda d: order.index(d.name) if d.name in order else len(order))
    summary = summarise(run_dirs)
    lines = [summary_table(summary), ""] + [f"- {w}" for w in verdict(summary)]
    if figure is not None:
        lines += ["", f"Figure: {comparison_figure(run_dirs, figure, title)}"]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gan_core.experiments",
        description="Comparisons in one command: create the runs, train them here one after another, then print "
                    "the figures and the verdict and save one picture of curves and samples.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join([*COMPARISONS, "summary"]) + "}")
    for c in COMPARISONS.values():
        p = sub.add_parser(c.command, help=c.question, description=c.title + ". " + c.question)
        p.add_argument("--data", default=c.data[0], choices=c.data, help=f"data set (default: {c.data[0]})")
        p.add_argument("--steps", type=int, default=c.steps, help=f"generator steps per run (default: {c.steps:,})")
        p.add_argument("--seed", type=int, default=0, help="the seed of every run (default: 0)")
        p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
        p.add_argument("--runs-dir", metavar="DIR", help="where the runs go (default: GAN_WORKBENCH_RUNS_DIR or ./runs)")
        p.add_argument("--figure", metavar="PNG", help="where the picture goes (default: <runs dir>/<experiment id>.png)")
    s = sub.add_parser("summary", help="figures, verdict and picture of runs already trained")
    s.add_argument("runs", nargs="+", metavar="RUN_DIR")
    s.add_argument("--figure", metavar="PNG", help="also save the picture of curves and samples here")
    return parser


def main(argv: list[str]) -> int:
    if argv[:1] == ["queue"]:  # the queue worker's former command line; gan_core.jobs trains queues now
        return jobs._main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "summary":
            for d in map(Path, args.runs):
                read_config(d)  # a path that is not a run directory is refused in one sentence
            print(report([Path(d) for d in args.runs], Path(args.figure) if args.figure else None))
            return 0
        c = comparison(args.command)
        runs_dir = Path(args.runs_dir).expanduser() if args.runs_dir else load_settings().runs_dir
        base = base_config(c.command, args.data, args.steps, args.seed).replace(**{"train.device": args.device})
        run_dirs = create(c.command, base, runs_dir)
        experiment = read_experiment(run_dirs[0])
        print(f"{experiment['label']}: {len(run_dirs)} runs in {runs_dir}", flush=True)
        for note in c.notes:
            print(f"  note: {note}")
        _run_one_after_another(run_dirs)
        figure = Path(args.figure) if args.figure else runs_dir / f"{experiment['id']}.png"
        print(report(run_dirs, figure, experiment["label"]))
    except GanError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
