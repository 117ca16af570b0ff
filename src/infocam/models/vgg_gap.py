"""VGG16-GAP: VGG16 without pool5, a 3x3 conv6 with 1024 channels, GAP and a linear head.

Layout (224 px input -> 14 x 14 x 1024 feature map)::

    features   torchvision VGG16 ``features`` indices 0..29 (pool5, index 30, removed)
    conv6      Conv2d(512, 1024, 3, padding=1)
    relu6      ReLU            <- the CAM feature map (B, 1024, 14, 14)
    pool       AdaptiveAvgPool2d(1), flatten
    fc         Linear(1024, num_classes)

**ADL without breaking torchvision keys.** ADL (see :mod:`infocam.models.adl`)
goes after pool3 (index 16), after pool4 (index 23) and after conv5_3 + its
ReLU (index 29). Rather than inserting new entries into ``features`` (which
would shift every later index and break ``features.<i>.weight`` keys), the
parameter-free layer at each of those indices is wrapped together with its
ADL in a small ``nn.Sequential``::

    features[16] = Sequential(MaxPool2d, ADL)   # pool3 -> ADL
    features[23] = Sequential(MaxPool2d, ADL)   # pool4 -> ADL
    features[29] = Sequential(ReLU, ADL)        # conv5_3 -> ReLU -> ADL

Every convolution keeps its torchvision index, ADL has no parameters, so the
``features.*`` keys of torchvision's ``vgg16`` state dict load strictly into
``features`` with and without ADL, and ``features[i]`` still addresses the
same layer as in torchvision.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infocam.models.adl import ADL

__all__ = ["ADL_POSITIONS", "VGG16GAP", "VGG16_CFG", "make_vgg16_features"]

# torchvision's VGG16 configuration "D": output channels, "M" = 2x2 max-pool.
VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)

# ``features`` index -> layer that ADL follows (indices as in torchvision's vgg16).
ADL_POSITIONS: dict[int, str] = {16: "pool3", 23: "pool4", 29: "conv5_3 + ReLU"}


def make_vgg16_features(
    in_channels: int = 3, *, drop_pool5: bool = True
) -> nn.Sequential:
    """VGG16 conv layers exactly as torchvision builds them (same indices, no batch norm).

    With ``drop_pool5`` the final max-pool (index 30) is left out.
    """
    layers: list[nn.Module] = []
    channels = in_channels
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers.append(nn.Conv2d(channels, int(v), kernel_size=3, padding=1))
            layers.append(nn.ReLU(inplace=True))
            channels = int(v)
    if drop_pool5:
        layers.pop()
    return nn.Sequential(*layers)


class VGG16GAP(nn.Module):
    """VGG16-GAP classifier (CAM backbone of Zhou et al. 2016 and of the infoCAM paper).

    Args:
        num_classes: outputs of the final linear layer (M).
        adl: insert ADL after pool3, pool4 and conv5_3 (see the module docstring).
        adl_drop_rate: ADL drop rate (default 0.75).
        adl_gamma: ADL threshold (default 0.8, the paper's VGG value).
        in_channels: input image channels (3 for ImageNet weights).
    """

    #: Layers trained at 10x the base learning rate (everything but ``features``).
    new_layer_names: tuple[str, ...] = ("conv6", "fc")
    #: Layers a torchvision VGG16 checkpoint does not have (see ``registry.load_weights``).
    head_layer_names: tuple[str, ...] = ("conv6", "fc")

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        adl: bool = False,
        adl_drop_rate: float = 0.75,
        adl_gamma: float = 0.8,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        self.features = make_vgg16_features(in_channels)
        if adl:
            for index in ADL_POSITIONS:
                self.features[index] = nn.Sequential(
                    self.features[index], ADL(adl_drop_rate, adl_gamma)
                )
        self.conv6 = nn.Conv2d(512, 1024, kernel_size=3, padding=1)
        # Not in-place: hooks on the CAM feature map see a tensor nobody overwrites.
        self.relu6 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1024, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's VGG initialisation.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """The CAM feature map (B, 1024, h, w), after conv6's ReLU; 14 x 14 at 224 px."""
        return self.relu6(self.conv6(self.features(x)))

    def forward_head(self, features: Tensor) -> Tensor:
        """Logits (B, M) from the feature map: global average pooling, then ``fc``."""
        return self.fc(torch.flatten(self.pool(features), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))
