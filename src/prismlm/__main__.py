"""`python -m prismlm …` (and `torchrun -m prismlm …`) runs the `prismlm` command."""

from .cli import main

if __name__ == "__main__":
    main()
