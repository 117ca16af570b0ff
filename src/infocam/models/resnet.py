"""ResNet50 with output stride 16 (layer4 stride 1), GAP and a linear head.

Built on torchvision's :class:`~torchvision.models.ResNet` so that its
ImageNet state dicts load strictly (``fc`` aside when ``num_classes != 1000``).
The only change to the network is the stride of layer4: its first bottleneck
uses stride 1 in ``conv2`` and in the ``downsample`` 1x1 conv (no dilation),
so a 224 px input gives a 14 x 14 x 2048 feature map instead of 7 x 7.
Weight shapes are unchanged.

ADL (see :mod:`infocam.models.adl`) goes after layer3 block 0 and after layer4
blocks 0 and 2, as the block's ``adl`` sub-module applied to its output.
ADL has no parameters, so the state-dict keys are the same with and without it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck, ResNet

from infocam.models.adl import ADL

__all__ = ["ADL_POSITIONS", "ADLBottleneck", "ResNet50GAP"]

# (layer name, block index) whose output goes through ADL.
ADL_POSITIONS: tuple[tuple[str, int], ...] = (("layer3", 0), ("layer4", 0), ("layer4", 2))


class ADLBottleneck(Bottleneck):
    """torchvision's Bottleneck with an optional ADL on its output (``self.adl``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adl: nn.Module | None = None

    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        return out if self.adl is None else self.adl(out)


class ResNet50GAP(ResNet):
    """ResNet50, layer4 stride 1, global average pooling and ``fc``: Linear(2048, M).

    Args:
        num_classes: outputs of ``fc`` (M).
        adl: insert ADL after layer3 block 0 and layer4 blocks 0 and 2.
        adl_drop_rate: ADL drop rate (default 0.75).
        adl_gamma: ADL threshold (default 0.9, the paper's ResNet value).
        in_channels: input image channels (3 for ImageNet weights).
    """

    #: Layers trained at 10x the base learning rate (the reference setting: layer4 + fc).
    new_layer_names: tuple[str, ...] = ("layer4", "fc")
    #: Layers a torchvision ResNet50 checkpoint may lack or shape differently.
    head_layer_names: tuple[str, ...] = ("fc",)

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        adl: bool = False,
        adl_drop_rate: float = 0.75,
        adl_gamma: float = 0.9,
        in_channels: int = 3,
    ) -> None:
        super().__init__(ADLBottleneck, [3, 4, 6, 3], num_classes=num_classes)
        if in_channels != 3:
            self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        # layer4 stride 1: output stride 16 (14 x 14 maps at 224 px).
        first = self.layer4[0]
        first.stride = 1
        first.conv2.stride = (1, 1)
        first.downsample[0].stride = (1, 1)
        if adl:
            for layer, block in ADL_POSITIONS:
                getattr(self, layer)[block].adl = ADL(adl_drop_rate, adl_gamma)

    def forward_features(self, x: Tensor) -> Tensor:
        """The CAM feature map (B, 2048, h, w), the output of layer4; 14 x 14 at 224 px."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """Logits (B, M) from the feature map: global average pooling, then ``fc``."""
        return self.fc(torch.flatten(self.avgpool(features), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))
