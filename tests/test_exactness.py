"""Issue #10, "what was found": exact resume and correct mixed precision on every
device, not only on the CPU. Each finding has a test that runs here; the ones that
need a CUDA GPU or Apple MPS skip cleanly here and run the real thing on such a
machine. (The lazy DataLoader finding is tested in test_training.py.)"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from conftest import straight_and_resumed, tiny
from gan_core import checkpoints, losses, runs, training
from gan_core.data import batch_stream, load_data
from gan_core.recipes import RECIPES, resolve
from gan_core.training import amp_dtype_for, cuda_amp_dtype, mixed_precision, resume, train

ROOT = Path(__file__).resolve().parent.parent
HAS_CUDA = torch.cuda.is_available()
HAS_MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def _weights(run_dir):
    return checkpoints.read(run_dir / "checkpoints" / "last.safetensors").tensors


def _straight_and_resumed(cfg, tmp_path):
    """The weights of an uninterrupted run and of one stopped after step 7 and resumed."""
    return tuple(_weights(d) for d in straight_and_resumed(cfg, tmp_path))


# --- Apple MPS random state -------------------------------------------------------


def test_checkpoint_rng_state_holds_and_restores_the_mps_generator(monkeypatch):
    """Noise on MPS comes from MPS's own generator: it is saved and restored with the CPU's."""
    mps_state = {"now": torch.tensor([1, 2, 3], dtype=torch.uint8)}
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: mps_state["now"].clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda s: mps_state.update(now=s.clone()))
    mps = torch.device("mps")

    saved = checkpoints.rng_state(mps)
    assert torch.equal(saved["rng_mps"], torch.tensor([1, 2, 3], dtype=torch.uint8)) and saved["rng_cuda"] is None
    mps_state["now"] = torch.tensor([9, 9, 9], dtype=torch.uint8)  # the generator moves on
    checkpoints.restore_rng(saved, mps)
    assert torch.equal(mps_state["now"], torch.tensor([1, 2, 3], dtype=torch.uint8))
    # A CPU run saves no MPS state, and restoring its checkpoint on MPS leaves MPS alone.
    assert checkpoints.rng_state(torch.device("cpu"))["rng_mps"] is None
    checkpoints.restore_rng(checkpoints.rng_state(torch.device("cpu")), mps)
    assert torch.equal(mps_state["now"], torch.tensor([1, 2, 3], dtype=torch.uint8))


@pytest.mark.skipif(not HAS_MPS, reason="needs Apple MPS")
def test_resume_on_mps_reaches_the_same_weights_as_an_uninterrupted_run(tmp_path):
    cfg = resolve(tiny("gan", "ring-8", steps=12, **{"train.device": "mps", "train.checkpoint_every": 4, "train.sample_every": 4}))
    a, b = _straight_and_resumed(cfg, tmp_path)
    for key in a:  # without the MPS state the resumed run replays step 0's noise: far apart
        assert torch.equal(a[key], b[key]), key


# --- bfloat16 only where the GPU computes it natively ------------------------------


@pytest.mark.parametrize("capability, native, dtype", [
    ((7, 0), True, torch.float16),   # V100: is_bf16_supported() says True, by emulation
    ((7, 5), True, torch.float16),   # T4
    ((6, 1), True, torch.float16),   # GTX 10xx
    ((8, 0), True, torch.bfloat16),  # A100
    ((8, 6), True, torch.bfloat16),  # RTX 30xx
    ((9, 0), True, torch.bfloat16),  # H100
    ((8, 0), False, torch.float16),  # the driver says no native bfloat16
])
def test_bfloat16_needs_compute_capability_8(capability, native, dtype):
    assert amp_dtype_for(capability, native) == dtype


def test_bfloat16_decision_asks_the_chosen_gpu_not_the_current_one(monkeypatch):
    """GPU 0 is current and has bfloat16; a run on cuda:1, a T4, must get float16."""
    caps = {0: (8, 0), 1: (7, 5)}
    current = {"index": 0}

    class device_ctx:
        def __init__(self, device):
            self.index = torch.device(device).index

        def __enter__(self):
            self.prev, current["index"] = current["index"], self.index

        def __exit__(self, *exc):
            current["index"] = self.prev

    def is_bf16_supported(including_emulation=True):
        return including_emulation or caps[current["index"]] >= (8, 0)  # emulation "works" everywhere

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: caps[torch.device(d).index])
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "device", device_ctx)
    assert cuda_amp_dtype(torch.device("cuda:1")) == torch.float16
    assert cuda_amp_dtype(torch.device("cuda:0")) == torch.bfloat16
    assert current["index"] == 0  # the current GPU is put back
    assert mixed_precision(torch.device("cuda:1"), True) == (torch.float16, True)  # float16 comes with loss scaling
    assert mixed_precision(torch.device("cuda:0"), True) == (torch.bfloat16, False)
    assert mixed_precision(torch.device("cuda:1"), False) == (None, False)
    assert mixed_precision(torch.device("cpu"), True) == (None, False)


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_bfloat16_decision_on_this_machines_gpus():
    for i in range(torch.cuda.device_count()):
        major, _ = torch.cuda.get_device_capability(i)
        expected = torch.bfloat16 if major >= 8 else torch.float16
        assert cuda_amp_dtype(torch.device(f"cuda:{i}")) == expected, torch.cuda.get_device_name(i)


# --- a scaler state that is empty (saved without loss scaling) ---------------------


def test_restore_scaler_skips_an_empty_or_absent_state_and_loads_a_real_one():
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**16)
    with pytest.raises(RuntimeError, match="empty"):
        scaler.load_state_dict({})  # what resuming used to do with a checkpoint saved without scaling
    for saved in ({}, None, {"scale": 8.0}):  # never saved, absent, incomplete
        assert checkpoints.restore_scaler(scaler, saved) is False
        assert scaler.get_scale() == 2.0**16
    assert checkpoints.restore_scaler(scaler, torch.amp.GradScaler("cpu", init_scale=1024.0).state_dict()) is True
    assert scaler.get_scale() == 1024.0
    off = torch.amp.GradScaler("cpu", enabled=False)
    assert checkpoints.restore_scaler(off, scaler.state_dict()) is False


def test_resume_with_float16_scaling_from_a_checkpoint_saved_without_it(tmp_path, monkeypatch):
    """Checkpointed on CPU (no scaler), resumed where float16 loss scaling is on:
    the scaler starts fresh, the run finishes, and its state is saved from then on."""
    cfg = resolve(tiny("dcgan", "faces-lfw", steps=6, **{"train.checkpoint_every": 3, "train.sample_every": 3}))
    run_dir = runs.create_run(cfg, tmp_path)
    calls = []
    assert train(cfg, run_dir, should_stop=lambda: len(calls) >= 3, on_progress=lambda *a: calls.append(a))["step"] == 3
    assert checkpoints.load_state(run_dir / "checkpoints")["scaler_g"] == {}

    # The trainer's scaling path, on the CPU: GradScaler("cpu") with float32 losses.
    monkeypatch.setattr(training, "mixed_precision", lambda device, amp: (None, True))
    assert resume(run_dir)["state"] == "finished"
    state = checkpoints.load_state(run_dir / "checkpoints")
    assert state["step"] == 6 and set(checkpoints.SCALER_KEYS) <= set(state["scaler_g"])


# --- the Wasserstein estimate in float32 -------------------------------------------


@pytest.mark.parametrize("recipe, data, extra", [("wgan", "ring-8", {}), ("wgan-gp", "ring-8", {}),
                                                 ("cgan", "folder", {"loss.g_loss": "wasserstein"})])
def test_wasserstein_estimate_is_a_float32_mean_under_bfloat16_autocast(recipe, data, extra, tmp_path):
    if data == "folder":  # two classes to condition on
        from PIL import Image

        for cls, shade in (("cats", 30), ("dogs", 220)):
            (tmp_path / cls).mkdir()
            for i in range(4):
                Image.new("L", (20, 20), shade + i).save(tmp_path / cls / f"{i}.png")
        extra = {**extra, "data.path": str(tmp_path)}
    cfg = resolve(tiny(recipe, data, **extra))
    source = load_data(cfg.data)
    info = source.info()
    torch.manual_seed(0)
    G, D = RECIPES.get(recipe).build(cfg, info)
    objective = RECIPES.get(recipe).objective(cfg, info)
    batch = batch_stream(source, 8, 0, torch.device("cpu")).next()
    scores = []

    def offset(module, inputs, out):
        # A critic is free to drift by a constant (only differences count): scores near
        # 100, where bfloat16 steps by 0.5, and real ones half a step apart from item to
        # item, so their mean (about 100.25) falls between two bfloat16 numbers.
        spread = (0.5 * (torch.arange(len(out)) % 2)).to(out.dtype).reshape(-1, *[1] * (out.dim() - 1)) if not scores else 0.0
        out = out + 100.0 + spread
        scores.append(out.detach())
        return out

    D.register_forward_hook(offset)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, stats = objective.d_loss(G, D, batch)
    real, fake = scores[0], scores[1]
    assert real.dtype == torch.bfloat16  # the scores themselves are bfloat16 under autocast
    expected = real.float().mean() - fake.float().mean()
    assert stats["wasserstein"].dtype == torch.float32
    assert abs(float(stats["wasserstein"]) - float(expected)) <= 1e-5 * 100  # float32 resolution near 100
    assert float(stats["critic_real"]) == pytest.approx(float(real.float().mean()), abs=1e-4)
    # The bfloat16 difference it used to log is off by far more than float32 rounding.
    in_bf16 = -float(losses.critic_loss(real, fake))
    assert abs(in_bf16 - float(expected)) > 0.1


# --- a checkpoint never holds non-finite weights ----------------------------------


@pytest.mark.parametrize("how", ["at a checkpoint step", "at a stop"])
def test_non_finite_weight_after_an_update_is_never_checkpointed(how, tmp_path, monkeypatch):
    """Losses are computed before an update, so a weight the update itself makes NaN
    passes the loss check; the weights are checked before a checkpoint is written."""
    poison_at = 10 if how == "at a checkpoint step" else 7
    made = []

    def make_optimizer(cfg, params, lr):
        opt = real_make_optimizer(cfg, params, lr)
        if not made:  # the first is the generator's
            def poison(optimizer, args, kwargs):
                poison.steps += 1
                if poison.steps == poison_at:
                    with torch.no_grad():
                        optimizer.param_groups[0]["params"][0].view(-1)[0] = float("nan")
            poison.steps = 0
            opt.register_step_post_hook(poison)
        made.append(opt)
        return opt

    real_make_optimizer = training.make_optimizer
    monkeypatch.setattr(training, "make_optimizer", make_optimizer)
    cfg = resolve(tiny("gan", "ring-8", steps=20, **{"train.checkpoint_every": 5}))
    run_dir = runs.create_run(cfg, tmp_path)
    calls = []
    status = train(cfg, run_dir, should_stop=lambda: how == "at a stop" and len(calls) >= 7, on_progress=lambda *a: calls.append(a))

    assert status["state"] == "diverged", status
    assert f"generator.net.0.weight became non-finite by step {poison_at}" in status["error"]  # named, not a loss
    assert "last good checkpoint is from step 5" in status["error"]
    assert runs.read_status(run_dir)["state"] == "diverged"
    ckpt = checkpoints.read(run_dir / "checkpoints" / "last.safetensors")  # read() refuses non-finite weights
    assert ckpt.step == 5
    assert checkpoints.load_state(run_dir / "checkpoints")["step"] == 5


# --- --deterministic -----------------------------------------------------------------


def _switches():
    return (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
            torch.are_deterministic_algorithms_enabled(), os.environ.get("CUBLAS_WORKSPACE_CONFIG"))


def test_deterministic_sets_the_switches_for_the_run_and_puts_them_back(tmp_path):
    before = _switches()
    assert before[2] is False  # nothing else in the test process turned them on
    seen = []
    cfg = resolve(tiny("dcgan", "faces-lfw", steps=2, **{"train.deterministic": True}))
    assert train(cfg, runs.create_run(cfg, tmp_path / "on"), on_progress=lambda *a: seen.append(_switches()))["state"] == "finished"
    assert seen == [(True, False, True, ":4096:8")] * 2  # during every step
    assert _switches() == before  # process-wide state restored afterwards

    seen.clear()
    cfg = resolve(tiny("dcgan", "faces-lfw", steps=2))
    train(cfg, runs.create_run(cfg, tmp_path / "off"), on_progress=lambda *a: seen.append(_switches()))
    assert seen == [before] * 2  # off by default: nothing touched


def test_deterministic_is_a_command_line_flag_and_round_trips():
    from gan_core.cli import _build_parser, _config_from_args
    from gan_core.config import command_line

    parser, dests = _build_parser()
    cfg = _config_from_args(parser.parse_args(["train", "--deterministic"]), dests)
    assert cfg.train.deterministic is True
    assert "--deterministic" in command_line(cfg)
    assert "--deterministic" not in command_line(cfg.replace(**{"train.deterministic": False}))
    assert "bit-identical" in parser._subparsers._group_actions[0].choices["train"].format_help()


CUDA_RUNS = textwrap.dedent("""
    import sys, torch
    sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
    from conftest import straight_and_resumed, tiny
    from gan_core import checkpoints, runs
    from gan_core.recipes import resolve
    from gan_core.training import resume, train
    from pathlib import Path
    out = Path({out!r})
    cfg = resolve(tiny("dcgan", "faces-lfw", steps=12, **{{"train.device": "cuda", "train.deterministic": True,
                                                          "train.checkpoint_every": 4, "train.sample_every": 4}}))
    for name in ("a", "b"):
        assert train(cfg, runs.create_run(cfg, out / name))["state"] == "finished"
    calls = []
    broken = runs.create_run(cfg, out / "c")
    train(cfg, broken, should_stop=lambda: len(calls) >= 7, on_progress=lambda *a: calls.append(a))
    assert resume(broken)["state"] == "finished"
""")


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")
def test_deterministic_cuda_runs_repeat_and_resume_bit_for_bit(tmp_path):
    """In a fresh process, as the command line and the dashboard's workers run, so the
    cuBLAS setting comes before CUDA starts: two runs and a stopped-and-resumed one agree exactly."""
    script = CUDA_RUNS.format(root=str(ROOT), tests=str(ROOT / "tests"), out=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    a, b, c = (_weights(tmp_path / n) for n in "abc")
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key}: the same seed gave a different run"
        assert torch.equal(a[key], c[key]), f"{key}: the resumed run differs"
