"""Hardware plumbing on a CPU-only machine: the CUDA fallback warns once, AMP modes are checked
and fp16 scales its loss, the non-finite check is deferred, the learning rate scales with the
batch, and Ray places fractional GPU trials on a runtime with a declared (fake) GPU."""

from __future__ import annotations

import os
import time
import warnings

import pytest
import torch
from test_train import _bright_vs_dark
from test_train import _small_cnn as _cnn
from torch import nn

from scalesearch.errors import ScalesearchError
from scalesearch.settings.placement import Placement
from scalesearch.settings.recipe import TrainConfig
from scalesearch.training.trainer import ProxyTrainer, train_proxy
from scalesearch.util import hardware
from scalesearch.util.hardware import Precision, amp_dtype, resolve_device


def _small_cnn() -> nn.Module:
    torch.manual_seed(0)  # the same initial weights in every run
    return _cnn()


FAST = TrainConfig(epochs=2, batch_size=16, lr=1e-2, threads=1)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(hardware, "_warned_no_cuda", False)


def test_missing_cuda_falls_back_to_the_cpu_with_one_warning(no_cuda):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert resolve_device("cuda") == torch.device("cpu")
        assert resolve_device("cuda:1") == torch.device("cpu")
        trainer = ProxyTrainer(_small_cnn(), _bright_vs_dark(32, 0), _bright_vs_dark(16, 1),
                               TrainConfig(epochs=1, batch_size=16, device="cuda", threads=1))
        assert resolve_device("auto") == torch.device("cpu")
    assert [str(w.message) for w in caught] == [
        "device 'cuda' requested but CUDA is not available: training on the CPU"]
    assert trainer.device == torch.device("cpu") and trainer.train_epoch()


def test_a_cuda_index_beyond_the_visible_gpus_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ScalesearchError, match="1 CUDA device"):
        resolve_device("cuda:1")


@pytest.mark.parametrize("bad, message", [
    (dict(device="gpu"), "unknown device 'gpu'"), (dict(device="cuda:x"), "unknown device"),
    (dict(amp="fp32"), "unknown amp mode 'fp32'"), (dict(amp="on"), "unknown amp mode 'on'"),
    (dict(check_every=0), "check_every must be a whole number ≥ 1, got 0"),
    (dict(lr_batch=0), "lr_batch must be a whole number ≥ 1, got 0"),
    (dict(max_memory_gb=-1.0), "--max-memory-gb must be a finite number ≥ 0, got -1")])
def test_bad_hardware_config(bad, message):
    with pytest.raises(ScalesearchError, match=message):
        TrainConfig(**bad)


def test_amp_auto_is_bf16_on_capable_gpus_and_off_on_the_cpu(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert amp_dtype("auto", cpu) is None and amp_dtype("off", cuda) is None
    assert amp_dtype("bf16", cpu) == torch.bfloat16 and amp_dtype("fp16", cpu) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert amp_dtype("auto", cuda) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert amp_dtype("auto", cuda) is None


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_on_the_cpu(amp):
    model, computed = _small_cnn(), set()
    for m in model.modules():  # the dtype each conv/linear computed in: autocast ran
        if isinstance(m, nn.Conv2d | nn.Linear):
            m.register_forward_hook(lambda _m, _i, out: computed.add(out.dtype))
    trainer = ProxyTrainer(model, _bright_vs_dark(64, 0), _bright_vs_dark(32, 0),
                           TrainConfig(epochs=2, batch_size=16, lr=1e-2, threads=1, amp=amp))
    assert (trainer.precision.scaler is not None) == (amp == "fp16")
    assert isinstance(Precision(amp, torch.device("cpu")).scaler,
                      torch.amp.GradScaler if amp == "fp16" else type(None))
    while not trainer.done:
        assert trainer.train_epoch()
    result = trainer.result()
    assert result.status == "ok" and result.top1 > 60
    assert computed == {torch.bfloat16 if amp == "bf16" else torch.float16}
    if amp == "fp16":  # every step went through the scaler: its growth tracker counted them
        assert trainer.precision.scaler.state_dict()["_growth_tracker"] == trainer.step


def test_linear_lr_scaling_keeps_the_default_batch_unchanged():
    assert TrainConfig().peak_lr == TrainConfig().lr == 3e-3
    assert TrainConfig(batch_size=256).peak_lr == pytest.approx(8 * 3e-3)
    assert TrainConfig(batch_size=256, lr_batch=256).peak_lr == 3e-3
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.1, schedule="constant", warmup_epochs=0,
                      threads=1)
    trainer = ProxyTrainer(_small_cnn(), _bright_vs_dark(32, 0), _bright_vs_dark(16, 1), cfg)
    trainer.train_epoch()
    assert [g["lr"] for g in trainer.opt.param_groups] == pytest.approx([0.025, 0.025])


