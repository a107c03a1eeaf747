"""``python -m modelplane`` runs the CLI (the same as the ``modelplane`` command)."""

from modelplane.cli import main

main()
