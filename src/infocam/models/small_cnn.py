"""A small, fast GAP CNN for the embedded MNIST-digit canvases.

Four conv blocks (3x3 conv, BatchNorm, ReLU), output stride 4::

    features.0  ConvBNReLU(in_channels, 16, stride 2)   H/2
    features.1  ConvBNReLU(16, 32)
    features.2  MaxPool2d(2)                             H/4
    features.3  ConvBNReLU(32, 64)
    features.4  ConvBNReLU(64, 128)    <- the CAM feature map (B, 128, H/4, W/4)
    pool        AdaptiveAvgPool2d(1), flatten
    fc          Linear(128, num_classes)

A 64 x 64 canvas gives 16 x 16 maps (96 x 96 gives 24 x 24). The first block
downsamples with its stride instead of a max-pool: at full resolution it is
the costliest layer, and the stride halves that cost (a training step on a
batch of 64 at 64 x 64 takes about 50 ms on 2 CPU cores, ~99k parameters).
The model is trained from scratch, so it has no "new" layers: every
parameter uses the base learning rate.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ConvBNReLU", "SmallCNN"]


class ConvBNReLU(nn.Sequential):
    """3x3 convolution (no bias), BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class SmallCNN(nn.Module):
    """Small GAP + linear classifier.

    Args:
        num_classes: outputs of ``fc`` (M).
        in_channels: image channels (1 for grey digits, 3 for RGB).
    """

    #: Trained from scratch: no layer gets the 10x learning rate.
    new_layer_names: tuple[str, ...] = ()
    #: Layers a checkpoint may lack or shape differently (another num_classes).
    head_layer_names: tuple[str, ...] = ("fc",)

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            ConvBNReLU(in_channels, 16, stride=2),
            ConvBNReLU(16, 32),
            nn.MaxPool2d(2),
            ConvBNReLU(32, 64),
            ConvBNReLU(64, 128),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: Tensor) -> Tensor:
        """The CAM feature map (B, 128, H/4, W/4), after the last block's ReLU."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """Logits (B, M) from the feature map: global average pooling, then ``fc``."""
        return self.fc(torch.flatten(self.pool(features), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))
