"""asv suite for rtrl: time and peak memory per learner, cell, hidden size and dtype.

Run from ``benchmarks/``::

    asv run --python=same --quick          # the installed rtrl, once
    asv continuous main HEAD               # two commits, built in their own environments
"""
