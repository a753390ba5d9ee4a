"""Every docstring example in the package runs and gives what it shows (one test per module).

Modules are found by walking ``glmprep/``; a module that cannot be imported because an
optional dependency is missing (``ModuleNotFoundError`` for a package outside glmprep) is
skipped with the reason, never silently passed."""
import doctest
import importlib
import pkgutil

import pytest

import glmprep


def package_modules():
    return sorted(m.name for m in pkgutil.walk_packages(glmprep.__path__, "glmprep.")
                  if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", package_modules())
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] != "glmprep":
            pytest.skip(f"optional dependency {exc.name} is not installed")
        raise
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, raise_on_error=False, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
