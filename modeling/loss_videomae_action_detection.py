"""Training targets and loss of the AVA action head, as mmaction2 trains it.

mmaction2 (`AVARoIHead.loss` with `MaxIoUAssignerAVA`, `RandomSampler` and `BBoxHeadAVA.loss_and_target`):

1. each proposal is assigned to the ground-truth box it overlaps most when that IoU is >= 0.9 (else negative), with
   mmdet's low-quality matching on top;
2. the ground-truth boxes are added to the proposals as positives of themselves;
3. at most 32 positives per clip are kept (a random subset when there are more); sampled negatives are computed by
   mmaction2 but never enter the loss, so they are not sampled here;
4. the loss is binary cross-entropy with logits (optionally focal), averaged over all positives of the batch x the
   action classes.

This file is part of the model's remote code: it imports only torch.
"""

import torch
import torch.nn.functional as F


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """IoU matrix of two box sets, as mmdet's `bbox_overlaps` computes it (no +1, union clamped to >= eps).

    Args:
        boxes1: (K, 4) x1 y1 x2 y2.
        boxes2: (N, 4) x1 y1 x2 y2, same units.

    Returns:
        (K, N) IoU.
    """
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    width_height = (bottom_right - top_left).clamp(min=0)
    overlap = width_height[..., 0] * width_height[..., 1]
    union = area1[:, None] + area2[None, :] - overlap
    union = torch.max(union, union.new_tensor([eps]))
    return overlap / union


def assign_proposals_to_ground_truth(
    proposals: torch.Tensor,
    gt_boxes: torch.Tensor,
    pos_iou_threshold: float = 0.9,
    min_pos_iou: float = 0.9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """mmaction2's `MaxIoUAssignerAVA` (pos = neg threshold, low-quality matching with `gt_max_assign_all`).

    Args:
        proposals: (N, 4) proposal boxes.
        gt_boxes: (K, 4) ground-truth boxes, same units.
        pos_iou_threshold: a proposal whose best IoU reaches this is assigned to that ground-truth box; below it, the
            proposal is negative.
        min_pos_iou: each ground-truth box whose best IoU reaches this also takes every proposal with exactly that IoU
            (ground-truth boxes in order, a later one overriding an earlier one).

    Returns:
        assigned: (N,) long, 0 = negative, k >= 1 = ground-truth box k - 1.
        max_iou: (N,) the best IoU of each proposal (0 when there is no ground truth).
    """
    num_gt, num_proposals = gt_boxes.shape[0], proposals.shape[0]
    if num_gt == 0 or num_proposals == 0:
        return (
            torch.zeros(num_proposals, dtype=torch.long, device=proposals.device),
            proposals.new_zeros(num_proposals),
        )
    overlaps = box_iou(gt_boxes, proposals)
    max_iou, best_gt = overlaps.max(dim=0)
    gt_max_iou, _ = overlaps.max(dim=1)
    assigned = torch.zeros(num_proposals, dtype=torch.long, device=proposals.device)
    positive = max_iou >= pos_iou_threshold
    assigned[positive] = best_gt[positive] + 1
    for gt_index in range(num_gt):
        if gt_max_iou[gt_index] >= min_pos_iou:
            assigned[overlaps[gt_index] == gt_max_iou[gt_index]] = gt_index + 1
    return assigned, max_iou


def select_positive_rois(
    num_proposals: int,
    assigned: torch.Tensor,
    num_gt: int,
    max_positives: int,
    add_gt_as_proposals: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """mmdet's `RandomSampler` positives for one clip, over the RoI list `[proposals..., ground truth...]`.

    Args:
        num_proposals: N, the number of proposals (RoIs `0 .. N-1`).
        assigned: (N,) the result of `assign_proposals_to_ground_truth`.
        num_gt: K, the number of ground-truth boxes (RoIs `N .. N+K-1` when they are added as proposals).
        max_positives: keep at most this many positives (a uniformly random subset when there are more).
        add_gt_as_proposals: the ground-truth boxes are positives of themselves.
        generator: random generator for the subset.

    Returns:
        roi_indices: (P,) indices into `[proposals..., ground truth...]`.
        gt_indices: (P,) the ground-truth box (0-based) each selected RoI learns from.
    """
    device = assigned.device
    # mmdet prepends the ground truth to the proposals, so candidate order is [gt..., positive proposals...]
    gt_roi_indices = torch.arange(num_gt, device=device) + num_proposals
    gt_targets = torch.arange(num_gt, device=device)
    positive_proposals = torch.nonzero(assigned > 0, as_tuple=False).flatten()
    if add_gt_as_proposals and num_gt > 0:
        roi_indices = torch.cat([gt_roi_indices, positive_proposals])
        gt_indices = torch.cat([gt_targets, assigned[positive_proposals] - 1])
    else:
        roi_indices, gt_indices = positive_proposals, assigned[positive_proposals] - 1
    if roi_indices.numel() > max_positives:
        keep = torch.randperm(roi_indices.numel(), generator=generator, device="cpu")[:max_positives].to(device)
        roi_indices, gt_indices = roi_indices[keep], gt_indices[keep]
    return roi_indices, gt_indices


def action_classification_loss(
    logits: torch.Tensor, targets: torch.Tensor, focal_gamma: float = 0.0, focal_alpha: float = 1.0
) -> torch.Tensor:
    """mmaction2's `BBoxHeadAVA` loss: `alpha * (1 - p_t) ** gamma * BCE-with-logits`, mean over all elements.

    Args:
        logits: (P, C) action logits of the positive RoIs.
        targets: (P, C) multi-hot targets in {0, 1}.

    Returns:
        A scalar; 0 (still attached to the graph) when there is no positive.
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    bce = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
    if focal_gamma != 0.0 or focal_alpha != 1.0:
        p_t = torch.exp(-bce)
        bce = focal_alpha * (1 - p_t) ** focal_gamma * bce
    return bce.mean()


__all__ = [
    "box_iou",
    "assign_proposals_to_ground_truth",
    "select_positive_rois",
    "action_classification_loss",
]
