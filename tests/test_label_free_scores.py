"""The label-free scores a run reports: RankMe of the backbone's features and how far each
search decision stands above uniform."""
import pytest
import torch

from nasiam.eval import rankme
from nasiam.search.decisions import decision_confidence, near_uniform


def test_rankme_by_hand():
    # singular values all equal -> p uniform over n -> exp(entropy) = n
    assert rankme(torch.eye(6)) == pytest.approx(6.0, rel=1e-5)
    # rank one -> 1 (up to the paper's epsilon)
    column = torch.randn(50, 1)
    assert rankme(column @ torch.randn(1, 8)) == pytest.approx(1.0, abs=1e-3)
    # singular values 3 and 1: p = (0.75, 0.25) -> exp(-(0.75 ln 0.75 + 0.25 ln 0.25))
    m = torch.diag(torch.tensor([3.0, 1.0]))
    assert rankme(m) == pytest.approx(torch.exp(-(0.75 * torch.log(torch.tensor(0.75)) +
                                                   0.25 * torch.log(torch.tensor(0.25)))).item(), rel=1e-4)
    x = torch.randn(200, 16)
    assert rankme(5 * x) == pytest.approx(rankme(x), rel=1e-6)   # scale-free
    with pytest.raises(ValueError, match="\\(N, D\\)"):
        rankme(torch.randn(5))


def test_decision_confidence_flags_near_uniform_choices():
    probabilities = {"projector": [{"width": {128: 0.26, 256: 0.25, 512: 0.25, 1024: 0.24},
                                    "activation": {"relu": 0.9, "gelu": 0.1}}]}
    rows = decision_confidence(probabilities)
    width = next(r for r in rows if r["choice"] == "width")
    act = next(r for r in rows if r["choice"] == "activation")
    assert width["option"] == 128 and width["uniform"] == 0.25 and width["normalized_entropy"] > 0.99
    assert act["option"] == "relu" and act["normalized_entropy"] < 0.5
    assert [r["choice"] for r in near_uniform(rows)] == ["width"]
