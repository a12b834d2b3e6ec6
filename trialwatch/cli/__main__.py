"""`python -m trialwatch.cli`: the same as the `trialwatch` command."""

from trialwatch.cli import main

if __name__ == "__main__":  # a spawned parse worker imports this module too
    main()
