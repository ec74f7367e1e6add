import math

import pytest
import torch
import torch.nn.functional as F

from nasiam.frameworks.losses import info_nce_batch, info_nce_queue, negative_cosine, nt_xent, simsiam_loss


def test_negative_cosine_hand_computed_and_stop_gradient():
    p = torch.tensor([[1.0, 0.0], [1.0, 1.0]], requires_grad=True)
    z = torch.tensor([[0.0, 2.0], [2.0, 2.0]], requires_grad=True)
    loss = negative_cosine(p, z)
    assert loss.item() == pytest.approx(-(0.0 + 1.0) / 2)
    loss.backward()
    assert z.grad is None and p.grad is not None  # stop-gradient on the target


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_negative_cosine_is_torchs_value_bit_for_bit_and_its_gradient_to_rounding(dtype):
    """The closed-form gradient (#35 item 2: 4 operators where autograd's chain took 15) against
    autograd's through F.cosine_similarity, the loss before it: the value equal bit for bit, the
    gradient to float rounding (a wrong sign, a missing projection or scale fails by O(1)),
    a zero row included (its norm clamped at eps in both)."""
    g = torch.Generator().manual_seed(0)
    p = torch.randn(64, 96, generator=g).to(dtype)
    z = torch.randn(64, 96, generator=g).to(dtype)
    p[3] = 0.0
    ours, theirs = p.clone().requires_grad_(True), p.clone().requires_grad_(True)
    loss = negative_cosine(ours, z)
    expected = -F.cosine_similarity(theirs, z, dim=-1).mean()
    assert torch.equal(loss, expected) and loss.dtype == dtype
    (loss * 3.0).backward()
    (expected * 3.0).backward()
    rows = torch.arange(64) != 3
    tolerance = {torch.float32: 1e-6, torch.float64: 1e-14, torch.bfloat16: 2e-2}[dtype]
    scale = float(theirs.grad[rows].abs().max())
    torch.testing.assert_close(ours.grad[rows], theirs.grad[rows], rtol=tolerance, atol=tolerance * scale)
    # a zero row: -z_unit / (eps * rows) from both (~1e6 here)
    torch.testing.assert_close(ours.grad[3], theirs.grad[3], rtol=tolerance, atol=0.0)


def test_negative_cosine_gradient_passes_gradcheck_and_a_second_differentiation_is_torchs():
    g = torch.Generator().manual_seed(1)
    p = torch.randn(5, 7, dtype=torch.double, generator=g, requires_grad=True)
    z = torch.randn(5, 7, dtype=torch.double, generator=g)
    assert torch.autograd.gradcheck(lambda x: negative_cosine(x, z), (p,))
    assert torch.autograd.gradgradcheck(lambda x: negative_cosine(x, z), (p,))
    (grad,) = torch.autograd.grad(negative_cosine(p, z), p, create_graph=True)
    (expected,) = torch.autograd.grad(-F.cosine_similarity(p, z, dim=-1).mean(), p, create_graph=True)
    torch.testing.assert_close(torch.autograd.grad(grad.pow(2).sum(), p)[0],
                               torch.autograd.grad(expected.pow(2).sum(), p)[0])
    # shapes that broadcast take torch's own path
    torch.testing.assert_close(negative_cosine(p, z[:1]), -F.cosine_similarity(p, z[:1], dim=-1).mean())


def test_simsiam_loss_is_symmetric_and_only_predictions_get_gradients():
    torch.manual_seed(0)
    p1, p2, z1, z2 = (torch.randn(4, 3, requires_grad=True) for _ in range(4))
    a = simsiam_loss(p1, p2, z1, z2)
    b = simsiam_loss(p2, p1, z2, z1)
    torch.testing.assert_close(a, b)
    expected = -0.5 * (F.cosine_similarity(p1, z2).mean() + F.cosine_similarity(p2, z1).mean())
    torch.testing.assert_close(a, expected)
    a.backward()
    assert z1.grad is None and z2.grad is None
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0


def test_nt_xent_matches_a_hand_computed_loss():
    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z2 = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    t = 0.5
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / t
    losses = []
    for i in range(4):
        positive = (i + 2) % 4
        denominator = sum(math.exp(sim[i, j]) for j in range(4) if j != i)
        losses.append(-math.log(math.exp(sim[i, positive]) / denominator))
    assert nt_xent(z1, z2, t).item() == pytest.approx(sum(losses) / 4, rel=1e-5)


def test_info_nce_queue_matches_a_hand_computed_loss():
    q = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0]]), dim=1)
    k = F.normalize(torch.tensor([[1.0, 0.2], [0.0, 1.0]]), dim=1)
    queue = F.normalize(torch.tensor([[0.0, 1.0], [-1.0, 0.0], [1.0, -1.0]]), dim=1)
    t = 0.2
    expected = 0.0
    for i in range(2):
        logits = [float(q[i] @ k[i]) / t] + [float(q[i] @ n) / t for n in queue]
        expected += -logits[0] + math.log(sum(math.exp(v) for v in logits))
    assert info_nce_queue(q, k, queue, t).item() == pytest.approx(expected / 2, rel=1e-5)


def test_info_nce_batch_matches_a_hand_computed_loss_with_2t_scaling():
    q = torch.tensor([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    k = torch.tensor([[1.0, 0.5], [1.0, 1.0], [-1.0, 1.0]])
    t = 0.5
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    expected = 0.0
    for i in range(3):
        logits = [float(qn[i] @ kn[j]) / t for j in range(3)]
        expected += -logits[i] + math.log(sum(math.exp(v) for v in logits))
    assert info_nce_batch(q, k, t).item() == pytest.approx(expected / 3 * 2 * t, rel=1e-5)
