"""Another lab's small low-resolution fields (issue 13 item 5): each field gets a fair result, and the case decides.

224x224 phone-adapter patches with red cells about 12 px across and two white cells each: segmentation finds them,
no field-size rule refuses them (``too_few_cells`` is information, not a block), a field with a blast is suspicious,
and a case of many such fields reaches the 100 cells a negative needs by summing them.
"""

from inference.segment import find_cells
from inference.summary import NEGATIVE_MIN_CELLS, summarize, summarize_case

from .synthetic import make_smear


def _field(seed: int, p_first: float = 0.05):
    smear = make_smear(width=224, height=224, rbc_diameter=12, n_single=2, n_pairs=0, seed=seed)
    seg = find_cells(smear.rgb)
    assert len(seg.cells) == 2 and 10 <= seg.rbc_diameter_px <= 20  # cells found, scale estimated
    p = [p_first] + [0.05] * (len(seg.cells) - 1)  # probabilities stand in for the classifier's
    return summarize(p, seg.quality)


def test_it_gives_each_small_field_a_fair_result():
    clean, blast = _field(1), _field(2, p_first=0.97)
    assert (clean.n_cells, clean.call) == (2, "insufficient")  # nothing seen, too few for a negative on its own
    assert blast.call == "suspicious"  # a blast on a two-cell field is not hidden by its size


def test_it_sums_small_fields_into_a_cases_call():
    fields = [_field(seed) for seed in range(NEGATIVE_MIN_CELLS // 2)]  # 50 fields of 2 cells
    case = summarize_case(fields)
    assert (case.n_cells, case.call) == (NEGATIVE_MIN_CELLS, "negative")
    assert summarize_case(fields[:10]).call == "insufficient"  # 20 cells: the case is not there yet
    assert summarize_case([*fields, _field(99, p_first=0.97)]).call == "suspicious"
