"""`prismlm` console command. Importing a command module registers its commands."""

from .apps import app

# Command modules (each attaches its commands to an app from .apps).
from . import bench  # noqa: E402,F401  isort: skip
from . import kb  # noqa: E402,F401  isort: skip
from . import holo  # noqa: E402,F401  isort: skip
from . import compare  # noqa: E402,F401  isort: skip
from . import continual  # noqa: E402,F401  isort: skip
from . import prism  # noqa: E402,F401  isort: skip
from . import reproduce  # noqa: E402,F401  isort: skip
from . import pretrain  # noqa: E402,F401  isort: skip
from . import levers  # noqa: E402,F401  isort: skip
from . import pcs  # noqa: E402,F401  isort: skip
from . import generate  # noqa: E402,F401  isort: skip
from . import chat  # noqa: E402,F401  isort: skip

__all__ = ["app", "main"]


def main() -> None:
    app()
