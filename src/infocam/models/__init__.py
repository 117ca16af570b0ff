"""Models: VGG16-GAP, ResNet50 (output stride 16), a small CNN, ADL and a name registry.

Every model here ends in global average pooling + one ``nn.Linear`` and has
``forward_features(x)`` (the CAM feature map, B x K x h x w) and
``forward_head(features)`` (the logits), so ``forward(x)`` is
``forward_head(forward_features(x))``. ``new_layer_names`` lists the layers
trained at 10x the base learning rate (:func:`param_groups`).
"""

from infocam.models.adl import ADL
from infocam.models.registry import (
    LoadReport,
    WeightsWarning,
    build_model,
    list_models,
    load_weights,
    new_parameters,
    param_groups,
    read_state_dict,
)
from infocam.models.resnet import ResNet50GAP
from infocam.models.small_cnn import SmallCNN
from infocam.models.vgg_gap import VGG16GAP

__all__ = [
    "ADL",
    "VGG16GAP",
    "LoadReport",
    "ResNet50GAP",
    "SmallCNN",
    "WeightsWarning",
    "build_model",
    "list_models",
    "load_weights",
    "new_parameters",
    "param_groups",
    "read_state_dict",
]
