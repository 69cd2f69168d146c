"""Weight initialisation shared by the language models."""

from torch import nn


def init_linear_and_embedding_(module: nn.Module, std: float = 0.02) -> None:
    """Every Linear weight and Embedding ~ N(0, std), every Linear bias 0 (convs keep defaults)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, std)
