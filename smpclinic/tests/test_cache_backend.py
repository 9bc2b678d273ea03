"""smpclinic.cache.RedisCache: Django's, with one redis-py client per connection pool."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from smpclinic.cache import RedisCache

pytestmark = pytest.mark.redis


def test_the_cache_reuses_one_client_and_still_reads_what_it_wrote(redis_url):
    cache = RedisCache(redis_url, {"KEY_PREFIX": "tests-cache-backend"})
    assert cache._cache.get_client(write=False) is cache._cache.get_client(write=True)
    cache.set("k", {"page": b"x" * 100}, 30)
    assert cache.get_many(["k", "missing"]) == {"k": {"page": b"x" * 100}}
    cache.delete("k")


def test_the_project_cache_is_this_backend_on_redis(redis_url):
    assert isinstance(caches["default"], RedisCache)
