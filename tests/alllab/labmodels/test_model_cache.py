"""The worker's model cache and model choice: by sha256, bounded, strict, and always the run's own lab's model."""

from __future__ import annotations

import pytest
import torch
from django.core.files.base import ContentFile

from alllab.analysis.model_cache import ModelCache, model_cache
from alllab.analysis.models import AnalysisRun
from alllab.analysis.tasks import load_predictor_for_run
from alllab.labmodels.models import LabModel
from inference.models import CheckpointError, load_checkpoint, save_checkpoint
from inference.predict import DEFAULT_WEIGHTS
from tests.alllab.factories import SlideFactory


def _variant(path, k: int) -> str:
    """A copy of the shipped checkpoint with one bias nudged: other weights, another sha256."""
    ck = load_checkpoint(DEFAULT_WEIGHTS)
    with torch.no_grad():
        next(p for name, p in ck.model.named_parameters() if name.endswith("bias")).add_(0.01 * k)
    return save_checkpoint(
        path,
        ck.model,
        arch=ck.arch,
        config=ck.config,
        preprocessing=ck.preprocessing,
        class_names=ck.class_names,
        version=f"test.{k}",
        temperature=ck.temperature,
    )


def test_it_loads_each_model_once_and_keeps_at_most_its_size(tmp_path):
    paths = {k: tmp_path / f"m{k}.pt" for k in range(3)}
    shas = {k: _variant(paths[k], k + 1) for k in paths}
    cache = ModelCache(size=2)
    first = cache.get(path=paths[0], sha256=shas[0])
    assert cache.get(path=paths[0], sha256=shas[0]) is first and cache.loads == 1
    cache.get(path=paths[1], sha256=shas[1])
    cache.get(path=paths[2], sha256=shas[2])
    assert cache.keys() == [shas[1], shas[2]] and cache.loads == 3  # the least recently used went out
    assert cache.get(path=paths[0], sha256=shas[0]) is not first and cache.loads == 4


def test_it_refuses_a_file_that_does_not_hash_to_the_registered_sha256(tmp_path):
    path = tmp_path / "m.pt"
    _variant(path, 1)
    cache = ModelCache(size=2)
    with pytest.raises(CheckpointError, match="the registry says"):
        cache.get(path=path, sha256="0" * 64)
    assert cache.keys() == []


@pytest.mark.django_db
def test_it_serves_each_lab_its_own_active_model(tmp_path, lab, other_lab):
    path = tmp_path / "a.pt"
    sha = _variant(path, 3)
    with open(path, "rb") as fh:
        model = LabModel(lab=lab, kind="adapted", status="active", name="hybrid_vgg", version="test.3", sha256=sha)
        model.checkpoint.save("a.pt", ContentFile(fh.read()), save=True)
    run_a = AnalysisRun.objects.create(slide=SlideFactory(case__lab=lab))
    run_b = AnalysisRun.objects.create(slide=SlideFactory(case__lab=other_lab))
    predictor_a, row_a = load_predictor_for_run(run_a.pk)
    predictor_b, row_b = load_predictor_for_run(run_b.pk)
    assert row_a == model and predictor_a.checkpoint.sha256 == sha and predictor_a.model_version == "test.3"
    assert row_b is None and predictor_b.checkpoint.sha256 == load_checkpoint(DEFAULT_WEIGHTS).sha256

    # A file swapped in storage behind the registry's back is refused, not used.
    with model.checkpoint.open("wb") as fh, open(DEFAULT_WEIGHTS, "rb") as shipped:
        fh.write(shipped.read())
    model_cache(4).clear()
    with pytest.raises(CheckpointError):
        load_predictor_for_run(run_a.pk)
