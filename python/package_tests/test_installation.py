"""What pip installed: the package, its plugin and command from the
virtualenv's site-packages; one libhdf5 in a process, h5py's; no copy of
OpenSSL in the wheel, whose TLS library uses the system's."""

import os
import subprocess
import sys

import h5redislock
from h5redislock import _elf

from support import SITE, clean_env

PACKAGE = os.path.join(SITE, "h5redislock")


def test_package_plugin_and_command_come_from_site_packages(work):
    assert os.path.dirname(h5redislock.__file__) == PACKAGE
    out = subprocess.run(["h5redislock", "plugin-dir"], env=clean_env(), cwd=str(work), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == os.path.join(PACKAGE, "plugins")
    out = subprocess.run(["h5redislock", "--version"], env=clean_env(), cwd=str(work), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "h5redislock " + h5redislock.__version__


ONE_PROCESS = """
import h5redislock, sys
with h5redislock.File(sys.argv[1], "w") as f:
    f["x"] = 1
    print(h5redislock.plugin().path)
    print(h5redislock.libhdf5().path)
    print("\\n".join(sorted({l.split()[-1] for l in open("/proc/self/maps") if "libhdf5" in l})))
"""


def test_one_libhdf5_h5pys_and_the_plugin_from_site_packages(work, redis_server):
    out = subprocess.run([sys.executable, "-c", ONE_PROCESS, str(work / "a.h5")],
                         env=clean_env(H5REDISLOCK_URL=redis_server.url), cwd=str(work), capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    plugin, libhdf5, *mapped = out.stdout.split()
    assert plugin == os.path.join(PACKAGE, "plugins", "libh5fd_redislock_dl.so")
    libhdf5s = [m for m in mapped if _elf.is_libhdf5(m)]
    assert len(libhdf5s) == 1 and os.path.realpath(libhdf5s[0]) == os.path.realpath(libhdf5), mapped
    assert os.path.realpath(libhdf5).startswith(os.path.join(os.path.realpath(SITE), "h5py.libs") + "/")


def test_no_openssl_in_the_wheel():
    plugin = os.path.join(PACKAGE, "plugins", "libh5fd_redislock_dl.so")
    tls = os.path.join(PACKAGE, "plugins", "h5redislock_tls.so")
    assert not [n for n in _elf.dynamic_names(plugin)[1] if "ssl" in n or "crypto" in n]
    assert {"libssl.so.3", "libcrypto.so.3"} <= set(_elf.dynamic_names(tls)[1])
    copies = [os.path.join(d, f) for d, _, files in os.walk(SITE) for f in files
              if f.startswith(("libssl", "libcrypto")) and "h5redislock" in d]
    assert not copies, copies


def test_doctor_of_the_wheels_command(work, redis_server):
    """The wheel's command has no HDF5 of its own: doctor checks the plugin
    and says where it is, and reaches the server."""
    out = subprocess.run(["h5redislock", "doctor", "--url", redis_server.url, str(work)], env=clean_env(),
                         cwd=str(work), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    plugins = os.path.join(PACKAGE, "plugins")
    assert "ok    plugin                `h5redislock run` uses %s/libh5fd_redislock_dl.so" % plugins in out.stdout
    assert "export HDF5_PLUGIN_PATH=" + plugins in out.stdout, out.stdout
    assert "ok    lock scripts" in out.stdout, out.stdout


def test_h5pyswmr_test_without_pytest_says_what_to_install(work):
    code = "import sys; sys.modules['pytest'] = None\nimport h5pyswmr\nh5pyswmr.test()\n"
    out = subprocess.run([sys.executable, "-c", code], env=clean_env(), cwd=str(work), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0
    assert "pip install pytest" in out.stderr.strip().splitlines()[-1], out.stderr
