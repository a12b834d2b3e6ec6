"""`python -m trialwatch.cli`: the same as the `trialwatch` command."""

from trialwatch.cli import main

main()
