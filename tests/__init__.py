"""The test suite is a package, so pytest puts the repository root (not ``tests/``) on ``sys.path``: the
project's ``compliance`` package, which runs from the checkout and is not installed, is never shadowed
by ``tests/compliance``."""
