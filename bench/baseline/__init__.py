"""A naive, tutorial-style Django redirect project: the yardstick for `make bench`."""
