# The fixtures every test here may use: a private redis-server for the
# session (h5redislock/testing.py).
from h5redislock.testing import redis_server  # noqa: F401
