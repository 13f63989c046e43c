"""`python -m cqkg`: the same as the `cqkg` command."""

from .cli import main

main(prog_name="cqkg")
