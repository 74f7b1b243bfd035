"""A comparison's runs on disk: created together through ``gan_core.jobs`` (which
holds the server's limits and slots) and tagged with ``experiment.json``:

    {"id": ..., "kind": "optimizer-comparison", "label": ..., "variant": "sgd",
     "variant_label": "SGD, lr 0.01, momentum 0.5", "runs": [run ids, in order], "created": ...}
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Iterable

from .. import jobs
from ..config import Config
from ..runs import RunInfo, atomic_write_json, create_run, list_runs, read_run_file
from .definitions import KIND_WGANS, Comparison, Variant, comparison, variant_configs

EXPERIMENT_FILE = "experiment.json"


def _experiment(c: Comparison, base: Config) -> dict:
    what = base.data.name if c.kind == KIND_WGANS else f"{base.recipe} on {base.data.name}"
    return {
        "id": f"{datetime.now():%Y%m%d-%H%M%S}-{c.command}-{secrets.token_hex(2)}",
        "kind": c.kind,
        "label": f"{c.short[0].upper() + c.short[1:]}: {what}, {base.train.steps} steps, seed {base.train.seed}",
        "created": time.time(),
    }


def _tagger(c: Comparison, configs: list[tuple[Variant, Config]]):
    experiment = _experiment(c, configs[0][1])

    def tag(run_dirs: list[Path]) -> None:
        ids = [d.name for d in run_dirs]
        for run_dir, (variant, _) in zip(run_dirs, configs):
            atomic_write_json(run_dir / EXPERIMENT_FILE,
                              {**experiment, "variant": variant.name, "variant_label": variant.label, "runs": ids})

    return tag


def create(name: str, base_cfg: Config, runs_dir: str | Path) -> list[Path]:
    """Create and tag the comparison's runs without starting them (state queued);
    ``jobs.train_queue`` trains them, as the command line does. Refused, like a launch,
    when its runs are longer than the server allows."""
    c = comparison(name)
    configs = variant_configs(name, base_cfg)
    jobs.check_steps([cfg for _, cfg in configs], c.short)
    run_dirs = [create_run(cfg, runs_dir) for _, cfg in configs]
    _tagger(c, configs)(run_dirs)
    return run_dirs


def launch_comparison(name: str, base_cfg: Config, runs_dir: str | Path, max_active: int | None = None,
                      owner: str | None = None) -> list[Path]:
    """Launch a comparison in the background and return its run directories, in the
    order of its variants: side by side when a slot is free for each, else queued in
    one worker (``jobs.launch_group``: all reserved at once or none). ``owner``: the demo
    visitor the runs belong to, recorded before any of them starts. Raises
    ``ConfigError`` for a bad base config and ``RunError`` when its runs are longer than
    the server allows or no training slot is free."""
    c = comparison(name)
    configs = variant_configs(name, base_cfg)
    return jobs.launch_group([cfg for _, cfg in configs], runs_dir, max_active, owner, what=c.short,
                             tag=_tagger(c, configs))


def optimizer_comparison(base_cfg: Config, runs_dir: str | Path, max_active: int | None = None,
                         owner: str | None = None) -> list[Path]:
    """The SGD / RMSProp / Adam comparison of ``base_cfg`` (``article_config()`` for the
    article's own settings); see ``launch_comparison``."""
    return launch_comparison("optimizers", base_cfg, runs_dir, max_active, owner)


def loss_comparison(base_cfg: Config, runs_dir: str | Path, max_active: int | None = None,
                    owner: str | None = None) -> list[Path]:
    """Non-saturating vs minimax G loss on ``base_cfg``; see ``launch_comparison``."""
    return launch_comparison("losses", base_cfg, runs_dir, max_active, owner)


def wgan_comparison(base_cfg: Config, runs_dir: str | Path, max_active: int | None = None,
                    owner: str | None = None) -> list[Path]:
    """GAN vs WGAN vs WGAN-GP on ``base_cfg``'s data; see ``launch_comparison``."""
    return launch_comparison("wgans", base_cfg, runs_dir, max_active, owner)


def read_experiment(run_dir: str | Path) -> dict | None:
    """The run's experiment.json, or None for a run that is not part of one."""
    raw = read_run_file(Path(run_dir) / EXPERIMENT_FILE)  # never a link followed, a pipe waited on, a huge file read
    try:
        data = json.loads(raw) if raw is not None else None
    except (ValueError, RecursionError):  # JSONDecodeError and bad UTF-8 are ValueErrors
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), str) else None


def list_experiments(runs_dir: str | Path) -> list[dict]:
    """Experiments with at least one run left, newest first: id, kind, label,
    created, ``runs`` (the run directories that still exist, in launch order) and
    ``runs_launched`` (the ids of every run it launched)."""
    return experiments_of(list_runs(runs_dir))


def experiments_of(runs: Iterable[RunInfo]) -> list[dict]:
    """``list_experiments`` over runs already listed (a page's visible runs): nothing is listed again."""
    found: dict[str, dict] = {}
    for info in runs:
        exp = read_experiment(info.path)
        if exp is None:
            continue
        launched = exp.get("runs") if isinstance(exp.get("runs"), list) else []
        entry = found.setdefault(exp["id"], {**exp, "runs_launched": launched, "runs": []})
        entry["runs"].append(info.path)
    for entry in found.values():
        order = entry.get("runs_launched") or []
        entry["runs"].sort(key=lambda p: order.index(p.name) if p.name in order else len(order))
        entry.pop("variant", None)
        entry.pop("variant_label", None)
    return sorted(found.values(), key=lambda e: e.get("created", 0), reverse=True)
