"""The command line: ``python -m gan_core {train,sample,translate,evaluate,export,runs,info}``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from .config import DataKind
from .errors import GanError

EPILOG_TRAIN = """\
examples:
  python -m gan_core train                                  # DCGAN on 100 offline LFW faces
  python -m gan_core train --recipe gan --data mnist-5k --steps 3000
  python -m gan_core train --recipe wgan-gp --data ring-8 --steps 2000
  python -m gan_core train --data folder --data-path ~/photos.zip --image-size 64 --channels 3
  python -m gan_core train --resume runs/20261121-101500-dcgan-faces-lfw-1a2b

Flags override --config, which overrides the recipe's defaults. Unset fields take
the recipe's defaults (see 'python -m gan_core info'). Ctrl-C stops cleanly after
the current step and saves a checkpoint (exit code 130); --resume continues exactly
from there, with the run's own settings.
"""


class _Parser(argparse.ArgumentParser):
    """argparse, whose mistakes are one line (what was wrong, and where the help is), not
    the whole usage block; the subcommands' parsers are of this class too."""

    def error(self, message: str):
        self.exit(2, f"error: {message.rstrip('.')}; see '{self.prog} --help'.\n")


_METAVARS = {"data.path": "PATH", "data.attributes": "A,B,..."}  # else a field's name, or its choices


