"""infocam: informative class activation maps and weakly supervised object localisation.

The public API (stable):

* :func:`cam_maps` - CAM, infoCAM and infoCAM+ maps from features and a linear head.
* :class:`CAMExtractor` - hooks a classifier that ends in GAP + linear.
* :func:`boxes_from_maps`, :func:`box_iou` - boxes from maps, and their IoU
  (:func:`boxes_at_thresholds`: many thresholds at once).
* :class:`WSOLMeter` - streaming GT-known / Top-1 / Top-5 Loc, Cls, MaxBoxAccV2, PxAP.
* :func:`score_maps` - score saved maps (any method's) as wsolevaluation does:
  MaxBoxAcc, MaxBoxAccV2, PxAP, GT-known / Top-k Loc (``infocam score``).
* :mod:`infocam.losses` - PC-softmax and PC-sigmoid.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

from infocam import losses
from infocam.boxes import all_component_boxes, boxes_at_thresholds, boxes_from_maps
from infocam.errors import InputError
from infocam.extract import CAMExtractor, CAMResult
from infocam.iou import box_iou
from infocam.maps import METHODS, cam_maps, normalize_maps, region_sum, resize_maps
from infocam.metrics import WSOLMeter

if TYPE_CHECKING:  # imported on first use at run time (see __getattr__)
    from infocam.engine.score import score_maps

__all__ = [
    "METHODS",
    "CAMExtractor",
    "CAMResult",
    "InputError",
    "WSOLMeter",
    "__version__",
    "all_component_boxes",
    "box_iou",
    "boxes_at_thresholds",
    "boxes_from_maps",
    "cam_maps",
    "losses",
    "normalize_maps",
    "region_sum",
    "resize_maps",
    "score_maps",
]


def __getattr__(name: str) -> Any:
    if name == "score_maps":  # imported on first use: it pulls in the data readers
        from infocam.engine.score import score_maps

        return score_maps
    raise AttributeError(f"module 'infocam' has no attribute {name!r}")