class _NanFrom(nn.Module):
    """Finite outputs for the first ``good`` calls, NaN after."""

    def __init__(self, good: int):
        super().__init__()
        self.fc, self.calls, self.good = nn.Linear(3, 2), 0, good

    def forward(self, x):
        self.calls += 1
        out = self.fc(x.float().mean((2, 3)))
        return out if self.calls <= self.good else out * float("nan")


def test_non_finite_loss_is_found_at_the_next_check_with_its_step_range():
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e-2, threads=1, check_every=3)
    result = train_proxy(_NanFrom(good=4), _bright_vs_dark(128, 0), _bright_vs_dark(16, 1), cfg)
    # 8 steps per epoch, checks after steps 3, 6, 8: the NaN at step 4 is seen after step 6
    assert result.status == "failed" and result.top1 is None
    assert result.error == "non-finite loss in steps 3–5" and result.steps == 6


def test_the_loop_reads_the_device_only_at_checks(monkeypatch):
    reads = []
    for name in ("item", "__bool__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, _o=original, _n=name:
                            reads.append(_n) or _o(self))
    # SGD: AdamW's own step counter is a host tensor read with .item(), not a device sync
    cfg = TrainConfig(epochs=1, batch_size=8, threads=1, check_every=3, optimizer="sgd")
    trainer = ProxyTrainer(_small_cnn(), _bright_vs_dark(64, 0), _bright_vs_dark(16, 1), cfg)
    assert trainer.train_epoch() and trainer.step == 8
    # the flag after steps 3, 6 and at the epoch end (8), then the epoch's training-loss sum
    # (train_loss): one read an epoch, after the device was already synced by the flag's
    assert reads == ["item"] * 4


def test_same_seed_same_result_with_channels_last_and_deferred_checks():
    runs = [train_proxy(_small_cnn(), _bright_vs_dark(64, 0), _bright_vs_dark(32, 0), FAST, seed=3)
            for _ in range(2)]
    assert runs[0].status == "ok" and (runs[0].top1, runs[0].loss) == (runs[1].top1,
                                                                        runs[1].loss)


@pytest.mark.slow
def test_compiled_model_trains_on_the_cpu():
    cfg = TrainConfig(epochs=1, batch_size=16, lr=1e-2, threads=1, compile=True)
    trainer = ProxyTrainer(_small_cnn(), _bright_vs_dark(32, 0), _bright_vs_dark(16, 1), cfg)
    assert trainer.net is not trainer.model
    assert trainer.train_epoch(), trainer.error  # said on failure: a non-finite loss's steps
    assert trainer.result().status == "ok"


def _fake_trial(config: dict, context) -> dict:
    """Stands in for the trainable: records when it ran and which GPU Ray gave it."""
    import ray

    start = time.time()
    time.sleep(2.0)
    cand = context.candidates[config["index"]]
    return {"score": 0.0, "rows": [dict(alpha=cand.alpha, beta=cand.beta, gamma=cand.gamma,
                                        seed=s, status="ok", top1=0.0, start=start,
                                        end=time.time(), gpus=ray.get_gpu_ids(),
                                        visible=os.environ.get("CUDA_VISIBLE_DEVICES"))
                                   for s in context.seeds]}


@pytest.mark.slow
@pytest.mark.own_ray  # fake GPUs: its own ray.init
def test_fractional_gpu_trials_share_a_declared_gpu(monkeypatch, tmp_path):
    import ray
    from ray import cloudpickle

    from scalesearch.coefsearch import runner
    from scalesearch.coefsearch.space import Candidate, Space
    from scalesearch.coefsearch.trials import TrialStore
    from scalesearch.settings.search import SearchConfig

    cloudpickle.register_pickle_by_value(__import__(__name__))
    monkeypatch.setattr(runner, "trial", _fake_trial)
    space = Space(tuple(Candidate(1.2 + i / 100, 1.1, 1.15, 2.0) for i in range(4)), 4, 0, 0)
    # "local": a fresh runtime even where /tmp/ray/ray_current_cluster names an earlier
    # cluster (ray.init(address=None) would join that one and refuse num_cpus/num_gpus)
    ray.init(address="local", num_cpus=4, num_gpus=1, include_dashboard=False,
             configure_logging=False)
    try:
        with pytest.raises(ScalesearchError, match="cluster's 1 GPU"):
            runner.run_trials(SearchConfig("efficientnet-b0",
                                                  placement=Placement(gpus_per_trial=2)), space,
                              TrialStore(tmp_path / "x.csv"), log=lambda m: None)
        store = TrialStore(tmp_path / "trials.csv")
        cfg = SearchConfig("efficientnet-b0", seeds=1,
                                  placement=Placement(gpus_per_trial=0.5, cpus_per_trial=1))
        assert runner.run_trials(cfg, space, store, log=lambda m: None) == 4
    finally:
        ray.shutdown()
    rows = store.rows
    assert len(rows) == 4 and all(r["gpus"] and r["visible"] == "0" for r in rows)
    events = sorted([(r["start"], 1) for r in rows] + [(r["end"], -1) for r in rows])
    running = [sum(e for _, e in events[:i + 1]) for i in range(len(events))]
    assert max(running) == 2  # 4 CPUs would allow 4; half a GPU each on 1 GPU allows 2