def _add_config_flags(p: argparse.ArgumentParser) -> dict[str, str]:
    """One flag per config field, generated from config.py so they never drift."""
    from .config import iter_fields, flag_name

    dests = {}
    groups = {}
    for dotted, f, tp in iter_fields():
        section = dotted.partition(".")[0] if "." in dotted else "run"
        group = groups.get(section) or groups.setdefault(section, p.add_argument_group(f"{section} settings"))
        flag = flag_name(dotted, f)
        dest = "cfg__" + dotted.replace(".", "__")
        dests[dest] = dotted
        base = tp if tp in (int, float, str, bool) else next(a for a in tp.__args__ if a is not type(None))
        default = f.default
        shown = "recipe's choice" if default is None else default
        help_text = f"{f.metadata.get('help', '')} (default: {shown})"
        if base is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            choices = f.metadata.get("choices")
            metavar = _METAVARS.get(dotted) or (None if choices else f.name.upper() if base is not str else "NAME")
            group.add_argument(flag, dest=dest, type=base, default=None, metavar=metavar, choices=choices, help=help_text)
    return dests


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, str]]:
    parser = _Parser(
        prog="python -m gan_core",
        description="GAN Workbench engine: train GANs, sample from checkpoints, list runs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,sample,translate,evaluate,export,runs,info}", required=True)

    train = sub.add_parser("train", help="train a GAN (or continue a run with --resume)", epilog=EPILOG_TRAIN,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--config", metavar="FILE", help="JSON config (e.g. a run's config.json); flags override it")
    train.add_argument("--runs-dir", metavar="DIR", help=RUNS_DIR_HELP)
    train.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint, with its own config")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    train.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # started by jobs: keep a pending STOP
    dests = _add_config_flags(train)

    sample = sub.add_parser("sample", help="draw samples from a checkpoint into a PNG grid (or a .npy array)")
    sample.add_argument("checkpoint", help="a .safetensors checkpoint, e.g. runs/<id>/checkpoints/last.safetensors")
    sample.add_argument("--n", type=int, default=64, help="how many samples (default: 64)")
    sample.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same samples (default: 0)")
    sample.add_argument("--truncation", type=float, default=1.0, help="below 1 trades variety for quality (default: 1.0)")
    sample.add_argument("--out", default="samples.png",
                        help="output PNG grid, or a .npy file: the raw samples as an (N, C, H, W) float array in [-1, 1] "
                             "(points: (N, D)) for analysis elsewhere (default: samples.png)")
    sample.add_argument("--label", metavar="K", help="conditional models: the class to generate, by index or name")
    sample.add_argument("--attributes", metavar="A=1,B=0",
                        help="conditional models on attributes: which are on (1) or off (0), e.g. Smiling=1,Male=0; unnamed ones are off")

    translate = sub.add_parser("translate", help="translate images with a pix2pix checkpoint; each output keeps its input's name and size")
    translate.add_argument("checkpoint", help="a pix2pix .safetensors checkpoint")
    translate.add_argument("inputs", nargs="+", metavar="INPUT", help="image files (jpg, png, gif, webp, bmp, tiff)")
    translate.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (made if missing); never one of the inputs' own files")
    translate.add_argument("--scale", default="as-trained", metavar="as-trained|full|0.5|0.25|0.125",
                           help="the size each picture is translated at, as on the Pix2Pix page: as-trained makes it about as "
                                "large as the training pictures, full keeps it, a factor (any up to 4) scales it; outputs keep "
                                "the input's size (default: as-trained)")
    translate.add_argument("--no-derive", action="store_true",
                           help="models trained on derived pairs (train --pairs edges, ...): the inputs already are sources, "
                                "e.g. edge maps drawn by hand, instead of photos to derive them from")
    translate.add_argument("--enlarge", type=int, default=1, metavar="N",
                           help="super-resolution models (train --pairs sr4): enlarge each picture N times by bicubic, then "
                                "translate the enlargement, so the output is N times the input's width and height (N is the "
                                "model's own factor, 4 for sr4; default 1: no enlargement, the picture is shrunk N times and "
                                "restored, to compare with itself). An input already enlarged takes --no-derive instead")
    translate.add_argument("--strength", type=float, default=None, metavar="S",
                           help="Lab colourisers (train --pairs lab): how much of the model's colour to lay on the grey "
                                "picture, from 0 (the grey picture unchanged) to 1, as the Pix2Pix page's slider (default: "
                                "the strength the checkpoint carries, chosen on validation photographs)")
    translate.add_argument("--model-input", action="store_true",
                           help="also write NAME-input.png: what the model was given (for models trained on derived pairs, "
                                "the edge map, grey version, blurred or masked copy made from the picture)")
    translate.add_argument("--pairs", action="store_true",
                           help="the inputs are A|B pairs side by side: the half the model's direction names is translated, "
                                "the other half is written as NAME-target.png and the L1 error against it is reported")
    translate.add_argument("--realism-map", action="store_true",
                           help="also write NAME-realism.png: the discriminator's verdict laid over each output, green where "
                                "it looks real, red where fake (checkpoints saved with their discriminator)")

    export = sub.add_parser("export", help="write a run's generator alone to a small .safetensors file (for sharing or checkpoints/)")
    export.add_argument("source", help="a run directory or a .safetensors checkpoint")
    export.add_argument("--out", required=True, help="output .safetensors path (never the checkpoint it reads, nor inside a run's "
                                                      "checkpoints folder)")

    runs = sub.add_parser("runs", help="list runs with their state")
    runs.add_argument("--runs-dir", metavar="DIR", help=RUNS_DIR_HELP)

    evaluate = sub.add_parser("evaluate", help="score a generator: mode coverage of a 2-D point run (PacGAN's protocol), "
                                               "or a conditional one with an independent classifier (accuracy, Fréchet distance)")
    evaluate.add_argument("checkpoint", help="a .safetensors checkpoint of a run on ring-8, grid-25 or toy-1d, or of a cgan run")
    evaluate.add_argument("--n", type=int, default=None,
                          help="generated samples to score (default: 2500 for points, as in PacGAN; 1000 for cgan)")
    evaluate.add_argument("--seed", type=int, default=0, help="noise seed (default: 0)")
    evaluate.add_argument("--data-path", metavar="PATH",
                          help="where the training data is, if not where the checkpoint says (folders, zips, CelebA)")
    evaluate.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    sub.add_parser("info", help="list recipes, data sources and devices")
    return parser, dests


RUNS_DIR_HELP = "where run directories are (default: $GAN_WORKBENCH_RUNS_DIR, else ./runs)"


def _runs_dir(args) -> str:
    """--runs-dir, else GAN_WORKBENCH_RUNS_DIR (as the dashboard reads it), else ./runs."""
    return args.runs_dir or os.environ.get("GAN_WORKBENCH_RUNS_DIR") or "runs"


def _config_from_args(args, dests):
    from .config import Config

    cfg = Config.from_json_file(args.config) if args.config else Config()
    changes = {dotted: getattr(args, dest) for dest, dotted in dests.items() if getattr(args, dest) is not None}
    return cfg.replace(**changes) if changes else cfg


class _StopFlag:
    """First Ctrl-C (or SIGTERM) asks for a clean stop at the next step; a second Ctrl-C interrupts."""

    def __init__(self, quiet: bool = False):
        self.set, self.quiet, self.signal = False, quiet, None
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame):
        if self.set and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.set, self.signal = True, self.signal or signum
        if not self.quiet:
            print("\nStopping after this step (Ctrl-C again to interrupt now)...", file=sys.stderr, flush=True)

    def __call__(self) -> bool:
        return self.set


def _cmd_train(args, dests) -> int:
    """Train in this process, or, under torchrun, as one of its processes (distributed.py)."""
    from . import distributed

    ranks = distributed.setup(getattr(args, "cfg__train__device", None) or "auto")
    try:
        code = _train_as(ranks, args, dests)
    except BaseException:
        distributed.teardown()
        raise
    distributed.teardown(synchronise=True)
    return code


def _on_rank0(ranks, work):
    """``work()`` on rank 0 (the one that owns the run directory), its result on every
    rank; a refusal there is the same refusal everywhere, so no process is left waiting."""
    from . import distributed

    outcome = None
    if ranks.main:
        try:
            outcome = ("ok", work())
        except GanError as e:
            outcome = ("refused", e)
    kind, value = distributed.broadcast(outcome, ranks)
    if kind == "refused":
        raise value
    return value


def _check_data_path(name: str, path: str | None) -> None:
    """A --data-path given for a built-in set would be ignored: say so rather than train on other data."""
    from .data import list_sources

    if path is not None and any(s.name == name and s.builtin for s in list_sources()):
        raise GanError(f"--data {name} is built in and reads no --data-path; for your own images use --data folder "
                       "(or --data paired for pix2pix's pairs).")


# Flags that describe one kind of data only, and what a user of the other kind should drop.
_KIND_FLAGS = {"data.image_size": DataKind.IMAGE, "data.channels": DataKind.IMAGE, "data.n_points": DataKind.VECTOR}


def _check_kind_flags(name: str, args, dests) -> None:
    """A flag typed for the other kind of data (--image-size on points, --n-points on images)
    would be ignored: say so rather than train as if it applied."""
    from .data import SOURCES

    kind = SOURCES.get(name).kind
    for dest, dotted in dests.items():
        wanted = _KIND_FLAGS.get(dotted)
        if wanted is not None and wanted != kind and getattr(args, dest) is not None:
            what = "points (vectors)" if kind == DataKind.VECTOR else "images"
            applies = "images" if wanted == DataKind.IMAGE else "point sets"
            raise GanError(f"--{_flag_of(dotted)} applies to {applies} and --data {name} is {what}; leave it unset.")


def _flag_of(dotted: str) -> str:
    from .config import flag_name, iter_fields

    return next(flag_name(d, f) for d, f, _ in iter_fields() if d == dotted).lstrip("-")


def _resumable(run_dir: Path):
    """The config a run was trained with, or a one-sentence refusal: a run that has done all its steps."""
    from .recipes import as_trained
    from .runs import RunState, read_config, read_status

    cfg = as_trained(read_config(run_dir))
    status = read_status(run_dir)
    if status.get("state") == RunState.FINISHED:
        raise GanError(f"Run {run_dir.name} has finished all its {cfg.train.steps:,} steps; start a new run to train longer.")
    return cfg


def _train_as(ranks, args, dests) -> int:
    from . import distributed
    from .recipes import batch_multiple, resolve
    from .runs import RunState, create_run, discard_unstarted
    from .settings import load_settings
    from .training import choose_device, resume, train

    progress_bar = None
    say = print if ranks.main else (lambda *a, **k: None)  # one voice: rank 0's

    def on_progress(step, total, row):
        nonlocal progress_bar
        if not ranks.main:
            return
        if args.no_progress:
            if row is not None and (step % (row_every * 10) == 0 or step == total):
                print(f"step {step}/{total}  loss_d {row['loss_d']:.4f}  loss_g {row['loss_g']:.4f}  {row['images_per_s']:.0f} img/s", flush=True)
            return
        if progress_bar is None:
            from tqdm import tqdm

            progress_bar = tqdm(total=total, initial=step - 1, unit="step", dynamic_ncols=True)
        progress_bar.update(step - progress_bar.n)
        if row is not None:
            progress_bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}", img_s=f"{row['images_per_s']:.0f}", refresh=False)

    stop = _StopFlag(quiet=not ranks.main)
    if args.resume:
        run_dir = Path(args.resume)
        given = [dotted for dest, dotted in dests.items() if getattr(args, dest) is not None]
        if args.config or given or args.runs_dir:
            flag = "--config" if args.config else "--runs-dir" if args.runs_dir else "--" + _flag_of(given[0])
            raise GanError(f"--resume continues a run with its own settings, so {flag} cannot be given with it; "
                           "start a new run with the settings you want.")
        cfg = _on_rank0(ranks, lambda: _resumable(run_dir))
        row_every = cfg.train.log_every
        say(f"Resuming {run_dir}", flush=True)
        # A worker the dashboard started trains for at most the server's time at once
        # (GAN_WORKBENCH_MAX_RUN_MINUTES); a person's own command is not stopped for time.
        limit = _on_rank0(ranks, lambda: load_settings().max_run_s) if args.worker else None
        # A person resuming on purpose overrides an old Stop; a worker keeps one pressed while it was queued.
        status = train(cfg, run_dir, stop, on_progress, ranks=ranks, time_limit_s=limit, clear_stop=not args.worker)
    else:
        cfg = resolve(_config_from_args(args, dests))
        _check_data_path(cfg.data.name, getattr(args, "cfg__data__path", None))
        _check_kind_flags(cfg.data.name, args, dests)
        choose_device(cfg.train.device)  # refused before a run directory exists, as is a batch that does not split
        distributed.check_batch(ranks, cfg.train.batch_size, batch_multiple(cfg))
        row_every = cfg.train.log_every
        run_dir = Path(_on_rank0(ranks, lambda: str(create_run(cfg, _runs_dir(args)))))
        say(f"Run directory: {run_dir}", flush=True)
        try:
            status = train(cfg, run_dir, stop, on_progress, ranks=ranks)
        except GanError:
            if ranks.main and discard_unstarted(run_dir):  # refused before its first step (e.g. its data): leave nothing behind
                say(f"Removed {run_dir}: the run was refused before its first step.", flush=True)
            raise
    if progress_bar is not None:
        progress_bar.close()
    state = status.get("state")
    if state == RunState.FINISHED and status.get("message"):
        say(status["message"])
    if state == RunState.FINISHED:
        say(f"Finished {status.get('step')} steps. Samples: {run_dir / 'samples'}  Checkpoint: {run_dir / 'checkpoints' / 'last.safetensors'}")
        return 0
    if state == RunState.STOPPED:
        launcher = "torchrun --nproc_per_node " + str(ranks.world) + " -m gan_core" if ranks.active else "python -m gan_core"
        say(f"Stopped at step {status.get('step')}. Continue with: {launcher} train --resume {run_dir}")
        return 130 if stop.signal == signal.SIGINT else 0  # Ctrl-C: `train && export` must not go on with half a run
    if ranks.main:
        print(f"error: {status.get('error')}", file=sys.stderr)
    return 1


