"""The examples in the docstrings run and print what they say."""

import doctest
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

import rtrl.diagnostics
import rtrl.estimators
import rtrl.gradient


@pytest.mark.parametrize("module", [rtrl.gradient, rtrl.estimators, rtrl.diagnostics])
def test_docstring_examples(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
