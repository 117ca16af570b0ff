"""Faithfulness of a saliency map: does it point at what the model uses?

Pure batched tensor functions, on any device, for any model callable that
maps a (N, C, H, W) batch to (N, M) logits. Shapes: ``images`` (B, C, H, W)
(already normalised as the model expects), ``maps`` (B, h, w) at any
resolution (resized to H x W bicubically, :func:`infocam.maps.resize_maps`),
``targets`` (B,) class indices (or one ``int``). The *score* of an input is
the target class's softmax probability (``score="sigmoid"`` for multi-label
models, ``"logit"`` for the raw logit).

* :func:`deletion_insertion` (Petsiuk, Das and Saenko, "RISE: Randomized
  Input Sampling for Explanation of Black-box Models", BMVC 2018): pixels
  ranked by the map, highest first, are removed (deletion) or revealed
  (insertion) in ``steps`` chunks; the area under the score curve. Low
  deletion AUC and high insertion AUC mean a faithful map.
* :func:`confidence_change` (Chattopadhyay et al., "Grad-CAM++", WACV 2018):
  Average Drop and Increase in Confidence of the image multiplied by the
  min-max normalised map.
* :func:`road` (Rong et al., "A Consistent and Efficient Evaluation Strategy
  for Attribution Methods", ICML 2022): remove a fraction of the pixels,
  most (MoRF) or least (LeRF) relevant first, and fill them by noisy linear
  imputation (:func:`noisy_linear_impute`).

The curves run as few large forward passes: the perturbed copies of every
image at every step are stacked and sent through the model ``batch_size``
images at a time, not one pass per step. :func:`reference_curve` is the
plain one-pass-per-step path the tests compare against. The model's
train/eval mode (every sub-module's) is put back afterwards; everything is
deterministic (ties in the ranking go to the lower pixel index, the ROAD
noise comes from ``seed``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam.checks import check_choice
from infocam.maps import normalize_maps, resize_maps

__all__ = [
    "BASELINES",
    "SCORES",
    "Curves",
    "FaithfulnessMeter",
    "baseline_images",
    "confidence_change",
    "curve_auc",
    "deletion_insertion",
    "noisy_linear_impute",
    "pixel_ranks",
    "reference_curve",
    "road",
    "step_counts",
]

Model = Callable[[Tensor], Tensor]

#: How removed pixels are filled: zeros (in the model's input space, i.e.
#: after normalisation), a blurred copy of the image, or each image's
#: per-channel mean.
BASELINES: tuple[str, ...] = ("zeros", "blur", "mean")
#: What the curves measure: the target's softmax probability, its sigmoid, or the raw logit.
SCORES: tuple[str, ...] = ("softmax", "sigmoid", "logit")
#: RISE's choices: deletion fills with zeros, insertion starts from the blurred image.
DELETION_BASELINE = "zeros"
INSERTION_BASELINE = "blur"
#: RISE's blur: an 11 x 11 Gaussian with sigma 5 pixels, zero padding.
BLUR_KERNEL, BLUR_SIGMA = 11, 5.0
#: ROAD's fractions removed (the paper's 10% .. 90%) and its imputation noise.
ROAD_FRACTIONS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 10))
ROAD_NOISE = 0.01


# ---------------------------------------------------------------------------
# Checks and small pieces


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    return value


def _check_inputs(images: Tensor, maps: Tensor) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a 4-D floating-point tensor (B, C, H, W); got {shape}")
    b = images.shape[0]
    if not isinstance(maps, Tensor) or maps.dim() != 3 or maps.shape[0] != b:
        shape = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise ValueError(f"maps must be a 3-D tensor (B, h, w) with B={b} (the images' batch); got {shape}")
    if maps.numel() == 0:
        raise ValueError(f"maps must not be empty; got shape {tuple(maps.shape)}")
    bad = ~torch.isfinite(maps.flatten(1)).all(dim=1)
    if bool(bad.any()):
        rows = bad.nonzero().flatten().tolist()
        raise ValueError(f"maps hold NaN or infinite values (image(s) {rows[:5]} of the batch)")


def _check_targets(targets: Tensor | int, batch: int, device: torch.device) -> Tensor:
    if isinstance(targets, bool):
        raise ValueError(f"targets must be class indices; got {targets!r}")
    if isinstance(targets, int):
        return torch.full((batch,), targets, dtype=torch.long, device=device)
    if (
        not isinstance(targets, Tensor)
        or targets.dim() != 1
        or targets.shape[0] != batch
        or targets.is_floating_point()
        or targets.dtype == torch.bool
    ):
        what = f"{tuple(targets.shape)} {targets.dtype}" if isinstance(targets, Tensor) else type(targets).__name__
        raise ValueError(f"targets must be a (B,) = ({batch},) tensor of class indices or an int; got {what}")
    return targets.to(device=device, dtype=torch.long)


@contextmanager
def _eval_mode(model: Model) -> Iterator[None]:
    """Eval mode for an ``nn.Module`` during the call; every sub-module's mode restored after."""
    if not isinstance(model, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _scores(model: Model, x: Tensor, targets: Tensor, score: str, check: bool = True) -> Tensor:
    """The score of ``targets`` (N,) for the inputs ``x`` (N, C, H, W), in float32.

    ``check=False`` skips the range check of ``targets`` (a device sync):
    the curves check only their first pass.
    """
    logits = model(x)
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != x.shape[0]:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model must return (N, M) logits for N={x.shape[0]} inputs; got {shape}")
    m = logits.shape[1]
    if check and targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= m):
        raise ValueError(f"targets must lie in [0, {m - 1}] (the model has M={m} classes)")
    logits = logits.float()
    if score == "softmax":
        values = torch.softmax(logits, dim=1)
    elif score == "sigmoid":
        values = torch.sigmoid(logits)
    else:
        values = logits
    return values.gather(1, targets.to(logits.device).view(-1, 1)).squeeze(1)


