"""The `h5redislock` command as pip installs it (the console script of the
wheel): it runs the program that the wheel ships in h5redislock/bin, as the
cmake and ninja wheels run theirs. The program finds its plugin beside itself,
in h5redislock/plugins.

It is a package of its own so that the command never imports h5redislock,
which imports h5py and so starts HDF5 (and, with HDF5_DRIVER set, loads the
driver) before the command could set anything up.
"""

import importlib.util
import os
import sys


def program():
    """The path of the h5redislock program of the installed package."""
    spec = importlib.util.find_spec("h5redislock")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("h5redislock: the h5redislock package is not installed; reinstall it (pip install h5redislock)")
    return os.path.join(list(spec.submodule_search_locations)[0], "bin", "h5redislock")


def main():
    path = program()
    if not os.access(path, os.X_OK):
        raise SystemExit("h5redislock: %s is missing; this installation of h5redislock has no command "
                         "(pip install --force-reinstall h5redislock)" % path)
    os.execv(path, [path] + sys.argv[1:])
