import math

import pytest
import torch

from contrastlearn.losses import (
    barlow_twins_loss,
    byol_loss,
    convirt_loss,
    dino_loss,
    gloria_loss,
    ibot_patch_loss,
    info_nce,
    mae_loss,
    negative_cosine,
    nt_xent,
    sinkhorn,
    swav_loss,
    vicreg_loss,
    word_region_attention,
)
from contrastlearn.validation import InvalidParameterError


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
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'temperature' parameter of nt_xent must be a float > 0\. Got 0\.",
    ):
        nt_xent(torch.ones(3, 4), torch.ones(3, 4), temperature=0)
    with pytest.raises(TypeError, match="'z1' parameter of nt_xent must be a torch tensor"):
        nt_xent([[1.0]], [[1.0]])


@pytest.mark.parametrize(
    "call, parameter",
    [
        (lambda: dino_loss(torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), [0.0] * 4), "center"),
        (
            lambda: dino_loss(torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), torch.zeros(4), -0.1),
            "student_temperature",
        ),
        (lambda: negative_cosine(torch.zeros(2, 3), None), "z"),
        (
            lambda: ibot_patch_loss(
                torch.zeros(1, 2, 4),
                torch.zeros(1, 2, 4),
                torch.ones(1, 2, dtype=bool),
                torch.zeros(4),
                teacher_temperature=0,
            ),
            "teacher_temperature",
        ),
        (
            lambda: nt_xent(torch.ones(2, 2), torch.ones(2, 2), gather_distributed=1),
            "gather_distributed",
        ),
    ],
)
def test_every_loss_names_a_bad_argument(call, parameter):
    with pytest.raises(InvalidParameterError, match=f"The '{parameter}' parameter of "):
        call()


# ---------------------------------------------------------------- SimSiam


def test_negative_cosine_by_hand():
    assert negative_cosine(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])).item() == 0.0
    value = negative_cosine(torch.tensor([[1.0, 1.0], [2.0, 0.0]]), torch.tensor([[1.0, 0.0]] * 2))
    assert value.item() == pytest.approx(-(1 / math.sqrt(2) + 1) / 2)


def test_negative_cosine_stops_the_gradient_at_the_target():
    p = torch.randn(4, 3, requires_grad=True)
    z = torch.randn(4, 3, requires_grad=True)
    negative_cosine(p, z).backward()
    assert p.grad.abs().sum() > 0 and z.grad is None


# ---------------------------------------------------------------- DINO
def entropy(probabilities):
    return -sum(p * math.log(p) for p in probabilities)


def test_dino_loss_by_hand_skips_the_teachers_own_view():
    teacher = torch.tensor([[[0.0, math.log(3.0)]]])  # softmax -> (1/4, 3/4)
    student = torch.tensor([[[5.0, -5.0]], [[0.0, math.log(3.0)]]])  # crop 0 = teacher's view
    loss = dino_loss(
        student, teacher, torch.zeros(2), student_temperature=1.0, teacher_temperature=1.0
    )
    assert loss.item() == pytest.approx(entropy([0.25, 0.75]), rel=1e-6)
    student[0] = torch.tensor([[-9.0, 9.0]])  # the same view never counts
    assert dino_loss(student, teacher, torch.zeros(2), 1.0, 1.0).item() == pytest.approx(
        loss.item()
    )


def test_centering_and_sharpening_change_the_teacher_target():
    teacher = torch.tensor([[[0.0, math.log(3.0)]]])
    student = torch.tensor([[[0.0, 0.0]], [[0.0, math.log(3.0)]]])
    # centring by the teacher's own output makes its target uniform: H = -(ln(1/4) + ln(3/4)) / 2
    centred = dino_loss(student, teacher, torch.tensor([0.0, math.log(3.0)]), 1.0, 1.0)
    assert centred.item() == pytest.approx(-(math.log(0.25) + math.log(0.75)) / 2, rel=1e-6)
    # a colder teacher is near one-hot on prototype 1: H -> -ln(3/4)
    sharp = dino_loss(student, teacher, torch.zeros(2), 1.0, 0.01)
    assert sharp.item() == pytest.approx(-math.log(0.75), rel=1e-4)


