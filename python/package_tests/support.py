"""Helpers of the py_package_* tests (see conftest.py)."""

import os
import subprocess
import sys
import time

from h5redislock.testing import child_env

BIN = os.path.dirname(sys.executable)
SITE = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))


def clean_env(**changes):
    """The environment of a newcomer's shell: nothing of ours set, the
    virtualenv's programs first on PATH."""
    unset = dict.fromkeys(("PYTHONPATH", "HDF5_PLUGIN_PATH", "LD_LIBRARY_PATH", "LD_PRELOAD", "H5REDISLOCK_URL",
                           "H5REDISLOCK_LINKED_HDF5"))
    return child_env(**dict(unset, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), **changes))


class Script:
    """A script run as a child process in `cwd`, with files through which
    it says it holds its file (ready) and is told to close it (release)."""

    def __init__(self, argv, env, cwd, name):
        self.ready = os.path.join(cwd, name + ".ready")
        self.release = os.path.join(cwd, name + ".release")
        self.proc = subprocess.Popen(argv + [self.ready, self.release], env=env, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout):
        """True once the script holds its file; False after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.ready):
                return True
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError("the script ended (%s) without opening its file:\n%s%s"
                                     % (self.proc.returncode, out, err[-3000:]))
            time.sleep(0.02)
        return False

    def finish(self, timeout=60):
        open(self.release, "w").close()
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err[-3000:]
        return out
