"""The Train form, declared once.

Each option of the dashboard's Train form is one ``FormField``: its session-state key,
the config field it sets, its label and how its first value is chosen. Its help
text and choices come from the config field's own metadata (the text of its
command-line flag) unless the form says otherwise. From this one table come the
keys the page remembers, the defaults it puts, the presets' filling, the config a
launch gets (with only what differs from the recipe's choice) and the limits that
one dashboard run may ask of a shared server. So an option the command line has
is one more line here; an "advanced" one needs nothing else anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .augment import SMALL_DATA
from .config import Config, DataConfig, base_type, flag_name, iter_fields
from .data import list_sources, load_data
from .errors import GanError
from .recipes import MAX_SEED, RECIPES, resolve

CONFIG_FIELDS = {dotted: (f, tp) for dotted, f, tp in iter_fields()}

# How a field's first value is chosen, and whether a launch sends it:
RECIPE = "recipe"  # the recipe's resolved choice, put again when the recipe changes; sent only when it differs,
#                    so the config (and its command line) keeps saying "the recipe's default"
ONCE = "once"      # the resolved config's value when first shown, then the user's; always sent
PLAIN = "plain"    # the config's own default when first shown, then the user's; always sent
WIDGET = "widget"  # the widget's first option, or what the page puts; always sent

# When a field applies, from the recipe's defaults and the kind of data ("image" or "vector").
ONLY: dict[str, Callable[[Config, str], bool]] = {
    "image": lambda cfg, kind: kind == "image",
    "points": lambda cfg, kind: kind == "vector",
    "standard-loss": lambda cfg, kind: not cfg.loss.wasserstein,
    "paired": lambda cfg, kind: RECIPES.get(cfg.recipe).paired,
}

BUILTIN, SERVER, UPLOAD = "Built-in data", "Folder or zip on the server", "Upload a .zip"
# What one dashboard run may ask of a shared server, where the engine accepts any
# positive number: a batch of millions is gigabytes, a k of millions a run that
# never ends, and a million points is already 50x the default.
MAX_BATCH, MAX_D_STEPS, MAX_POINTS = 4096, 50, 1_000_000  # MAX_SEED is the engine's (recipes.MAX_SEED)
MAX_EVERY = 1_000_000  # logging, sampling or checkpointing intervals: past any run's length
G_LOSS_HELP = ("non-saturating: G maximises log D(G(z)), as used in practice; "
               "minimax: G minimises log(1 − D(G(z))), the paper's objective, whose gradient vanishes early on.")


AUTOMATIC = "Automatic: adaptive on small data"
AUGMENT_ROW = 7  # the page says under it why augmentation is on (``augment_note``)


@dataclass(frozen=True)
class FormField:
    name: str  # its session-state key is "train_<name>"
    path: str | None  # the config field it sets; None: a choice the page (or ``labels``) turns into fields
    label: str
    section: str = "training"  # "training" and "advanced" are drawn from this table; the others by the page
    default: str = WIDGET  # RECIPE, ONCE, PLAIN or WIDGET (above)
    widget: str | None = None  # number, select, radio, text or toggle; None: from the config field's type and choices
    row: int = 0  # fields of a section with the same row share it, side by side
    width: float = 1.0  # their relative widths in the row
    help: str | Callable[[Config], str] | None = None  # None: the config field's own help (its command-line flag's);
    #                                                    "": none; a callable takes the recipe's defaults
    choices: tuple | Callable[[Config], tuple] | None = None  # None: the config field's own; a callable takes the recipe's defaults
    labels: dict | None = None  # shown option -> config value (a dict of {field: value} changes when ``path`` is None)
    step: float | None = None
    format: str | None = None
    bounds: tuple[int, int] | None = None  # refused outside them (``problem``), with ``bound_label`` in the sentence
    bound_label: str | None = None
    only: str | None = None  # a key of ONLY: the field applies only then

    @property
    def key(self) -> str:
        return f"train_{self.name}"

    def applies(self, defaults: Config, kind: str) -> bool:
        return self.only is None or ONLY[self.only](defaults, kind)

    def options(self, defaults: Config) -> tuple:
        if self.labels is not None:
            return tuple(self.labels)
        if callable(self.choices):
            return tuple(self.choices(defaults))
        if self.choices is not None:
            return self.choices
        return CONFIG_FIELDS[self.path][0].metadata.get("choices") or ()

    def kind_of_widget(self) -> str:
        if self.widget:
            return self.widget
        if self.labels or self.choices or (self.path and CONFIG_FIELDS[self.path][0].metadata.get("choices")):
            return "select"
        base = self.python_type()
        return {bool: "toggle", str: "text"}.get(base, "number")

    def python_type(self) -> type | None:
        return base_type(CONFIG_FIELDS[self.path][1]) if self.path else None

    def help_text(self, defaults: Config) -> str | None:
        if callable(self.help):
            return self.help(defaults)
        if self.help is not None or self.path is None:
            return self.help or None
        f = CONFIG_FIELDS[self.path][0]
        text = f.metadata.get("help", "")
        return f"{text[:1].upper()}{text[1:]} ({flag_name(self.path, f)})." if text else None

    def to_config(self, shown: Any) -> Any:
        """The widget's value as the config field's (a label's value, an int from a float box)."""
        value = self.labels[shown] if self.labels is not None else shown
        base = self.python_type()
        return base(value) if base in (int, float) and value is not None else value

    def to_widget(self, value: Any) -> Any:
        if self.labels is not None:
            return next(k for k, v in self.labels.items() if v == value)
        return value


FIELDS: tuple[FormField, ...] = (
    FormField("recipe", "recipe", "Recipe", section="recipe"),
    FormField("data_mode", None, "Data", section="data", choices=(BUILTIN, SERVER, UPLOAD)),
    FormField("data", "data.name", "Built-in data set", section="data"),
    FormField("server_source", "data.name", "Kind of data", section="data"),
    FormField("server_path", "data.path", "Path on the server", section="data",
              help="A folder or .zip under the data folder; relative paths start there."),
    FormField("image_size", "data.image_size", "Image size (pixels)", section="data", default=PLAIN, only="image",
              help="", choices=(16, 28, 32, 64, 128)),  # 28: MNIST's own size and the Keras article's (MLP recipes)
    FormField("channels", "data.channels", "Colour", section="data", default=PLAIN, only="image", widget="radio", help="",
              labels={"As in the data": None, "Grey": 1, "Colour": 3}),
    FormField("n_points", "data.n_points", "Points drawn from the distribution (n_points)", section="data", default=PLAIN,
              only="points", step=1000, help="", bounds=(1, MAX_POINTS), bound_label="Points drawn from the distribution"),
    FormField("attributes", "data.attributes", "Attributes to condition on", section="data",
              help="Comma-separated names from list_attr_celeba.txt (--attributes); empty: all of them."),
    FormField("pairs", "data.pairs", "Pairs", section="data"),
    FormField("direction", "data.direction", "Direction", section="data", widget="radio",
              help="Which half is the source the model learns to translate."),
    # No min or max on the number boxes: a browser refuses a number outside them without
    # telling the server, which then runs the previous value. ``problem`` judges them.
    FormField("steps", "train.steps", "Steps", default=ONCE, row=1, step=100, help="Generator updates to train for."),
    FormField("batch_size", "train.batch_size", "Batch size", default=ONCE, row=1, step=16, help="", bounds=(1, MAX_BATCH)),
    FormField("optimizer", "optim.optimizer", "Optimiser", default=RECIPE, row=2, help=""),
    FormField("d_steps", "loss.d_steps", "k (D steps per G step)", default=RECIPE, row=2, step=1, bounds=(1, MAX_D_STEPS),
              help="Goodfellow et al.'s k; WGANs train the critic 5 times per generator step."),
    FormField("lr_g", "optim.lr_g", "Learning rate G", default=RECIPE, row=3, step=1e-5, format="%.1e", help=""),
    FormField("lr_d", "optim.lr_d", "Learning rate D", default=RECIPE, row=3, step=1e-5, format="%.1e", help=""),
    FormField("g_loss", "loss.g_loss", "Generator loss", default=RECIPE, row=4, widget="radio", only="standard-loss",
              choices=("non-saturating", "minimax"), help=G_LOSS_HELP),
    FormField("arch", "model.arch", "Generator", default=RECIPE, row=5, widget="radio", only="paired",
              choices=lambda d: RECIPES.get(d.recipe).archs,
              help="unet: the encoder's features skip across to the decoder at every level (the paper's choice); "
                   "encoder-decoder: the same network without the skips, the paper's ablation."),
    # pix2pix: the paper's objective and its two ablations (Isola et al. 2017, Table 1).
    FormField("objective", None, "Objective", row=5, only="paired", widget="select",
              labels={"cGAN + L1 (the paper's)": {}, "L1 only": {"loss.gan_weight": 0.0}, "cGAN only": {"loss.l1_weight": 0.0}},
              help=lambda d: f"cGAN + L1: fool the discriminator and stay close to the target (λ = {d.loss.l1_weight:g}); "
                             "L1 only: blurry but safe; cGAN only: sharp but free to drift from the target."),
    FormField("device", "train.device", "Device", row=6, width=3, widget="select", help=""),  # choices: this server's devices
    FormField("seed", "train.seed", "Seed", default=ONCE, row=6, width=2, step=1, help="", bounds=(0, MAX_SEED)),
    FormField("augment", "train.augment", "Augmentation for D (small data)", default=PLAIN, row=AUGMENT_ROW, only="image",
              labels={AUTOMATIC: None, "Adaptive (StyleGAN2-ADA)": "ada", "DiffAugment, always on": "diff", "Off": "none"}),
    FormField("log_every", "train.log_every", "Metrics every (steps)", section="advanced", default=PLAIN, step=10, bounds=(1, MAX_EVERY)),
)
BY_KEY = {f.key: f for f in FIELDS}
FORM_KEYS = tuple(BY_KEY)  # what the page remembers while another page is shown
KEYS = SimpleNamespace(**{f.name: f.key for f in FIELDS})  # KEYS.steps == "train_steps": a typo fails, never a new key


def config_value(cfg: Config, path: str) -> Any:
    section, _, name = path.rpartition(".")
    return getattr(getattr(cfg, section) if section else cfg, name)


def signature(f: FormField, recipe: str) -> str:
    """What a field's put default depends on: when it changes, the default is put again."""
    return recipe if f.default == RECIPE else "config"


def defaults(resolved: Config, kind: str, section: str, max_steps: int | None = None, plain: bool = True) -> dict[str, Any]:
    """{key: widget value} that the fields of ``section`` start from, for the recipe's
    resolved config (PLAIN fields: the config's own defaults, unless ``plain`` is False);
    the steps are no more than this server allows."""
    out = {}
    for f in FIELDS:
        if f.section != section or f.default == WIDGET or not f.applies(resolved, kind):
            continue
        value = config_value(Config() if f.default == PLAIN and plain else resolved, f.path)
        if f.path == "train.steps" and max_steps:
            value = min(value, max_steps)
        out[f.key] = f.to_widget(value)
    return out


def augment_note(shown: str, data: dict) -> str | None:
    """What the augmentation field means for these data (the form's {data field: value}),
    for the line under it: why it is on, or when it will be."""
    mode = BY_KEY[KEYS.augment].to_config(shown)
    what = "D then sees every image, real and generated, transformed (colour, shifts, cut-out squares), so the exact training images are harder to memorise"
    if mode is None:
        if data.get("name") in {s.name for s in list_sources() if s.builtin}:
            return (f"Adaptive augmentation will be on: {data['name']} has fewer than {SMALL_DATA:,} images, few enough for D to "
                    f"memorise them. {what}; its strength p rises only while D memorises. Choose Off to train without it.")
        return (f"Adaptive augmentation turns on if these data hold at most {SMALL_DATA:,} images, few enough for D to memorise "
                "them; the run counts them when it starts and says so.")
    if mode == "ada":
        return f"{what}; its strength p starts at 0 and rises only while D memorises (r_t above 0.6)."
    if mode == "diff":
        return f"{what}, at full strength from the first step (DiffAugment)."
    return None


def sample_every_for(steps: int) -> int:
    """Dashboard runs save a sample grid every 25 steps, so the first one is on
    screen seconds after Start even on a CPU (DCGAN on faces: ~4-6 steps/s after a
    ~5 s process start); long runs sample 100 times in all rather than thousands."""
    return max(10, min(25, steps // 10)) if steps <= 2500 else steps // 100


def changes(values: dict[str, Any], recipe_defaults: Config, kind: str) -> dict[str, Any]:
    """{dotted field: value} for a launch from the drawn fields of the sections this
    table draws: a RECIPE field only where it differs from the recipe's choice (so it
    stays "the recipe's default"), the others always; plus what the dashboard derives."""
    out: dict[str, Any] = {}
    for f in FIELDS:
        if f.section not in ("training", "advanced") or f.key not in values or not f.applies(recipe_defaults, kind):
            continue
        value = f.to_config(values[f.key])
        if f.path is None:
            out.update(value)
        elif f.default != RECIPE or value != config_value(recipe_defaults, f.path):
            out[f.path] = value
    if "train.steps" in out:
        out["train.sample_every"] = sample_every_for(out["train.steps"])
    return out


def build_config(recipe: str, data: dict, changed: dict) -> Config:
    """The one config the page shows, checks and launches."""
    cfg = Config(recipe=recipe).replace(**{f"data.{k}": v for k, v in data.items()})
    return cfg.replace(**changed)


def preset_values(cfg: Config, max_steps: int | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """A preset's config as the form's values, as if chosen by hand: its recipe, built-in
    data and steps, and the recipe's choices for every other field that has a default,
    with {key: signature} saying these are the defaults the page would put."""
    resolved = resolve(cfg)
    kind = next(s.kind for s in list_sources() if s.name == resolved.data.name)
    values: dict[str, Any] = {KEYS.recipe: resolved.recipe, KEYS.data_mode: BUILTIN, KEYS.data: resolved.data.name}
    signatures = {}
    for section in ("data", "training", "advanced"):
        for key, value in defaults(resolved, kind, section, max_steps, plain=False).items():
            values[key] = value
            signatures[key] = signature(BY_KEY[key], resolved.recipe)
    return values, signatures


def labelled(source) -> bool:
    """Whether a data source carries the class labels or attributes a conditional recipe needs."""
    return bool({"labels", "attrs"} & set(source.tags))


def labelled_instead(recipe: str, data_name: str | None) -> str | None:
    """The built-in set to pick when a conditional ``recipe`` is chosen while ``data_name``,
    a built-in set without labels it could not train on, is selected: the first labelled
    image set. None: keep the choice (a labelled set, not built in, or an unconditional recipe)."""
    if not RECIPES.get(recipe).conditional:
        return None
    sources = {s.name: s for s in list_sources() if s.builtin}
    current = sources.get(data_name)
    if current is None or labelled(current):
        return None
    return next((n for n, s in sources.items() if labelled(s) and s.kind == "image"), None)


def recipe_defaults(recipe: str, data: dict) -> Config:
    """The recipe's settings for these data (the form's {data field: value}). For data
    it cannot train on (cgan on a set without labels), its settings on the first source
    it accepts, so the form still draws and ``problem`` says why the chosen data does not
    fit; the chosen data's GanError if no source will do."""
    size = data.get("image_size", DataConfig().image_size)
    first = None
    for name in [data["name"]] + [s.name for s in list_sources() if s.name != data["name"]]:
        try:
            return resolve(Config(recipe=recipe, data=DataConfig(name=name, image_size=size,
                                                                 pairs=data.get("pairs") if name == data["name"] else None)),
                           memory=False)  # the form draws whatever fits; ``problem`` says what does not
        except GanError as e:
            first = first or e
    raise first


def pairs_problem(name: str, path: str | None, channels: int | None, pairs: str) -> str | None:
    """Why pairs cannot be derived from these data (a grey set cannot give grey -> colour
    pairs), as the run would say it when it loads them, or None. Loading one item at the
    smallest size makes the data loader judge the data itself."""
    try:
        load_data(DataConfig(name=name, path=path, image_size=16, channels=channels, pairs=pairs, limit=1))
    except GanError as e:
        return str(e)
    return None


def in_form_words(sentence: str) -> str:
    """An engine sentence with each command-line flag of a field on the form replaced by the
    field's label ("--d-steps must be at least 1" -> "k (D steps per G step) must be at least
    1"): the engine judges the form as it judges the command line, and a visitor never saw
    the flags."""
    import re

    labels = {flag_name(f.path, CONFIG_FIELDS[f.path][0]): f.bound_label or f.label  # the number boxes: a sentence
              for f in FIELDS if f.path in CONFIG_FIELDS and f.labels is None  # about a choice quotes the flag's value
              and base_type(CONFIG_FIELDS[f.path][1]) in (int, float)}
    return re.sub(r"--[a-z0-9][a-z0-9-]*", lambda m: labels.get(m.group(0), m.group(0)), sentence)


def problem(cfg: Config, kind: str, settings, uploads_dir: str, check_pairs: Callable[..., str | None] = pairs_problem) -> str | None:
    """Why Start cannot run ``cfg``, in one sentence, or None. The engine judges the
    config as it judges the command line (recipes.resolve); the form adds what this
    server allows one run, whatever number the browser sends. ``check_pairs(name, path,
    channels, pairs)`` (``pairs_problem``, or the page's cached copy) says why pairs cannot
    be derived from built-in or uploaded data (a server folder may be huge: its run says it)."""
    try:
        resolved = resolve(cfg)
    except GanError as e:
        return in_form_words(str(e))
    d = resolved.data
    builtin = {s.name for s in list_sources() if s.builtin}
    uploaded = d.path is not None and Path(d.path).is_relative_to(Path(settings.runs_dir) / uploads_dir)
    if d.pairs is not None and (d.name in builtin or uploaded):
        found = check_pairs(d.name, d.path, d.channels, d.pairs)
        if found:
            return found
    t = resolved.train
    if settings.max_steps is not None and t.steps > settings.max_steps:
        return f"This server trains at most {settings.max_steps:,} steps per run, not {t.steps:,}; lower Steps."
    for f in sorted(FIELDS, key=lambda f: f.section == "data"):  # the training settings' sentences first, as drawn
        if f.bounds is None or not f.applies(resolved, kind):
            continue
        value, (low, high) = config_value(resolved, f.path), f.bounds
        if not low <= value <= high:
            return f"{f.bound_label or f.label} must be between {low:,} and {high:,}, not {value:,}."
    return None


__all__ = ["FormField", "FIELDS", "FORM_KEYS", "KEYS", "BY_KEY", "RECIPE", "ONCE", "PLAIN", "WIDGET", "BUILTIN", "SERVER",
           "UPLOAD", "defaults", "changes", "build_config", "preset_values", "problem", "sample_every_for", "signature", "labelled",
           "labelled_instead", "recipe_defaults", "pairs_problem", "augment_note", "AUGMENT_ROW", "AUTOMATIC"]
