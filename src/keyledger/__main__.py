"""``python -m keyledger``."""

from keyledger.cli import main

main()
