import math

import pytest
import torch

from contrastlearn.losses import nt_xent


def reference_nt_xent(z1, z2, temperature):
    """Loop-by-loop NT-Xent in float64, written from the SimCLR paper's formula."""
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        positive = (i + n2 // 2) % n2
        denominator = sum(math.exp(float(z[i] @ z[k]) / temperature) for k in range(n2) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[positive]) / temperature) / denominator)
    return total / n2


def test_two_by_two_by_hand():
    # Anchor e0: positive sim 1, two negatives with sim 0 -> -log(e / (e + 2)), same for all four.
    z = torch.eye(2)
    assert nt_xent(z, z, temperature=1.0).item() == pytest.approx(math.log((math.e + 2) / math.e))


def test_two_by_two_with_temperature_by_hand():
    # Views of image 0 at 0 and 90 degrees, image 1 the same: sims are 0 (positive), 1 and 0.
    z1 = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    z2 = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    t = 0.5
    expected = -math.log(1 / (math.exp(1 / t) + 1 + 1))
    assert nt_xent(z1, z2, temperature=t).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_orthogonal_and_identical_embeddings_give_log_2n_minus_1(n):
    # All similarities equal (all 0, or all 1): the positive is one of 2N-1 equal terms.
    basis = torch.eye(2 * n)
    expected = math.log(2 * n - 1)
    assert nt_xent(basis[:n], basis[n:], 0.3).item() == pytest.approx(expected, rel=1e-6)
    same = torch.ones(n, 4)
    assert nt_xent(same, same, 0.3).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("n,d,t", [(4, 8, 0.1), (8, 16, 0.5), (16, 3, 1.0)])
def test_matches_loop_reference(n, d, t):
    g = torch.Generator().manual_seed(n * d)
    z1, z2 = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    assert nt_xent(z1, z2, t).item() == pytest.approx(reference_nt_xent(z1, z2, t), rel=1e-5)


def test_scale_invariant_and_aligned_views_score_lower():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(8, 16, generator=g)
    noisy = z + 0.1 * torch.randn(8, 16, generator=g)
    unrelated = torch.randn(8, 16, generator=g)
    assert nt_xent(z, noisy).item() == pytest.approx(nt_xent(10 * z, noisy).item(), rel=1e-5)
    assert nt_xent(z, noisy) < nt_xent(z, unrelated)


def test_gradient_flows_and_is_finite_at_low_temperature():
    z1 = torch.randn(6, 4, requires_grad=True)
    loss = nt_xent(z1, torch.randn(6, 4), temperature=0.01)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(torch.ones(3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.ones(3, 4), torch.ones(3, 4), temperature=0)
    with pytest.raises(TypeError, match="torch tensors"):
        nt_xent([[1.0]], [[1.0]])
