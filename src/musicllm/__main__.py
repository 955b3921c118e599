"""`python -m musicllm` runs the command line."""

from musicllm.apps.cli import main

main()
