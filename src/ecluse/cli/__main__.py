"""``python -m ecluse.cli``."""

from ecluse.cli import main

main()
