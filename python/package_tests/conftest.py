"""The py_package_* tests: the wheel that scripts/wheel built, installed with
PyPI's wheels only into a fresh virtualenv (make_venv), as a newcomer with
only Python and pip gets it. Everything runs in child processes started from
a temporary directory, with no PYTHONPATH, HDF5_PLUGIN_PATH or
LD_LIBRARY_PATH: what they import comes from the virtualenv.

The redis-server is the package's own test fixture (h5redislock.testing).
"""

import pytest

from h5redislock.testing import redis_server  # noqa: F401


@pytest.fixture
def work(tmp_path):
    """A directory outside the clone, for the scripts and their files."""
    return tmp_path
