"""The embedded default's settings: full (1-3 minutes on 2 CPU cores) and --quick."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DemoSettings:
    """Sizes, epochs and the validation grids of ``infocam demo``.

    Every random draw derives from ``seed``: the digit split, the canvases,
    the model initialisation and the data order.
    """

    seed: int = 0
    # single-object WSOL on 64 x 64 canvases
    canvas: int = 64
    n_train: int = 5000
    n_val: int = 1000
    n_test: int = 1000
    epochs: int = 6
    milestones: tuple[int, ...] = (4, 5)
    # double-digit MNIST (32 x 64 canvases)
    ml_n_train: int = 6000
    ml_n_val: int = 1000
    ml_n_test: int = 1000
    ml_epochs: int = 4
    ml_milestones: tuple[int, ...] = (3,)
    # The binary cross-entropy losses average over the 10 labels, so their
    # gradients are 10x smaller than cross-entropy's: 10x the learning rate
    # puts both heads on the same footing (0.05 left the sigmoid head
    # predicting "absent" for almost every digit).
    ml_lr: float = 0.5
    # training
    batch_size: int = 64
    lr: float = 0.05
    # chosen on the validation split, per method
    regions: tuple[int, ...] = (1, 2, 3, 4)
    thresholds: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 9))  # 0.1 .. 0.8
    ml_thresholds: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    figure_images: int = 8
    # faithfulness of the chosen maps (deletion / insertion, Average Drop) on the first test canvases:
    # 3 maps x 64 canvases x (2 x 16 + 3) forward passes, about 5 s of the demo's 180 s on 2 cores;
    # 16 steps of 256 pixels (at 8 steps the first step already removes the whole digit)
    faith_steps: int = 16
    faith_images: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


def quick_settings(seed: int = 0) -> DemoSettings:
    """A shortened run for tests and a first look (well under a minute)."""
    return DemoSettings(
        seed=seed,
        n_train=640,
        n_val=128,
        n_test=128,
        epochs=2,
        milestones=(1,),
        ml_n_train=640,
        ml_n_val=128,
        ml_n_test=128,
        ml_epochs=2,
        ml_milestones=(1,),
        regions=(1, 3),
        thresholds=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
        ml_thresholds=(0.4, 0.6),
        figure_images=4,
        faith_steps=4,
        faith_images=32,
    )
