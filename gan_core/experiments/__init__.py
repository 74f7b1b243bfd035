"""Experiments: several runs launched together to answer one question, tagged so
the dashboard can show them together again later. Three ship, each one click on
the Runs page and one command here (``python -m gan_core.experiments --help``):

**optimizers**: the Keras article's study (seeds/002; its code is
miranthajayatilake/GANwKeras, ``keras_gan.py``). The same MLP GAN (recipe ``gan``:
G = 3 x (Dense -> LeakyReLU 0.2 -> BatchNorm, Keras momentum 0.8) of 256/512/1024 from
z of 100 -> tanh, D = flatten -> Dense 512 -> Dense 256 -> sigmoid) trained three times
with the article's own settings, only the optimiser changing:

    SGD      lr 0.01,   momentum 0.5        SGD(lr=0.01, momentum=0.5)
    RMSProp  lr 0.0002, rho 0.9             RMSprop(lr=0.0002, rho=0.9)
    Adam     lr 0.0002, beta1 0.5, 0.999    Adam(lr=0.0002, beta_1=0.5, beta_2=0.999)

and, as in its ``train``: batches of 32; D learns from a real half-batch (16) and
then, in a separate step, from a fake half-batch (16) (``--d-update halves``); G
then learns from 32 fakes; 28 x 28 x 3 images; 5,000 steps (its "epochs" are
steps); a 5 x 5 sample grid every 200 steps; every step logged.

What differs, and is said wherever the comparison is shown (``ARTICLE_DIFFERENCES``):
its 5,000 CelebA faces are not available offline, so the default data are the 100
grey LFW faces that ship with scikit-image, given to the same 28 x 28 x 3 network
(the grey repeated in the three channels); ``photos`` (colour tiles) and
``mnist-5k`` are offered too. Keras's weight initialisation (Glorot), epsilons and
batch-norm epsilon differ from PyTorch's defaults, and its ``generator.predict``
made D's fakes with batch norm in inference mode, where this trainer uses the
batch's statistics.

How the article plots D's loss: its ``d_loss`` is ``0.5 * (d_loss_real +
d_loss_fake)``, the **mean** of the real and fake parts, and that is the curve its
figures label "Discriminator Loss - Real". The curve labelled "Discriminator Loss -
Fake" is ``d_loss[1]``, D's accuracy, not a loss. This workbench logs D's loss as
the sum (``loss_d``) and both parts; the comparison's figures plot the mean, as the
article does (``D_LOSS_AS_ARTICLE``).

**losses**: minimax vs non-saturating G loss (Goodfellow et al. 2014, section 3):
the same recipe, data, seed and settings, only ``--g-loss`` differing.

**wgans**: GAN vs WGAN vs WGAN-GP on ``ring-8``: each recipe with its own
defaults (WGANs take 5 critic steps per generator step), same data, seed, batch and
number of generator steps.

Every run of an experiment carries ``experiment.json`` (the run directory contract
allows extra files):

    {"id": ..., "kind": "optimizer-comparison", "label": ..., "variant": "sgd",
     "variant_label": "SGD, lr 0.01, momentum 0.5", "runs": [run ids, in order], "created": ...}

Launching goes through ``gan_core.jobs.launch_group``, which holds the server's
limits: runs longer than ``GAN_WORKBENCH_MAX_STEPS`` are refused, and all the runs
are reserved at once or none. With a free training slot per run they train side
by side (a worker each). With fewer free slots (the default limit is 2) they are
queued instead: one background worker trains them one after another, so the
comparison takes a single slot, and each run's wall-time curve
is measured with the same machine to itself. Runs waiting in the queue are "queued"
(and count as active) until the worker gets to them; a STOP on one of them makes
the worker skip it, and if the worker dies they show as "interrupted" and can be
resumed one by one.

``summarise`` turns finished runs into figures a person can compare (the end of the
curves, plotted as the article plots them, and how close the samples are to the
data), ``verdict`` into sentences, and ``comparison_figure`` into one picture.

    definitions.py  the comparisons, their variants and configs
    records.py      creating and launching a comparison's runs (through jobs); experiment.json
    analysis.py     the curves' ends, sample distances, mode coverage, the table and the verdict
    figure.py       one picture of curves and samples
    cli.py          python -m gan_core.experiments
"""

from ..jobs import free_slots, train_queue
from .analysis import (COLUMNS, TAIL, curve_summary, d_loss_as_article, mode_figures, nearest_ratios, sample_distances,
                       summarise, summary_table, verdict)
from .cli import main, report
from .definitions import (ARTICLE_DIFFERENCES, ARTICLE_IMAGE, ARTICLE_STEPS, BY_KIND, COMPARISONS, D_LOSS_AS_ARTICLE,
                          KIND_LOSSES, KIND_OPTIMIZERS, KIND_WGANS, OPTIMIZERS, Comparison, Variant, article_config,
                          base_config, comparison, comparison_configs, variant_configs)
from .figure import comparison_figure
from .records import (EXPERIMENT_FILE, create, experiments_of, launch_comparison, list_experiments, loss_comparison, optimizer_comparison,
                      read_experiment, wgan_comparison)

__all__ = [
    "COMPARISONS",
    "OPTIMIZERS",
    "ARTICLE_DIFFERENCES",
    "D_LOSS_AS_ARTICLE",
    "article_config",
    "base_config",
    "comparison",
    "comparison_configs",
    "variant_configs",
    "create",
    "launch_comparison",
    "optimizer_comparison",
    "loss_comparison",
    "wgan_comparison",
    "read_experiment",
    "list_experiments",
    "experiments_of",
    "free_slots",
    "train_queue",
    "nearest_ratios",
    "sample_distances",
    "mode_figures",
    "summarise",
    "summary_table",
    "verdict",
    "comparison_figure",
    "main",
]