# At most this many samples per `sample` command, refused before the checkpoint is read:
# a count no grid or analysis needs (a 316 x 316 grid). What the samples may cost in
# memory is the engine's per-request budget (gan_core.budget), which inference's
# sample_tensor and sample_grid apply, generating in chunks that fit.
MAX_SAMPLES = 100_000


def _output_path(value: str) -> Path:
    """--out as given, refused in one sentence when it exists and is not a regular
    file: writing into a named pipe blocks until someone reads it, forever."""
    from .untrusted import shown_name

    out = Path(value)
    if out.exists() and not out.is_file():
        raise GanError(f"--out {shown_name(value, 80)} exists and is not a regular file (a folder, named pipe or device); "
                       "choose another path.")
    return out


def _write_output(out: Path, data: bytes) -> None:
    from .runs import atomic_write_bytes

    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # as translate and export make theirs
        atomic_write_bytes(out, data)  # whole or not at all
    except OSError as e:
        raise GanError(f"Cannot write {out} ({e.strerror}); choose another --out path.") from None


def _outside_runs(out: Path) -> None:
    """Refuse an output inside a run's checkpoints or samples folder, where the run keeps what
    resuming it needs and the grids its pages show."""
    from .untrusted import shown_name

    home = _resolved(out.parent)
    if home is not None and home.name in ("checkpoints", "samples") and (home.parent / "config.json").is_file():
        raise GanError(f"--out is inside run {shown_name(home.parent.name, 80)}'s {home.name} folder, where the run keeps "
                       f"{'what resuming it needs' if home.name == 'checkpoints' else 'the grids it made'}; "
                       "choose a path outside it.")


