"""The call vocabulary, the operating point read from the checkpoint, and the "unvalidated" call."""

import torch

from inference.domain import DomainResult
from inference.models import load_checkpoint, save_checkpoint
from inference.models.hybrid_vgg import hybrid_vgg
from inference.operating import LEGACY_OPERATING_POINT, OperatingPoint
from inference.summary import CALL_TEXT, call_label, summarize
from inference.types import CALLS, Quality

OUT = DomainResult(score=2.5, in_domain=False, reasons=("stain",))
IN = DomainResult(score=0.4, in_domain=True)


def test_it_names_and_explains_every_call_in_one_place():
    assert set(CALL_TEXT) == set(CALLS) and "unvalidated" in CALLS
    assert call_label("unvalidated") == "Unvalidated"
    assert all(label and len(text) > 20 for label, text in CALL_TEXT.values())


def test_it_never_calls_an_out_of_domain_smear_negative():
    s = summarize([0.01] * 20, Quality(focus=100.0, stain={}), domain=OUT)
    assert s.call == "unvalidated" and "out_of_domain" in s.flags and "domain_stain" in s.flags
    assert s.n_cells == 20 and s.n_blast == 0  # the numbers are still reported
    assert summarize([0.99] * 20, domain=OUT).call == "unvalidated"
    assert summarize([0.01] * 100, domain=IN).call == "negative"  # 100: the minimum for a negative
    assert summarize([0.01] * 20, flags=("out_of_domain",)).call == "unvalidated"  # a case passing the flag on
    blocked = Quality(focus=1.0, stain={}, flags=("out_of_focus",))
    assert summarize([0.01] * 20, blocked, domain=OUT).call == "insufficient"  # unreadable stays unreadable


def test_it_counts_blasts_at_the_operating_point():
    strict = OperatingPoint(cell_threshold=0.9, min_blasts=2)
    p = [0.95, 0.6, 0.6] + [0.1] * 100  # enough cells for a negative (inference.summary.NEGATIVE_MIN_CELLS)
    assert summarize(p, operating_point=strict).call == "negative"
    assert summarize(p, operating_point=OperatingPoint(cell_threshold=0.55, min_blasts=2)).call == "suspicious"
    assert summarize(p).n_blast == 3  # legacy: p >= 0.5, one blast


def test_it_reads_the_operating_point_from_the_checkpoint_and_converts_old_ones(tmp_path):
    model = hybrid_vgg(widths=(4, 8)).eval()
    op = OperatingPoint(cell_threshold=0.31, min_blasts=2, target_sensitivity=0.95, chosen_on="val")
    prep = {"input_size": 32, "mean": [0.5] * 3, "std": [0.25] * 3, "stain": None, "operating_point": op.to_dict()}
    kw = {"config": model.cfg.to_dict(), "class_names": ["normal", "blast"], "version": "t"}
    save_checkpoint(tmp_path / "new.pt", model, preprocessing=prep, **kw)
    assert load_checkpoint(tmp_path / "new.pt").preprocessing.operating_point == op
    # a format-1 checkpoint (preprocessing without an operating point) loads with the legacy one
    save_checkpoint(
        tmp_path / "old.pt", model, preprocessing={k: v for k, v in prep.items() if k != "operating_point"}, **kw
    )
    payload = torch.load(tmp_path / "old.pt", weights_only=True)
    payload["format"] = 1
    payload["preprocessing"].pop("operating_point")
    payload["preprocessing"].pop("domain")
    torch.save(payload, tmp_path / "old.pt")
    ck = load_checkpoint(tmp_path / "old.pt")
    assert ck.preprocessing.operating_point == LEGACY_OPERATING_POINT and ck.preprocessing.input_size == 32
