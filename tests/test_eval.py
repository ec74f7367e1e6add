import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from nasiam.eval import extract_features, finetune, knn_accuracy, knn_predict, linear_probe, plot_curves


def test_knn_on_a_toy_problem_with_a_known_answer():
    bank = F.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]]), dim=1)
    labels = torch.tensor([0, 0, 1, 1, 2])
    queries = F.normalize(torch.tensor([[1.0, 0.05], [0.05, 1.0], [-1.0, 0.1]]), dim=1)
    assert knn_predict(bank, labels, queries, 3, k=1).tolist() == [0, 1, 2]
    # k=3: the two class-0 neighbours outvote one class-1 neighbour for the first query
    assert knn_predict(bank, labels, queries[:1], 3, k=3).tolist() == [0]
    assert knn_accuracy(bank, labels, queries, torch.tensor([0, 1, 1]), 3, k=1) == pytest.approx(200 / 3)


def test_knn_weights_votes_by_similarity():
    bank = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]]), dim=1)
    labels = torch.tensor([0, 1, 1])
    query = F.normalize(torch.tensor([[1.0, 0.3]]), dim=1)
    # one very similar class-0 neighbour beats two dissimilar class-1 ones at a low temperature
    assert knn_predict(bank, labels, query, 2, k=3, temperature=0.05).tolist() == [0]


def test_knn_ignores_unlabelled_bank_entries():
    bank = F.normalize(torch.eye(3), dim=1)
    assert knn_accuracy(bank, torch.tensor([0, -1, 1]), bank[[0, 2]], torch.tensor([0, 1]), 2, k=1) == 100.0


def test_linear_probe_learns_a_separable_toy_set():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 8, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    result = linear_probe(x[:300], y[:300], x[300:], y[300:], num_classes=2, epochs=100, lr=0.1)
    assert result.test_top1 > 95 and result.train_top1 > 95


def test_linear_probe_at_chance_on_random_labels():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(600, 4, generator=g), torch.randint(0, 2, (600,), generator=g)
    assert linear_probe(x[:300], y[:300], x[300:], y[300:], 2, epochs=40).test_top1 < 65


class _TinyBackbone(nn.Module):
    num_features = 16

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU())

    def forward(self, x):
        return self.net(x)


def test_finetune_trains_backbone_and_classifier():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 3, 2, 2, generator=g)
    y = (x.flatten(1).sum(1) > 0).long()
    train = DataLoader(TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
    test = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=64)
    backbone = _TinyBackbone()
    before = backbone.net[1].weight.clone()
    result = finetune(backbone, train, test, 2, epochs=15, lr=0.05)
    assert result.test_top1 > 85 and result.labelled_images == 192
    assert not torch.equal(before, backbone.net[1].weight)


def test_extract_features_restores_train_mode():
    backbone = _TinyBackbone().train()
    feats, labels = extract_features(backbone, [(torch.randn(4, 3, 2, 2), torch.arange(4))])
    assert backbone.training and feats.shape == (4, 16)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(4))


def test_curves_plot_is_a_png(tmp_path):
    path = plot_curves({"default": [(1, 50), (2, 60), (1, 52), (2, 63)], "searched": [(1, 55), (2, 66)]},
                       tmp_path / "c.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_knn_votes_on_the_features_device():
    """Features on a GPU are voted on there ("meta" stands in for it: no data, same device rules)."""
    bank, labels = torch.randn(10, 4, device="meta"), torch.zeros(10, dtype=torch.long, device="meta")
    assert knn_predict(bank, labels, torch.randn(3, 4, device="meta"), num_classes=2, k=5).device.type == "meta"
