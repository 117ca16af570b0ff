"""infocam: informative class activation maps and weakly supervised object localisation.

The public API (stable):

* :func:`cam_maps` - CAM, infoCAM and infoCAM+ maps from features and a linear head.
* :class:`CAMExtractor` - hooks a classifier that ends in GAP + linear.
* :func:`boxes_from_maps`, :func:`box_iou` - boxes from maps, and their IoU.
* :class:`WSOLMeter` - streaming GT-known / Top-1 / Top-5 Loc, Cls, MaxBoxAccV2, PxAP.
* :mod:`infocam.losses` - PC-softmax and PC-sigmoid.
"""

from __future__ import annotations

__version__ = "0.1.0"

from infocam.errors import InputError
from infocam.extract import CAMExtractor, CAMResult
from infocam.maps import METHODS, cam_maps, normalize_maps, region_sum, resize_maps

__all__ = [
    "METHODS",
    "CAMExtractor",
    "CAMResult",
    "InputError",
    "__version__",
    "cam_maps",
    "normalize_maps",
    "region_sum",
    "resize_maps",
]