def test_hardware_flags_on_search_and_compare(cli, no_cuda):
    from scalesearch.cli.main import main

    for command in ("search", "compare"):
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
    code, out, _ = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                       "--no-train", "--device", "cpu", "--amp", "bf16", "--compile",
                       "--max-memory-gb", "2", "--format", "json")
    assert code == 0 and '"strategy"' in out
    code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--device", "gpu", "--no-train")
    assert code == 2 and err.strip().splitlines() == [
        "scalesearch compare: error: unknown device 'gpu'; one of auto, cpu, cuda, cuda:N"]
    code, _, err = cli("search", "--amp", "fp8")
    assert code == 2 and "--amp" in err
    code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--gpus-per-trial", "-1")
    assert code == 2 and "--gpus-per-trial must be a finite number ≥ 0, got -1" in err


def test_compare_gpus_per_trial_needs_a_gpu(cli, no_cuda, tmp_path):
    code, _, err = cli("compare", "--baseline", "mobilenet-v2", "--flops-ratio", "2",
                       "--gpus-per-trial", "0.5", "--out", tmp_path / "o")
    assert code == 2 and "needs a CUDA GPU" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_search_gpus_per_trial_must_be_whole_above_one():
    from scalesearch.settings.search import SearchConfig

    assert SearchConfig("efficientnet-b0",
                        placement=Placement(gpus_per_trial=0.25)).placement.gpus_per_trial == 0.25
    saved = SearchConfig("efficientnet-b0", placement=Placement(gpus_per_trial=2)).to_dict()
    # where it runs is not part of what a resume compares; what it computes is
    assert "gpus_per_trial" not in saved and "device" not in saved["setup"]["train"]
    assert saved["setup"]["train"]["amp"] == "auto"
    with pytest.raises(ScalesearchError, match="whole above 1"):
        SearchConfig("efficientnet-b0", placement=Placement(gpus_per_trial=1.5))


def test_search_compare_and_fidelity_accept_the_hardware_flags(cli, tmp_path):
    from scalesearch.cli.main import build_parser

    flags = ["--device", "cpu", "--amp", "off", "--compile", "--gpus-per-trial", "0.5"]
    for argv in (["search", *flags], ["compare", "--baseline", "resnet50", *flags],
                 ["fidelity", str(tmp_path), *flags]):
        args = build_parser().parse_args(argv)
        assert (args.device, args.amp, args.compile, args.gpus_per_trial) == ("cpu", "off",
                                                                                True, 0.5)
    code, _, err = cli("fidelity", tmp_path, "--device", "gpu")
    assert code == 2 and "unknown device 'gpu'" in err


def test_the_placements_hardware_is_what_each_training_runs_with():
    """One placement type: --device, --amp, --compile and --max-memory-gb land on Placement
    and on every training of the run (search, compare, and a fidelity check's reference run,
    which takes this run's placement); a training's own hardware is kept where the placement
    leaves the default."""
    from dataclasses import replace

    from scalesearch import options as opt
    from scalesearch.cli.main import build_parser
    from scalesearch.settings import Placement, ProxySetup, SearchConfig, TrainConfig

    flags = ["--device", "cpu", "--amp", "fp16", "--compile", "--max-memory-gb", "2"]
    cfg = opt.search_config(build_parser().parse_args(["search", *flags]))
    want = dict(device="cpu", amp="fp16", compile=True, max_memory_gb=2.0)
    assert cfg.placement.hardware() == want == cfg.setup.train.hardware()
    assert cfg.placement.trial_setup(cfg.setup).train.hardware() == want
    assert cfg.to_dict()["setup"]["train"]["amp"] == "fp16"  # AMP is recipe: it changes numbers
    cmp = opt.compare_config(build_parser().parse_args(
        ["compare", "--baseline", "resnet50", "--amp", "bf16"]))
    assert cmp.setup.train.amp == "bf16" and cmp.recipe()["setup"]["train"]["amp"] == "bf16"
    reference = replace(SearchConfig(), placement=Placement(device="cpu", amp="off"))
    assert (reference.setup.train.device, reference.setup.train.amp) == ("cpu", "off")
    own = ProxySetup(train=TrainConfig(device="cpu", amp="off"))
    assert Placement().on(own).train.hardware() == own.train.hardware()
    assert Placement(device="cuda:1").on(own).train.device == "cuda:1"