def pixel_ranks(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, H*W) rank of each pixel, 0 = the highest map value after resizing to ``size``.

    The map is resized bicubically (:func:`infocam.maps.resize_maps`), then
    sorted high to low; ties go to the lower flat index (row-major), so the
    ranking is deterministic and unchanged by any positive scaling of the map.
    """
    flat = resize_maps(maps, size).flatten(1)
    order = torch.sort(flat, dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks


def step_counts(pixels: int, steps: int) -> Tensor:
    """Pixels perturbed after step ``i`` = ``floor(i * pixels / steps)``, i = 0 .. steps.

    ``steps`` equal chunks when ``steps`` divides ``pixels`` (otherwise the
    chunks differ by at most one pixel).
    """
    steps = _check_int(steps, "steps", 1)
    return torch.arange(steps + 1, dtype=torch.long) * pixels // steps


def _gaussian_kernel(size: int, sigma: float) -> Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    k = torch.outer(g, g)
    return (k / k.sum()).float()


def baseline_images(images: Tensor, baseline: str) -> Tensor:
    """What removed pixels become: ``"zeros"``, ``"blur"`` or ``"mean"`` (see :data:`BASELINES`).

    ``"blur"`` is RISE's: each channel convolved with an 11 x 11 Gaussian of
    sigma 5 pixels, zero padding (so the borders darken towards zero).
    ``"mean"`` is each image's own per-channel mean.
    """
    baseline = check_choice(baseline, "baseline", BASELINES)
    if baseline == "zeros":
        return torch.zeros_like(images)
    if baseline == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images).contiguous()
    c = images.shape[1]
    k = _gaussian_kernel(BLUR_KERNEL, BLUR_SIGMA).to(device=images.device, dtype=images.dtype)
    weight = k.expand(c, 1, BLUR_KERNEL, BLUR_KERNEL)
    return F.conv2d(images, weight, padding=BLUR_KERNEL // 2, groups=c)


def curve_auc(curves: Tensor, fractions: Tensor) -> Tensor:
    """Area under each curve (B, S+1) over the perturbed fractions (S+1,): the trapezoid rule.

    With equal chunks this is RISE's ``(sum(y) - y_0 / 2 - y_S / 2) / S``.
    """
    return torch.trapezoid(curves, fractions.to(curves), dim=1)


# ---------------------------------------------------------------------------
# Deletion and insertion


@dataclass
class Curves:
    """Deletion and insertion curves of a batch.

    ``fractions`` (S+1,): the share of pixels removed (deletion) or revealed
    (insertion) at each point; ``deletion`` / ``insertion`` (B, S+1): the
    target's score there (``deletion[:, 0]`` and ``insertion[:, -1]`` are the
    score of the intact image); ``*_auc`` (B,): their areas (:func:`curve_auc`).
    """

    fractions: Tensor
    deletion: Tensor
    insertion: Tensor
    deletion_auc: Tensor
    insertion_auc: Tensor


@torch.no_grad()
def deletion_insertion(
    model: Model,
    images: Tensor,
    maps: Tensor,
    targets: Tensor | int,
    *,
    steps: int = 50,
    deletion_baseline: str = DELETION_BASELINE,
    insertion_baseline: str = INSERTION_BASELINE,
    score: str = "softmax",
    batch_size: int = 256,
) -> Curves:
    """Deletion and insertion curves and AUCs (Petsiuk et al., RISE, BMVC 2018).

    With ``n = H W`` pixels ranked by the map (highest first,
    :func:`pixel_ranks`) and ``k_i = floor(i n / steps)`` (:func:`step_counts`)::

        deletion_i  = p_y( x with its top-k_i pixels set to the deletion baseline )
        insertion_i = p_y( the insertion baseline with the top-k_i pixels of x )
        AUC = trapezoid over the fractions k_i / n   (in [0, 1] for probabilities)

    A pixel is removed or revealed in every channel at once. Defaults follow
    RISE: deletion fills with zeros (in the model's input space: the
    normalisation mean when inputs are standardised), insertion starts from
    the blurred image (:func:`baseline_images`). ``steps + 1`` points per
    curve; the intact image is scored once for both curves, and when both
    baselines are the same the all-baseline image too, so the two curves
    cost ``2 steps - 1`` (or ``2 steps``) forward images per image, sent
    ``batch_size`` at a time.
    """
    _check_inputs(images, maps)
    steps = _check_int(steps, "steps", 1)
    batch_size = _check_int(batch_size, "batch_size", 1)
    deletion_baseline = check_choice(deletion_baseline, "deletion_baseline", BASELINES)
    insertion_baseline = check_choice(insertion_baseline, "insertion_baseline", BASELINES)
    score = check_choice(score, "score", SCORES)
    b, _, h, w = images.shape
    device = images.device
    targets = _check_targets(targets, b, device)
    n = h * w
    counts = step_counts(n, steps).to(device)
    ranks = pixel_ranks(maps.to(device), (h, w))
    base_del = baseline_images(images, deletion_baseline)
    base_ins = base_del if insertion_baseline == deletion_baseline else baseline_images(images, insertion_baseline)
    shared = insertion_baseline == deletion_baseline

    # Jobs (image, pixels perturbed, kind): kind 0 = deletion, 1 = insertion.
    # Deletion points 0..S (0 = intact image); insertion points 0..S-1 (its
    # point S is the intact image), without point 0 when it equals deletion's S.
    idx = torch.arange(b, device=device)
    del_points = torch.arange(steps + 1, device=device)
    ins_points = torch.arange(1 if shared else 0, steps, device=device)
    job_img = torch.cat([idx.repeat_interleave(len(del_points)), idx.repeat_interleave(len(ins_points))])
    job_pt = torch.cat([del_points.repeat(b), ins_points.repeat(b)])
    job_kind = torch.cat([
        torch.zeros(b * len(del_points), dtype=torch.bool, device=device),
        torch.ones(b * len(ins_points), dtype=torch.bool, device=device),
    ])
    values = torch.empty(job_img.numel(), device=device)
    with _eval_mode(model):
        for start in range(0, job_img.numel(), batch_size):
            sl = slice(start, start + batch_size)
            im, kind = job_img[sl], job_kind[sl]
            chosen = (ranks[im] < counts[job_pt[sl]].unsqueeze(1)).view(-1, 1, h, w)  # top-k pixels
            x, bd, bi = images[im], base_del[im], base_ins[im]
            k4 = kind.view(-1, 1, 1, 1)
            # deletion: chosen pixels -> baseline, others kept; insertion: chosen kept, others -> baseline
            x = torch.where(chosen, torch.where(k4, x, bd), torch.where(k4, bi, x))
            values[sl] = _scores(model, x, targets[im], score, check=start == 0).to(device)
    n_del = b * len(del_points)
    deletion = values[:n_del].view(b, steps + 1)
    insertion = torch.empty_like(deletion)
    insertion[:, 1 if shared else 0 : steps] = values[n_del:].view(b, len(ins_points))
    insertion[:, steps] = deletion[:, 0]
    if shared:
        insertion[:, 0] = deletion[:, steps]
    fractions = counts.float() / n
    return Curves(fractions, deletion, insertion, curve_auc(deletion, fractions), curve_auc(insertion, fractions))


@torch.no_grad()
def reference_curve(
    model: Model,
    images: Tensor,
    maps: Tensor,
    targets: Tensor | int,
    *,
    kind: str,
    steps: int = 50,
    baseline: str | None = None,
    score: str = "softmax",
) -> Tensor:
    """One curve, the plain way: one forward pass per step (the check on :func:`deletion_insertion`)."""
    kind = check_choice(kind, "kind", ("deletion", "insertion"))
    _check_inputs(images, maps)
    b, _, h, w = images.shape
    targets = _check_targets(targets, b, images.device)
    baseline = baseline or (DELETION_BASELINE if kind == "deletion" else INSERTION_BASELINE)
    base = baseline_images(images, baseline)
    ranks = pixel_ranks(maps.to(images.device), (h, w)).view(b, 1, h, w)
    points = []
    with _eval_mode(model):
        for k in step_counts(h * w, steps).tolist():
            chosen = ranks < k
            x = torch.where(chosen, base, images) if kind == "deletion" else torch.where(chosen, images, base)
            points.append(_scores(model, x, targets, check_choice(score, "score", SCORES)))
    return torch.stack(points, dim=1)


# ---------------------------------------------------------------------------
# Average Drop and Increase in Confidence


@torch.no_grad()
def confidence_change(
    model: Model,
    images: Tensor,
    maps: Tensor,
    targets: Tensor | int,
    *,
    score: str = "softmax",
) -> dict[str, Tensor]:
    """Per-image drop and increase of confidence (Chattopadhyay et al., Grad-CAM++, WACV 2018).

    With ``Y`` the target's score on the image and ``O`` on the image
    multiplied (in the model's input space) by the map, resized to H x W and
    min-max normalised to [0, 1] (:func:`infocam.maps.normalize_maps`)::

        drop     = max(0, Y - O) / Y       (0 when Y = 0)
        increase = 1 if O > Y else 0

    Average Drop is ``100 * mean(drop)``, Increase in Confidence
    ``100 * mean(increase)`` over a data set. Returns ``{"drop", "increase",
    "score", "masked_score"}``, each (B,) float32.
    """
    _check_inputs(images, maps)
    score = check_choice(score, "score", SCORES)
    b, _, h, w = images.shape
    targets = _check_targets(targets, b, images.device)
    mask = normalize_maps(resize_maps(maps.to(images.device), (h, w))).to(images.dtype).unsqueeze(1)
    with _eval_mode(model):
        both = _scores(model, torch.cat([images, images * mask]), torch.cat([targets, targets]), score)
    y, o = both[:b], both[b:]
    drop = torch.where(y > 0, torch.relu(y - o) / torch.where(y > 0, y, torch.ones_like(y)), torch.zeros_like(y))
    return {"drop": drop, "increase": (o > y).float(), "score": y, "masked_score": o}


# ---------------------------------------------------------------------------
# ROAD: remove and debias, with noisy linear imputation

#: The neighbour weights of noisy linear imputation: 1/6 for the 4 direct
#: neighbours, 1/12 for the 4 diagonal ones.
_NEIGHBOURS = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])


def noisy_linear_impute(
    images: Tensor,
    removed: Tensor,
    *,
    noise: float = ROAD_NOISE,
    seed: int = 0,
    tol: float = 1e-6,
    max_iter: int = 2000,
) -> Tensor:
    """Fill the ``removed`` pixels (B, H, W) bool of ``images`` (B, C, H, W) (Rong et al., ICML 2022).

    Each removed pixel becomes the weighted mean of its in-image neighbours
    (weights 1/6 direct, 1/12 diagonal), known neighbours fixed: for every
    removed ``p``::

        sum_q w_q (u_q - u_p) = 0

    a sparse linear system per image and channel, symmetric positive
    definite as long as one pixel is kept. It is solved here for the whole
    batch at once by Jacobi-preconditioned conjugate gradients (the operator
    is a 3 x 3 convolution), to a relative residual of ``tol``, instead of a
    sparse direct solve per image. Then ``noise * N(0, 1)`` is added to the
    imputed pixels (drawn on the CPU from ``seed``, so every device gets the
    same noise).
    """
    if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
        raise ValueError("images must be a 4-D floating-point tensor (B, C, H, W)")
    b, c, h, w = images.shape
    if not isinstance(removed, Tensor) or tuple(removed.shape) != (b, h, w):
        shape = tuple(removed.shape) if isinstance(removed, Tensor) else type(removed).__name__
        raise ValueError(f"removed must be a (B, H, W) = ({b}, {h}, {w}) mask; got {shape}")
    if not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0; got {noise!r}")
    m = removed.to(images.device, torch.bool).unsqueeze(1).expand(b, c, h, w).reshape(b * c, 1, h, w)
    if bool(m.flatten(1).all(dim=1).any()):
        raise ValueError("removed must leave at least one pixel of each image")
    x = images.reshape(b * c, 1, h, w).double()
    mf = m.double()
    kernel = _NEIGHBOURS.to(x).view(1, 1, 3, 3)

    def conv(u: Tensor) -> Tensor:
        return F.conv2d(u, kernel, padding=1)

    diag = conv(torch.ones_like(x))  # sum of the in-image neighbour weights

    def op(v: Tensor) -> Tensor:  # the SPD operator on the removed pixels
        return mf * (diag * v - conv(v * mf))

    rhs = mf * conv(x * (1 - mf))
    v = torch.zeros_like(x)
    r = rhs.clone()
    z = r / diag
    p = z.clone()
    rz = (r * z).sum(dim=(1, 2, 3), keepdim=True)
    stop = tol * rhs.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
    for it in range(max_iter):
        ap = op(p)
        alpha = rz / (p * ap).sum(dim=(1, 2, 3), keepdim=True).clamp_min(1e-300)
        v = v + alpha * p
        r = r - alpha * ap
        if it % 10 == 9 and bool((r.flatten(1).norm(dim=1).view(-1, 1, 1, 1) <= stop).all()):
            break
        z = r / diag
        rz_new = (r * z).sum(dim=(1, 2, 3), keepdim=True)
        p = z + (rz_new / rz.clamp_min(1e-300)) * p
        rz = rz_new
    g = torch.Generator().manual_seed(int(seed))
    eps = torch.randn(b * c, 1, h, w, generator=g, dtype=torch.float64).to(x.device)
    filled = torch.where(m, v + noise * eps, x)
    return filled.to(images.dtype).view(b, c, h, w)


@torch.no_grad()
def road(
    model: Model,
    images: Tensor,
    maps: Tensor,
    targets: Tensor | int,
    *,
    fractions: Sequence[float] = ROAD_FRACTIONS,
    order: str = "morf",
    noise: float = ROAD_NOISE,
    seed: int = 0,
    score: str = "softmax",
    batch_size: int = 256,
) -> Tensor:
    """ROAD scores (B, len(fractions)) (Rong et al., ICML 2022).

    For each fraction ``f``, the ``floor(f n)`` most relevant pixels
    (``order="morf"``) or least relevant (``"lerf"``) by the map's ranking
    (:func:`pixel_ranks`) are removed and filled by
    :func:`noisy_linear_impute`; the entry is the target's score on that
    image. A faithful map makes MoRF scores fall fast and LeRF scores stay
    high; the paper's summary is the mean over the fractions.
    """
    _check_inputs(images, maps)
    order = check_choice(order, "order", ("morf", "lerf"))
    score = check_choice(score, "score", SCORES)
    batch_size = _check_int(batch_size, "batch_size", 1)
    fr = [float(f) for f in fractions]
    if not fr or any(not 0.0 <= f < 1.0 for f in fr):
        raise ValueError(f"fractions must be a non-empty list of numbers in [0, 1); got {list(fractions)!r}")
    b, _, h, w = images.shape
    targets = _check_targets(targets, b, images.device)
    n = h * w
    ranks = pixel_ranks(maps.to(images.device), (h, w)).view(b, h, w)
    if order == "lerf":
        ranks = n - 1 - ranks
    filled = torch.cat([
        noisy_linear_impute(images, ranks < math.floor(f * n + 1e-9), noise=noise, seed=seed + i)
        for i, f in enumerate(fr)
    ])  # (F*B, C, H, W), fraction-major
    tgt = targets.repeat(len(fr))
    out = torch.empty(filled.shape[0], device=images.device)
    with _eval_mode(model):
        for start in range(0, filled.shape[0], batch_size):
            sl = slice(start, start + batch_size)
            out[sl] = _scores(model, filled[sl], tgt[sl], score, check=start == 0).to(images.device)
    return out.view(len(fr), b).t().contiguous()


# ---------------------------------------------------------------------------
# Streaming over a data set


class FaithfulnessMeter:
    """Deletion / insertion AUC, Average Drop and Increase in Confidence over many batches.

    Each :meth:`update` scores one batch (:func:`deletion_insertion` and
    :func:`confidence_change`) and adds its sums; :meth:`compute` gives the
    means. Memory does not grow with the data: the sums, the count and the
    summed curves. For distributed evaluation, sum :meth:`to_tensor` across
    ranks and :meth:`load_counts` the result.
    """

    def __init__(self, *, steps: int = 50, score: str = "softmax", batch_size: int = 256) -> None:
        self.steps = _check_int(steps, "steps", 1)
        self.score = check_choice(score, "score", SCORES)
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.fractions: Tensor | None = None
        self._sums = torch.zeros(5 + 2 * (steps + 1), dtype=torch.float64)

    def update(self, model: Model, images: Tensor, maps: Tensor, targets: Tensor | int) -> None:
        if images.shape[0] == 0:
            return
        c = deletion_insertion(model, images, maps, targets, steps=self.steps, score=self.score,
                               batch_size=self.batch_size)
        cc = confidence_change(model, images, maps, targets, score=self.score)
        self.fractions = c.fractions.cpu()
        add = torch.cat([
            torch.tensor([float(images.shape[0])], dtype=torch.float64),
            torch.stack([c.deletion_auc.sum(), c.insertion_auc.sum(), cc["drop"].sum(),
                         cc["increase"].sum()]).double().cpu(),
            c.deletion.sum(0).double().cpu(),
            c.insertion.sum(0).double().cpu(),
        ])
        self._sums += add

    def to_tensor(self) -> Tensor:
        """The sums in one float64 CPU tensor: count, the four metric sums, the two summed curves."""
        return self._sums.clone()

    def load_counts(self, counts: Tensor) -> None:
        flat = counts.detach().cpu().double().flatten()
        if flat.numel() != self._sums.numel():
            raise ValueError(f"counts must hold {self._sums.numel()} values; got {flat.numel()}")
        self._sums = flat.clone()

    def compute(self) -> dict[str, object]:
        """``deletion_auc`` / ``insertion_auc`` (means, in [0, 1] for probabilities),
        ``average_drop`` / ``increase_in_confidence`` (percent), the mean curves
        ``deletion_curve`` / ``insertion_curve`` at ``fractions``, ``steps``, ``count``.
        NaN when nothing was counted."""
        n = float(self._sums[0])
        s = self.steps + 1
        mean = (self._sums / n) if n else torch.full_like(self._sums, float("nan"))
        fractions = self.fractions if self.fractions is not None else torch.linspace(0, 1, s)
        return {
            "deletion_auc": float(mean[1]),
            "insertion_auc": float(mean[2]),
            "average_drop": 100.0 * float(mean[3]),
            "increase_in_confidence": 100.0 * float(mean[4]),
            "steps": self.steps,
            "score": self.score,
            "count": int(n),
            "fractions": [round(float(f), 6) for f in fractions],
            "deletion_curve": [float(v) for v in mean[5 : 5 + s]],
            "insertion_curve": [float(v) for v in mean[5 + s :]],
        }