def _cmd_sample(args) -> int:
    import io

    import numpy as np

    from .inference import check_truncation, condition_vector, load_generator, sample_grid, sample_tensor
    from .pictures import png_bytes
    from .recipes import check_seed
    from .samples import points_png
    from .untrusted import shown_name

    if not 1 <= args.n <= MAX_SAMPLES:
        raise GanError(f"--n must be between 1 and {MAX_SAMPLES:,}, not {args.n:,}.")
    check_truncation(args.truncation)  # the engine's own range (inference.MIN_TRUNCATION to 1)
    check_seed(args.seed)  # the bound every seed has (recipes.MAX_SEED), before the checkpoint is read
    out = _output_path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise GanError(f"--out must end in .png (a grid of the samples) or .npy (the samples as an array), "
                       f"not {shown_name(out.suffix or out.name, 40)}; choose another name.")
    if out.exists() and _resolved(out) == _resolved(Path(args.checkpoint)):
        raise GanError("--out is the checkpoint itself, which the samples would overwrite; choose another path.")
    _outside_runs(out)
    gen = load_generator(args.checkpoint)
    if gen.config.recipe == "pix2pix":
        raise GanError(f"{gen.path.name} is a pix2pix model, which translates images rather than sampling noise; "
                       f"use python -m gan_core translate {args.checkpoint} IMAGE... --out DIR.")
    cond = None
    if args.label is not None or args.attributes is not None:
        cond = condition_vector(gen, label=args.label, attributes=args.attributes)
    if out.suffix.lower() == ".npy":
        buf = io.BytesIO()
        np.save(buf, sample_tensor(gen, args.n, args.seed, args.truncation, cond).float().numpy())
        data = buf.getvalue()
    elif gen.kind == DataKind.IMAGE:
        data = png_bytes(sample_grid(gen, args.n, args.seed, args.truncation, cond=cond))
    else:
        points = sample_tensor(gen, args.n, args.seed, args.truncation).float().numpy()
        data = points_png(points, title=f"{gen.config.recipe}, step {gen.step}")
    _write_output(out, data)
    what = f" of class {args.label}" if args.label is not None else f" with {args.attributes}" if args.attributes else ""
    print(f"Wrote {args.n} samples{what} from {gen.config.recipe} at step {gen.step} to {out}")
    return 0


