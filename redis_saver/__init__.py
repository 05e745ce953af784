"""A LangGraph checkpointer on plain Redis (6.2+, or Valkey), without modules.

Laid out by role, as LangGraph's own savers are: :mod:`redis_saver.aio` holds the async saver,
:mod:`redis_saver.base` the refusal of sync calls, :mod:`redis_saver.lua` the key layout and
scripts, :mod:`redis_saver.codec` the record bytes, :mod:`redis_saver.transport` the round
trips, and :mod:`redis_saver.errors` what it raises. It imports nothing from the server.
"""

from redis_saver.aio import RedisSaver
from redis_saver.codec import CheckpointHead
from redis_saver.errors import RedisSaverError, RedisUnavailable

__all__ = ["CheckpointHead", "RedisSaver", "RedisSaverError", "RedisUnavailable"]