def test_dino_loss_matches_a_loop_and_leaves_the_teacher_without_gradient():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(4, 3, 5, generator=g, requires_grad=True)
    teacher = torch.randn(2, 3, 5, generator=g, requires_grad=True)
    center = torch.randn(5, generator=g)
    expected, pairs = 0.0, 0
    for i in range(2):
        target = torch.softmax((teacher[i] - center) / 0.04, -1)
        for j in range(4):
            if i != j:
                expected += -(target * torch.log_softmax(student[j] / 0.1, -1)).sum(-1).mean()
                pairs += 1
    loss = dino_loss(student, teacher, center)
    assert loss.item() == pytest.approx((expected / pairs).item(), rel=1e-5)
    loss.backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None


def test_dino_loss_bad_shapes():
    with pytest.raises(ValueError, match="3-D"):
        dino_loss(torch.zeros(2, 5), torch.zeros(2, 5), torch.zeros(5))
    with pytest.raises(ValueError, match="center must have shape"):
        dino_loss(torch.zeros(2, 1, 5), torch.zeros(1, 1, 5), torch.zeros(4))


# ---------------------------------------------------------------- iBOT


def test_ibot_patch_loss_counts_masked_patches_only():
    teacher = torch.zeros(2, 3, 2)
    teacher[..., 1] = math.log(3.0)  # every teacher patch: softmax -> (1/4, 3/4)
    student = torch.zeros(2, 3, 2)  # uniform prediction: H = ln 2 per patch
    mask = torch.tensor([[True, False, False], [False, False, False]])
    loss = ibot_patch_loss(student, teacher, mask, torch.zeros(2), 1.0, 1.0)
    assert loss.item() == pytest.approx(math.log(2))
    student[0, 1:] = 50.0 * torch.tensor([1.0, -1.0])  # unmasked patches do not count
    student[1] = 50.0 * torch.tensor([1.0, -1.0])  # nor does an image without a mask
    assert ibot_patch_loss(
        student, teacher, mask, torch.zeros(2), 1.0, 1.0
    ).item() == pytest.approx(math.log(2))
    student[0, 0] = torch.tensor([0.0, math.log(3.0)])  # matching the teacher: its entropy
    assert ibot_patch_loss(
        student, teacher, mask, torch.zeros(2), 1.0, 1.0
    ).item() == pytest.approx(entropy([0.25, 0.75]), rel=1e-6)


def test_ibot_patch_loss_bad_mask():
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        ibot_patch_loss(
            torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.ones(1, 3), torch.zeros(2)
        )


# ---------------------------------------------------------------- Barlow Twins, VICReg
def _barlow_twins_by_loops(z1, z2, lam):
    """The paper's Algorithm 1 written as loops (affine-free BatchNorm, then C = z1n.T z2n / N)."""
    n, d = z1.shape

    def bn(z):
        mean = [sum(z[b][j] for b in range(n)) / n for j in range(d)]
        var = [sum((z[b][j] - mean[j]) ** 2 for b in range(n)) / n for j in range(d)]
        return [
            [(z[b][j] - mean[j]) / math.sqrt(var[j] + 1e-5) for j in range(d)] for b in range(n)
        ]

    a, b_ = bn(z1.tolist()), bn(z2.tolist())
    c = [[sum(a[b][i] * b_[b][j] for b in range(n)) / n for j in range(d)] for i in range(d)]
    on = sum((c[i][i] - 1) ** 2 for i in range(d))
    off = sum(c[i][j] ** 2 for i in range(d) for j in range(d) if i != j)
    return on + lam * off


def _vicreg_by_loops(z1, z2, sim=25.0, std=25.0, cov=1.0):
    n, d = z1.shape
    x, y = z1.tolist(), z2.tolist()
    invariance = sum((x[b][j] - y[b][j]) ** 2 for b in range(n) for j in range(d)) / (n * d)
    variance = covariance = 0.0
    for z in (x, y):
        mean = [sum(z[b][j] for b in range(n)) / n for j in range(d)]
        centred = [[z[b][j] - mean[j] for j in range(d)] for b in range(n)]
        c = [
            [sum(centred[b][i] * centred[b][j] for b in range(n)) / (n - 1) for j in range(d)]
            for i in range(d)
        ]
        variance += sum(max(0.0, 1 - math.sqrt(c[j][j] + 1e-4)) for j in range(d)) / d / 2
        covariance += sum(c[i][j] ** 2 for i in range(d) for j in range(d) if i != j) / d
    return sim * invariance + std * variance + cov * covariance