def _cmd_evaluate(args) -> int:
    import dataclasses
    import json

    from .data import SOURCES
    from .inference import load_generator
    from .judge import MAX_N, MIN_N, evaluate
    from .recipes import check_seed
    from .settings import load_settings

    if args.n is not None and not MIN_N <= args.n <= MAX_N:
        raise GanError(f"--n must be between {MIN_N} and {MAX_N}, not {args.n}.")
    check_seed(args.seed)
    gen = load_generator(args.checkpoint)
    if gen.kind == DataKind.VECTOR:
        return _evaluate_points(gen, args)
    args.n = args.n or 1000
    data_cfg = dataclasses.replace(gen.config.data, download=False, limit=None, workers=0)
    if args.data_path:
        if SOURCES.get(gen.config.data.name).builtin:
            raise GanError(f"{gen.path.name} was trained on the built-in set {gen.config.data.name}, which the judge reads "
                           "itself; leave --data-path unset.")
        data_cfg = dataclasses.replace(data_cfg, path=args.data_path)
    result = evaluate(gen, data_cfg, n=args.n, seed=args.seed, cache_dir=load_settings().runs_dir / "judges")
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), "step": gen.step, **result.to_dict()}))
    else:
        print(f"{gen.config.recipe} on {gen.config.data.name}, step {gen.step}:")
        for line in result.lines():
            print("  " + line)
        for name, acc in result.per_condition.items():
            print(f"    {name:24} {acc:.1%}")
    if result.note and not args.json:  # the figures stand; only the judge's cache was not written
        print(f"note: {result.note}", file=sys.stderr)
    return 0


