"""The Python stacks users have, unmodified, under the lock: h5py (HDF5
2.0.0 inside), netCDF4 (2.2.0 inside, as xarray's netCDF backend) and
PyTables (1.14.6 inside, as pandas' HDFStore), each through `h5redislock
run` and through HDF5_DRIVER with HDF5_PLUGIN_PATH=$(h5redislock plugin-dir).
A writer holds the file and a reader waits for it; then two readers hold it
together. The scripts import only their library."""

import os
import subprocess
import sys

import pytest

from support import Script, clean_env

# Each opens argv[1] with mode argv[2] ("w": creates it with x = 1; "r":
# checks x), says so in the file argv[3], and closes it once argv[4] exists.
HOLD = """
import os, sys, time
path, mode, ready, release = sys.argv[1:]
{open}
open(ready + ".tmp", "w").write(str(time.time()))
os.rename(ready + ".tmp", ready)
while not os.path.exists(release):
    time.sleep(0.01)
{close}
"""
OPEN = {
    "h5py": """import h5py
f = h5py.File(path, mode)
if mode == "w": f["x"] = 1
else: assert f["x"][()] == 1""",
    "netCDF4": """import netCDF4
f = netCDF4.Dataset(path, mode)
if mode == "w":
    f.createDimension("n", 1)
    f.createVariable("x", "i4", ("n",))[:] = [1]
else: assert f["x"][0] == 1""",
    "tables": """import tables
f = tables.open_file(path, mode)
if mode == "w": f.create_array("/", "x", [1])
else: assert f.root.x[0] == 1""",
}


def _plugin_dir():
    return subprocess.run(["h5redislock", "plugin-dir"], env=clean_env(), capture_output=True, text=True,
                          check=True).stdout.strip()


class Route:
    """How a script gets the driver: `h5redislock run` or the environment."""

    def __init__(self, name, url):
        self.name, self.url = name, url

    def start(self, library, path, mode, work, name):
        script = [sys.executable, "-c", HOLD.format(open=OPEN[library], close="f.close()"), path, mode]
        if self.name == "run":
            return Script(["h5redislock", "run", "--url", self.url, "--"] + script, clean_env(), str(work), name)
        env = clean_env(HDF5_PLUGIN_PATH=_plugin_dir(), HDF5_DRIVER="redislock",
                        HDF5_DRIVER_CONFIG="url=" + self.url + ";timeout=60")
        return Script(script, env, str(work), name)


@pytest.mark.parametrize("route", ["run", "HDF5_DRIVER"])
@pytest.mark.parametrize("library", ["h5py", "netCDF4", "tables"])
def test_writer_holds_readers_wait_then_overlap(library, route, work, redis_server):
    route = Route(route, redis_server.url)
    path = str(work / ("data.nc" if library == "netCDF4" else "data.h5"))
    writer = route.start(library, path, "w", work, "writer")
    assert writer.wait_ready(60)
    assert redis_server.lock_entries(path, "held") == 1, "the writer's open took no lock"
    reader = route.start(library, path, "r", work, "reader")
    assert not reader.wait_ready(1.5), "a reader opened the file while the writer held it"
    assert redis_server.lock_entries(path, "queue") == 1
    writer.finish()
    assert reader.wait_ready(30)
    second = route.start(library, path, "r", work, "second")
    assert second.wait_ready(30), "the second reader waited for the first"
    assert redis_server.lock_entries(path, "held") == 2
    reader.finish()
    second.finish()
    assert redis_server.acquisitions(path) >= 3


XARRAY = """
import numpy as np, sys, xarray as xr
path = sys.argv[1]
xr.Dataset({"t": ("x", np.arange(5.0))}).to_netcdf(path, engine="netcdf4")
with xr.open_dataset(path, engine="netcdf4") as ds:
    assert ds["t"].values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
print("round trip")
"""


def test_xarray_round_trip_under_run(work, redis_server):
    pytest.importorskip("xarray")
    path = str(work / "x.nc")
    out = subprocess.run(["h5redislock", "run", "--url", redis_server.url, "--", sys.executable, "-c", XARRAY, path],
                         env=clean_env(), cwd=str(work), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "round trip"
    assert redis_server.acquisitions(path) >= 2


def test_run_with_no_server_named_starts_its_own(work):
    """A newcomer's first command: no Redis set up, no variables."""
    env = clean_env(H5REDISLOCK_RUNTIME_DIR=str(work / "runtime"))
    script = HOLD.format(open=OPEN["h5py"], close="f.close()")
    ready, release = str(work / "ready"), str(work / "release")
    open(release, "w").close()
    try:
        out = subprocess.run(["h5redislock", "run", "--", sys.executable, "-c", script, str(work / "e.h5"), "w",
                              ready, release], env=env, cwd=str(work), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        status = subprocess.run(["h5redislock", "status", str(work / "e.h5")], env=env, capture_output=True,
                                text=True, timeout=60)
        assert status.returncode == 0, status.stderr
    finally:
        subprocess.run(["h5redislock", "server", "stop"], env=env, capture_output=True, timeout=60)
