"""The test suite's Redis cache: clear() removes this run's keys only.

Django's RedisCache.clear() is FLUSHDB, which in the tests' Redis database also wipes the Celery
broker's queues and bindings and, under pytest-xdist, the other workers' rate-limit counters.
"""

from __future__ import annotations

from smpclinic.cache import RedisCache


class PrefixedRedisCache(RedisCache):
    def clear(self) -> bool:
        client = self._cache.get_client(None, write=True)
        keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=500))
        if keys:
            client.delete(*keys)
        return True