def _evaluate_points(gen, args) -> int:
    """Mode coverage (gan_core.modes) of a point generator, from seeded noise."""
    import json

    from .modes import N_SAMPLES, generator_coverage

    n = args.n or N_SAMPLES
    result = generator_coverage(gen, n, args.seed)
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), "step": gen.step, "recipe": gen.config.recipe,
                          "data": gen.config.data.name, "n": n, "seed": args.seed, **result.to_dict()}))
    else:
        print(f"{gen.config.recipe} on {gen.config.data.name}, step {gen.step}, {n} samples (seed {args.seed}):")
        print("  " + result.describe())
        print("  high-quality samples per mode: " + " ".join(map(str, result.counts)))
    return 0


def _encoded(image, name: str) -> bytes:
    """``image`` (uint8 H x W x C) in the format its file name implies; PNG if the name implies none."""
    import io

    from PIL import Image

    fmt = Image.registered_extensions().get(Path(name).suffix.lower(), "PNG")
    if fmt not in Image.SAVE:
        fmt = "PNG"
    buf = io.BytesIO()
    pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
    pil.save(buf, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    return buf.getvalue()


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: it is no input anyone can name
        return None


def _cmd_translate(args) -> int:
    """Each input independently through translate.translate_picture, as the Pix2Pix
    page translates an upload: a refused or unreadable file gets one ``error:`` line
    and nothing written; the others are translated. Exit 1 if any failed."""
    import warnings

    from PIL import Image

    from . import budget
    from .errors import DataError
    from .runs import atomic_write_bytes
    from .translate import check_enlarge, check_picture_size, load_translator, parse_scale, realism_overlay, require_discriminator, translate_picture
    from .untrusted import MAX_IMAGE_BYTES, read_image, shown_name

    # Pillow warns from 89 megapixels; read_image's own, lower limit then refuses the file in one line.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    scale = parse_scale(args.scale)
    budget.limit()  # a bad GAN_WORKBENCH_MEMORY_BUDGET is said once, here, not once for every picture
    tr = load_translator(args.checkpoint)
    tr.strength(args.strength)  # a strength the model has not, or out of 0 to 1: refused before any input is read
    if args.realism_map:
        require_discriminator(tr)  # refused before any input is read, not once per input
    if args.enlarge != 1:
        if args.pairs:
            raise GanError("--enlarge makes a picture larger and --pairs compares it with its target half at its own size; use one of them.")
        check_enlarge(tr, 1, 1, args.enlarge)  # the model's own factor, refused once; each picture's size below
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise GanError(f"--out {out_dir} is a file; give a folder for the outputs.")
    print(f"Translating with {tr.describe()}", flush=True)
    if tr.enlarge > 1 and args.enlarge == 1 and not args.no_derive:
        print(f"note: this model enlarges pictures {tr.enlarge}x. Without --enlarge each picture is shrunk {tr.enlarge}x and "
              f"restored to its own size, to compare with itself; add --enlarge {tr.enlarge} to make it {tr.enlarge}x larger.",
              flush=True)
    inputs = {r for r in map(_resolved, map(Path, args.inputs)) if r is not None}
    claimed: dict[str, str] = {}  # each file name written -> the input it was written for
    done = failed = 0
    for given in args.inputs:
        src = Path(given)
        shown = shown_name(given if len(given) <= 80 else "..." + given[-77:], 80)  # the end of a long path names the file
        stem = Path(src.name).stem
        extras = [what for what, wanted in (("input", args.model_input), ("target", args.pairs), ("realism", args.realism_map))
                  if wanted]
        names = [src.name] + [f"{stem}-{what}.png" for what in extras]
        try:
            for name in names:
                if name in claimed:
                    other = claimed[name]
                    if Path(other).name == src.name:
                        raise DataError(f"{shown} and {shown_name(other)} have the same file name, so both would be written "
                                        f"to {shown_name(out_dir / name)}; translate them into different --out folders.")
                    raise DataError(f"{shown_name(name)} would be written for both {shown} and {shown_name(other)}; "
                                    "translate them into different --out folders.")
            try:
                if src.is_dir():
                    raise DataError(f"{shown} is a folder; give the image files in it (for example {shown}/*.jpg).")
                if not src.is_file():  # never open a FIFO or device
                    raise DataError(f"{shown} does not exist or is not a file; check the path.")
                for name in names:
                    dest = out_dir / name
                    if dest.exists() and _resolved(dest) == _resolved(src):
                        raise DataError(f"{shown} would be overwritten by its own translation; choose another --out folder.")
                    if dest.exists() and _resolved(dest) in inputs:
                        raise DataError(f"Translating {shown} would overwrite {shown_name(name)}, which is one of the inputs; "
                                        "choose another --out folder.")
                with open(src, "rb") as f:
                    data = f.read(MAX_IMAGE_BYTES + 1)  # enough for read_image to refuse an oversized file
            except OSError as e:
                raise DataError(f"{shown} cannot be read ({e.strerror}); check its permissions.") from None
            options = dict(pair=args.pairs, scale=scale, derive=not args.no_derive, realism=args.realism_map,
                           enlarge=args.enlarge)
            image = read_image(data, src.name, before_decode=lambda w, h, c: check_picture_size(tr, w, h, c, name=shown, **options))
            del data
            result = translate_picture(tr, image, **options, name=shown, strength=args.strength)
            pictures = {"input": lambda: result.source, "target": lambda: result.target,
                        "realism": lambda: realism_overlay(result.realism, result.output)}
            files = [_encoded(result.output, src.name)] + [_encoded(pictures[what](), ".png") for what in extras]
            for name, encoded in zip(names, files):
                dest = out_dir / name
                try:
                    out_dir.mkdir(parents=True, exist_ok=True)
                    atomic_write_bytes(dest, encoded)  # whole or not at all
                except OSError as e:
                    raise DataError(f"Cannot write {shown_name(dest)} ({e.strerror}); choose another --out folder.") from None
        except GanError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            failed += 1
            continue
        claimed.update(dict.fromkeys(names, given))
        done += 1
        w, h = result.size
        notes = [f"{w} x {h}"]
        if result.work_size:
            notes.append("translated at {} x {}".format(*result.work_size))
        if result.mean_error is not None:
            notes.append(f"L1 error {result.mean_error:.3f} against {'the target half' if args.pairs else 'the picture'}")
        if result.mean_realism is not None:
            notes.append(f"realism {result.mean_realism:.2f}")
        beside = f" and {', '.join(shown_name(n) for n in names[1:])} beside it" if names[1:] else ""
        print(f"{shown} -> {shown_name(out_dir / names[0])}{beside} ({'; '.join(notes)})", flush=True)
    if failed:
        print(f"{failed} of {len(args.inputs)} image(s) failed; {done} translated into {out_dir}.", file=sys.stderr)
        return 1
    return 0


def _cmd_export(args) -> int:
    from .checkpoints import export_generator, read_header
    from .untrusted import shown_name

    src, out = Path(args.source), Path(args.out)
    if src.is_dir():
        run_dir, src = src, src / "checkpoints" / "last.safetensors"
        if (run_dir / "config.json").is_file() and not src.exists():
            raise GanError(f"Run {shown_name(run_dir.name, 80)} has no checkpoint yet (a run saves one as it trains and "
                           "when it stops); train it further, then export it.")
    if out.is_dir():
        raise GanError(f"--out {shown_name(args.out, 80)} is a folder; give a file path ending in .safetensors.")
    if out.exists() and _resolved(out) == _resolved(src):
        raise GanError(f"--out is the checkpoint being exported, whose discriminator and optimiser state would be lost; "
                       "choose another path.")
    _outside_runs(out)
    size = export_generator(src, out)
    with_d = read_header(Path(args.out))[0].recipe == "pix2pix"  # its discriminator draws the realism map
    what = "generator and discriminator" if with_d else "generator"
    print(f"Wrote the {what} of {src} to {args.out} ({size / 1e6:.1f} MB)")
    return 0


def _cmd_runs(args) -> int:
    from .runs import RunState, list_runs

    from .untrusted import shown_name  # a run's files are text anyone with the folder could write: no escapes reach the terminal

    runs_dir = _runs_dir(args)
    if Path(runs_dir).exists() and not Path(runs_dir).is_dir():
        raise GanError(f"{shown_name(runs_dir, 80)} is a file, not a folder of runs; give --runs-dir the folder runs are in.")
    if not Path(runs_dir).exists() and args.runs_dir:  # a typo; ./runs or the variable's folder is made by the first run
        raise GanError(f"{shown_name(runs_dir, 80)} does not exist; give --runs-dir the folder runs are in.")
    runs = list_runs(runs_dir)
    if not runs:
        print(f"No runs under {shown_name(runs_dir, 80)}. Start one with: python -m gan_core train")
        return 0

    print(f"{'RUN':52} {'STATE':11} {'STEP':>13} {'RECIPE':8} {'DATA':12} STARTED")
    for r in runs:
        when = datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M")
        print(f"{shown_name(r.id, 52):52} {r.state:11} {f'{r.step}/{r.total}':>13} {shown_name(r.recipe, 24):8} "
              f"{shown_name(r.data, 40):12} {when}")
        if r.state == RunState.UNREADABLE or (r.active and r.error):
            print(f"    {shown_name(r.error, 300)}")
    return 0


def _cmd_info(args) -> int:
    from .data import list_sources
    from .recipes import describe
    from .training import available_devices

    print("Recipes (--recipe):")
    recipes = describe()
    wide = max(len(r["name"]) for r in recipes)  # minibatch-std is longer than the others
    for r in recipes:
        print(f"  {r['name']:{wide}} {r['description']}  [data: {', '.join(r['kinds'])}]")
    print("\nData sources (--data):")
    for s in list_sources():
        where = "built in, offline" if s.builtin else "needs --data-path"
        print(f"  {s.name:14} {s.description}  [{s.kind}; {where}]")
    print("\nDevices (--device):")
    for dev, label in available_devices():
        print(f"  {dev:10} {label}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser, dests = _build_parser()
    args = parser.parse_args(argv)
    commands = {"train": lambda: _cmd_train(args, dests), "sample": lambda: _cmd_sample(args), "translate": lambda: _cmd_translate(args),
                "evaluate": lambda: _cmd_evaluate(args), "export": lambda: _cmd_export(args), "runs": lambda: _cmd_runs(args)}
    try:
        code = commands.get(args.command, lambda: _cmd_info(args))()
        sys.stdout.flush()  # here, so a reader that went away (`runs | head`) is met below, not at exit
        return code
    except GanError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `runs | head`: the reader has what it wanted
        try:
            sys.stdout = open(os.devnull, "w")  # Python's own flush at exit must not complain of the closed pipe
        except OSError:
            pass
        return 0
    except OSError as e:  # a path the system refuses (a name too long, no permission) that no check above named
        from .untrusted import shown_name

        where = f" ({shown_name(str(e.filename), 80)})" if e.filename else ""
        print(f"error: {e.strerror or type(e).__name__}{where}; check the path and its permissions.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130