def test_barlow_twins_matches_the_papers_algorithm_written_as_loops():
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(7, 5, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(7, 5, generator=g, dtype=torch.float64)
    for lam in (0.0051, 1.0):
        assert barlow_twins_loss(z1, z2, lam).item() == pytest.approx(
            _barlow_twins_by_loops(z1, z2, lam), rel=1e-10
        )


def test_barlow_twins_is_zero_only_for_decorrelated_identical_views():
    # Two orthogonal +-1 codes: each dim standardised, C = identity.
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    assert barlow_twins_loss(z, z).item() == pytest.approx(0.0, abs=1e-4)
    assert barlow_twins_loss(z, z.flip(1)).item() > 1.0  # dims swapped: C is anti-diagonal


def test_vicreg_matches_the_authors_terms_written_as_loops():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(6, 4, generator=g, dtype=torch.float64) * 0.3
    z2 = z1 + 0.2 * torch.randn(6, 4, generator=g, dtype=torch.float64)
    assert vicreg_loss(z1, z2).item() == pytest.approx(_vicreg_by_loops(z1, z2), rel=1e-10)
    assert vicreg_loss(z1, z2, 1.0, 2.0, 3.0).item() == pytest.approx(
        _vicreg_by_loops(z1, z2, 1.0, 2.0, 3.0), rel=1e-10
    )


def test_vicreg_penalises_collapse_and_gradients_reach_both_views():
    collapsed = torch.zeros(8, 3)
    assert vicreg_loss(collapsed, collapsed).item() == pytest.approx(25 * 0.99, rel=1e-6)
    z1 = torch.randn(8, 3, requires_grad=True)
    z2 = torch.randn(8, 3, requires_grad=True)
    vicreg_loss(z1, z2).backward()
    assert z1.grad.abs().sum() > 0 and z2.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="at least 2 samples"):
        vicreg_loss(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(InvalidParameterError, match="'redundancy_weight' parameter of barlow"):
        barlow_twins_loss(z1, z2, redundancy_weight=-1)


# ---------------------------------------------------------------- BYOL, InfoNCE (MoCo, NNCLR)
def test_byol_loss_is_the_squared_distance_of_unit_vectors_with_a_stop_gradient():
    g = torch.Generator().manual_seed(2)
    p = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    z = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    by_hand = (
        sum(((p[i] / p[i].norm() - z[i] / z[i].norm()) ** 2).sum().item() for i in range(5)) / 5
    )
    loss = byol_loss(p, z)
    assert loss.item() == pytest.approx(by_hand, rel=1e-12)
    loss.backward()
    assert z.grad is None and p.grad.abs().sum() > 0


def _info_nce_by_loops(q, k, tau, queue=None):
    unit = lambda v: [x / math.sqrt(sum(c * c for c in v)) for x in v]  # noqa: E731
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    q, k = [unit(v) for v in q.tolist()], [unit(v) for v in k.tolist()]
    total = 0.0
    for i, qi in enumerate(q):
        negatives = [unit(v) for v in queue.tolist()] if queue is not None else k[:i] + k[i + 1 :]
        logits = [dot(qi, k[i]) / tau] + [dot(qi, n) / tau for n in negatives]
        total += -logits[0] + math.log(sum(math.exp(x) for x in logits))
    return total / len(q)


def test_info_nce_matches_the_formula_with_batch_keys_and_with_a_queue():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(6, 4, generator=g, dtype=torch.float64)
    k = q + 0.3 * torch.randn(6, 4, generator=g, dtype=torch.float64)
    queue = torch.randn(10, 4, generator=g, dtype=torch.float64)
    assert info_nce(q, k, 0.2).item() == pytest.approx(_info_nce_by_loops(q, k, 0.2), rel=1e-10)
    assert info_nce(q, k, 0.5, queue=queue).item() == pytest.approx(
        _info_nce_by_loops(q, k, 0.5, queue), rel=1e-10
    )
    with pytest.raises(ValueError, match="queue must be 2-D with 4 columns"):
        info_nce(q, k, queue=torch.zeros(3, 5, dtype=torch.float64))


# ---------------------------------------------------------------- SwAV
def _sinkhorn_as_the_authors_wrote_it(out, epsilon, iterations):
    q = torch.exp(out / epsilon).t()
    b, k = q.shape[1], q.shape[0]
    q /= torch.sum(q)
    for _ in range(iterations):
        q /= torch.sum(q, dim=1, keepdim=True)
        q /= k
        q /= torch.sum(q, dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()


def test_sinkhorn_matches_the_authors_code_and_balances_the_prototypes():
    g = torch.Generator().manual_seed(4)
    scores = torch.nn.functional.normalize(torch.randn(12, 5, generator=g, dtype=torch.float64))
    codes = sinkhorn(scores, 0.05, 3)
    torch.testing.assert_close(codes, _sinkhorn_as_the_authors_wrote_it(scores, 0.05, 3))
    torch.testing.assert_close(codes.sum(1), torch.ones(12, dtype=torch.float64))
    balanced = sinkhorn(scores, 0.05, 200).sum(0)
    torch.testing.assert_close(balanced, torch.full((5,), 12 / 5, dtype=torch.float64))


def test_swav_loss_is_each_global_codes_cross_entropy_with_every_other_crop():
    g = torch.Generator().manual_seed(5)
    scores = torch.randn(4, 6, 3, generator=g, dtype=torch.float64).tanh()
    by_hand = 0.0
    for i in range(2):
        codes = _sinkhorn_as_the_authors_wrote_it(scores[i], 0.05, 3)
        sub = 0.0
        for v in [c for c in range(4) if c != i]:
            log_p = torch.log_softmax(scores[v] / 0.1, dim=1)
            sub -= (codes * log_p).sum(1).mean().item()
        by_hand += sub / 3
    assert swav_loss(scores).item() == pytest.approx(by_hand / 2, rel=1e-10)
    with pytest.raises(ValueError, match="at least 2 crops"):
        swav_loss(scores[:1], n_global=1)


def test_mae_loss_averages_the_hidden_patches_squared_error_of_standardised_targets():
    g = torch.Generator().manual_seed(6)
    predictions = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    targets = torch.randn(2, 5, 4, generator=g, dtype=torch.float64) * 3 + 1
    mask = torch.tensor([[True, False, True, False, False], [False, True, True, True, False]])
    total, count = 0.0, 0
    for b in range(2):
        for j in range(5):
            if mask[b, j]:
                t = targets[b, j]
                t = (t - t.mean()) / math.sqrt(t.var().item() + 1e-6)  # MAE's norm_pix_loss
                total += ((predictions[b, j] - t) ** 2).mean().item()
                count += 1
    assert mae_loss(predictions, targets, mask).item() == pytest.approx(total / count, rel=1e-10)
    raw = ((predictions - targets) ** 2).mean(-1)[mask].mean().item()
    assert mae_loss(predictions, targets, mask, normalize_targets=False).item() == pytest.approx(
        raw, rel=1e-10
    )


def _cosine(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def _convirt_as_the_authors_wrote_it(image, paired, tau, lam):
    """vilmedic's ConVIRTLoss, pair by pair."""
    n, total = len(image), 0.0
    for i in range(n):
        nominator = math.exp(_cosine(paired[i], image[i]) / tau)
        to_images = sum(math.exp(_cosine(paired[i], image[k]) / tau) for k in range(n))
        to_paired = sum(math.exp(_cosine(image[i], paired[k]) / tau) for k in range(n))
        loss_v = -math.log(nominator / to_paired)
        loss_l = -math.log(nominator / to_images)
        total += lam * loss_v + (1 - lam) * loss_l
    return total / n


@pytest.mark.parametrize("tau, lam", [(0.1, 0.75), (0.5, 0.0), (1.0, 1.0)])
def test_convirt_loss_equals_the_authors_loss_pair_by_pair(tau, lam):
    g = torch.Generator().manual_seed(7)
    image = torch.randn(6, 5, generator=g, dtype=torch.float64)
    paired = torch.randn(6, 5, generator=g, dtype=torch.float64)
    expected = _convirt_as_the_authors_wrote_it(image, paired, tau, lam)
    assert convirt_loss(image, paired, tau, lam).item() == pytest.approx(expected, rel=1e-10)


def test_convirt_image_weight_weights_the_image_to_paired_direction():
    # two images both closest to the first text: only the image-to-text direction suffers
    image = torch.tensor([[1.0, 0.0], [1.0, 0.1]], dtype=torch.float64)
    paired = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    one_way = convirt_loss(image, paired, 1.0, image_weight=1.0).item()
    other_way = convirt_loss(image, paired, 1.0, image_weight=0.0).item()
    s = _cosine(image[1], paired[1])
    image_1 = -math.log(math.exp(s) / (math.exp(_cosine(image[1], paired[0])) + math.exp(s)))
    image_0 = -math.log(math.e / (math.e + 1.0))
    assert one_way == pytest.approx((image_0 + image_1) / 2, rel=1e-10)
    assert one_way != pytest.approx(other_way)
    mixed = convirt_loss(image, paired, 1.0, image_weight=0.75).item()
    assert mixed == pytest.approx(0.75 * one_way + 0.25 * other_way, rel=1e-10)


def _softmax(x):
    x = x - x.max()
    return x.exp() / x.exp().sum()


def _gloria_as_the_authors_wrote_it(image_global, regions, text_global, words, lengths, t1, t2, t3):
    """GLoRIA's global_loss and local_loss (attention_fn), caption by caption, image by image."""
    n = len(image_global)
    local = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        word = words[i, : lengths[i]]
        for b in range(n):
            scores = regions[b] @ word.T  # regions x words
            attention = torch.stack([_softmax(row) for row in scores])  # over the words
            attention = torch.stack([_softmax(t1 * row) for row in attention.T])  # regions
            context = attention @ regions[b]
            row_sim = [_cosine(word[w], context[w]) for w in range(lengths[i])]
            local[b, i] = math.log(sum(math.exp(t2 * s) for s in row_sim))
    glob = torch.tensor(
        [[_cosine(image_global[b], text_global[i]) for i in range(n)] for b in range(n)],
        dtype=torch.float64,
    )

    def cross_entropy(logits):
        return sum(-math.log(_softmax(logits[i])[i].item()) for i in range(n)) / n

    return (
        cross_entropy(t3 * local) + cross_entropy(t3 * local.T),
        cross_entropy(t3 * glob) + cross_entropy(t3 * glob.T),
    )


def test_gloria_loss_equals_the_authors_loss_with_captions_of_different_lengths():
    g = torch.Generator().manual_seed(8)
    image_global = torch.randn(4, 6, generator=g, dtype=torch.float64)
    regions = torch.randn(4, 9, 6, generator=g, dtype=torch.float64)
    text_global = torch.randn(4, 6, generator=g, dtype=torch.float64)
    words = torch.randn(4, 5, 6, generator=g, dtype=torch.float64)  # padding rows: noise
    lengths = [5, 2, 3, 1]
    mask = torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]
    local, glob = _gloria_as_the_authors_wrote_it(
        image_global, regions, text_global, words, lengths, 4.0, 5.0, 10.0
    )
    loss = gloria_loss(image_global, regions, text_global, words, mask)
    assert loss.item() == pytest.approx(local + glob, rel=1e-9)
    weighted = gloria_loss(
        image_global, regions, text_global, words, mask, local_weight=0.5, global_weight=2.0
    )
    assert weighted.item() == pytest.approx(0.5 * local + 2.0 * glob, rel=1e-9)
    other = _gloria_as_the_authors_wrote_it(
        image_global, regions, text_global, words, lengths, 2.0, 1.0, 3.0
    )
    loss = gloria_loss(
        image_global,
        regions,
        text_global,
        words,
        mask,
        attention_temperature=2.0,
        word_temperature=1.0,
        logit_temperature=3.0,
    )
    assert loss.item() == pytest.approx(sum(other), rel=1e-9)


def test_word_region_attention_ignores_padding_and_sums_to_one_over_regions():
    g = torch.Generator().manual_seed(9)
    regions = torch.randn(2, 7, 4, generator=g)
    words = torch.randn(3, 6, 4, generator=g)
    mask = torch.tensor(
        [[True] * 6, [True, True, False, False, False, False], [True] + [False] * 5]
    )
    attention, context = word_region_attention(regions, words, mask)
    assert attention.shape == (2, 3, 6, 7) and context.shape == (2, 3, 6, 4)
    torch.testing.assert_close(attention.sum(-1), torch.ones(2, 3, 6))
    cut, _ = word_region_attention(regions, words[1:2, :2], mask[1:2, :2])
    torch.testing.assert_close(attention[:, 1:2, :2], cut)
    with pytest.raises(ValueError, match="word_mask must be a boolean tensor"):
        word_region_attention(regions, words, mask.float())
    with pytest.raises(ValueError, match="same n_dims"):
        word_region_attention(regions, words[..., :3], mask)


def test_paired_losses_give_gradients_and_reject_mismatched_pairs():
    image = torch.randn(4, 3, requires_grad=True)
    convirt_loss(image, torch.randn(4, 3)).backward()
    assert torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape"):
        convirt_loss(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(InvalidParameterError, match="image_weight"):
        convirt_loss(torch.randn(4, 3), torch.randn(4, 3), image_weight=1.5)
