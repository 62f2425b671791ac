"""seed_readme.py: the example of h5pySWMR's README, unchanged, on the
redislock driver (h5pyswmr is python/h5pyswmr in this repository).

    PYTHONPATH=<repo>/python HDF5_PLUGIN_PATH=<dir of the plugin> \
    H5REDISLOCK_URL=unix:///run/redis.sock python seed_readme.py

(the README assumed `import numpy as np`; it is the one line added).
"""
import numpy as np

# replaces 'from h5py import File'
from h5pyswmr import File

f = File('test.h5', 'w')
# create a dataset containing a 500x700 random array
f.create_dataset(name='/mygroup/mydataset', data=np.random.random((500, 700)))
# read data back into memory
data = f['/mygroup/mydataset'][:]
# no need to explicitely close the file (files are opened/closed when accessed)

print(data.shape, data.dtype)
