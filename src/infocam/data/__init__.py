"""Datasets for WSOL: the on-disk formats users have, transforms that move boxes, the split.

Formats (one module each): CUB-200-2011 (:mod:`~infocam.data.cub`),
Tiny-ImageNet (:mod:`~infocam.data.tiny_imagenet`), the wsolevaluation
metadata layout (:mod:`~infocam.data.wsol_metadata`) and a simple CSV
(:mod:`~infocam.data.csv_format`). Each reader gives records and every
problem it found; :func:`build_dataset` turns a config into a
:class:`BoxDataset` whose items are dicts (``docs/conventions.md``)::

    {"image": Tensor(3, H, W), "label": int, "boxes": Tensor(N, 4), "id": str}

and :func:`collate` batches them. The ``infocam data`` command checks,
downloads and converts datasets.
"""

from __future__ import annotations

from infocam.data.check import CheckReport, check_dataset
from infocam.data.collate import collate
from infocam.data.convert import convert_to_wsol
from infocam.data.csv_format import read_csv_annotations
from infocam.data.cub import read_cub
from infocam.data.dataset import BoxDataset
from infocam.data.download import SOURCES, download_dataset
from infocam.data.factory import FORMATS, build_dataset, validate_config
from infocam.data.images import image_size, open_rgb
from infocam.data.records import Annotations, Problem, Record
from infocam.data.split import SPLITS, select_split, split_even_odd
from infocam.data.tiny_imagenet import read_tiny_imagenet
from infocam.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transforms
from infocam.data.wsol_metadata import read_wsol_split

__all__ = [
    "FORMATS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SOURCES",
    "SPLITS",
    "Annotations",
    "BoxDataset",
    "CheckReport",
    "Problem",
    "Record",
    "build_dataset",
    "build_transforms",
    "check_dataset",
    "collate",
    "convert_to_wsol",
    "download_dataset",
    "image_size",
    "open_rgb",
    "read_csv_annotations",
    "read_cub",
    "read_tiny_imagenet",
    "read_wsol_split",
    "select_split",
    "split_even_odd",
    "validate_config",
]
