"""The small CNN digit classifier (the augmentation study's, `commgan.vision.augment.study`, and
the generator metrics of `commgan.vision.generate`) and its training on real and, optionally,
synthetic digits (batches mixed at a fixed share)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from commgan.rng import generator, seeded_weights
from commgan.vision.digits import NUM_CLASSES

__all__ = ["ClassifierTraining", "DigitsClassifier", "accuracy", "predict", "train_classifier"]


class DigitsClassifier(nn.Module):
    """Small CNN: x [B, 1, 8, 8] -> class logits [B, 10].

    Two 3x3 convs (16, 32 channels, ReLU), 2x2 max pooling, dropout, a linear layer.
    """

    def __init__(self, channels: int = 16, dropout: float = 0.3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(2 * channels * 16, NUM_CLASSES))

    def forward(self, x: Tensor) -> Tensor:
        """Logits [B, 10]."""
        return self.net(x)


@dataclass(frozen=True)
class ClassifierTraining:
    """Training of the classifier (the same for every method)."""

    steps: int = 300
    """Adam steps."""
    batch_size: int = 64
    """Images per step."""
    lr: float = 2e-3
    """Adam learning rate."""
    weight_decay: float = 5e-4
    """Adam (L2) weight decay."""
    channels: int = 16
    """Width of the first conv."""
    dropout: float = 0.3
    """Dropout before the linear layer."""


def train_classifier(real: tuple[Tensor, Tensor], synthetic: tuple[Tensor, Tensor] | None,
                     training: ClassifierTraining, init_seed: int, batch_seed: int,
                     real_fraction: float = 0.5, device: str = "cpu") -> DigitsClassifier:
    """A classifier trained on the real (images [N, 1, 8, 8], labels [N]) and, when given,
    synthetic images: ``real_fraction`` of each batch real, the rest synthetic, both drawn with
    replacement. Weights from ``init_seed``, batches from ``batch_seed``. Returns it in eval mode.
    """
    with seeded_weights(init_seed):  # the weights and the dropout masks
        model = DigitsClassifier(training.channels, training.dropout).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=training.lr,
                                     weight_decay=training.weight_decay)
        rng = generator(batch_seed)
        n_real = training.batch_size if synthetic is None else max(
            1, round(training.batch_size * real_fraction))
        model.train()
        for _ in range(training.steps):
            index = torch.randint(len(real[0]), (n_real,), generator=rng)
            images, labels = real[0][index], real[1][index]
            if synthetic is not None:
                extra = torch.randint(len(synthetic[0]), (training.batch_size - n_real,),
                                      generator=rng)
                images = torch.cat([images, synthetic[0][extra]])
                labels = torch.cat([labels, synthetic[1][extra]])
            loss = F.cross_entropy(model(images.to(device)), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch: int = 1024) -> Tensor:
    """Predicted classes [N] of images [N, 1, 8, 8] (on the CPU)."""
    device = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch].to(device)).argmax(1).cpu()
                      for i in range(0, len(images), batch)])


def accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` [N, 1, 8, 8] whose predicted class is ``labels`` [N]."""
    return float((predict(model, images) == labels).float().mean())
