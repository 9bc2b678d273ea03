"""Django's Redis cache, reusing one redis-py client per connection pool.

Django's RedisCacheClient builds a new ``redis.Redis`` for every operation, and building one
fills its table of response callbacks (some 170 entries): on a page served from the cache
(bookings.pagecache) that was a fifth of the request's own work. The client is only a front
for the pool, safe to share, and Django keeps one cache object per thread anyway.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
