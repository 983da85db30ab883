"""Load benchmarks of the catalog search, run outside the test suite.

Tests say whether an answer is right; these say how many answers a second the
service gives, how late the slowest ones are, and how that compares with the
reference apps in ../shared/bench/anchors, on the same machine and the same
synthetic catalog. Run them with::

    python -m benchmarks.run --books 1000000 --duration 10

See README.md ("Benchmarks") for what each scenario measures.
"""
