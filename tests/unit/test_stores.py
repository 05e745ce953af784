"""Each store's backends side by side, through their protocol: memory (or SQLite) and Redis on
a real ``redis-server``, and Redis on a real three-master Redis Cluster. What one promises, the
others keep: claims, limits, records; the run log keeps a run's frames for other replicas
(Redis), or knows no run of another (memory)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import redis.asyncio as aioredis

from app.errors import DuplicateRequest, ThreadBusy
from app.runs.run import Run
from app.settings import Settings
from app.stores.checkpointer import open_checkpointer
from app.stores.claims import Claims, MemoryClaims
from app.stores.limits import Limits, MemoryLimits, RateLimited, TooManyStreams
from app.stores.records import Records, RunEnd, RunRecord, ThreadRecord
from app.stores.redis_claims import RedisClaims
from app.stores.redis_client import RedisClient, run_key, thread_key
from app.stores.redis_inflight import RedisInFlight
from app.stores.redis_limits import RedisLimits
from app.stores.redis_records import RedisRecords
from app.stores.redis_run_log import RedisRunLog
from app.stores.run_log import MemoryRunLog
from app.stores.sqlite_records import SqliteRecords
from app.wire.codec import encoder_for
from redis_saver import RedisSaver, codec
from redis_saver.cluster import cluster_client
from tests.unit.support import ScriptedExecutor, spec


def _connect(request: pytest.FixtureRequest, kind: str) -> RedisClient:
    """A client on the session's flushed Redis, or on its flushed Redis Cluster."""
    if kind == "cluster":
        return cluster_client(request.getfixturevalue("redis_cluster_db"), max_connections=50)
    return aioredis.Redis.from_url(request.getfixturevalue("redis_db"))


@pytest.fixture(params=["redis", "cluster"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient]:
    connection = _connect(request, request.param)
    yield connection
    await connection.aclose()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def claims(request: pytest.FixtureRequest) -> AsyncIterator[Claims]:
    if request.param == "memory":
        yield MemoryClaims()
        return
    connection = _connect(request, request.param)
    yield RedisClaims(connection, prefix="t", ttl=5)
    await connection.aclose()


@pytest.fixture(params=["memory", "redis", "cluster"])
async def limits(request: pytest.FixtureRequest) -> AsyncIterator[Limits]:
    if request.param == "memory":
        yield MemoryLimits(per_minute=2, max_streams=1)
        return
    connection = _connect(request, request.param)
    store = RedisLimits(connection, prefix="t", per_minute=2, max_streams=1, ttl=5)
    yield store
    await store.aclose()
    await connection.aclose()


@pytest.fixture(params=["sqlite", "redis", "cluster"])
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Records]:
    if request.param != "sqlite":
        connection = _connect(request, request.param)
        yield RedisRecords(connection, prefix="t")
        await connection.aclose()
        return
    async with aiosqlite.connect(tmp_path / "records.sqlite") as conn:
        store = SqliteRecords(conn)
        await store.setup()
        yield store


async def test_claims_release_and_shared_secrets(claims: Claims) -> None:
    """A claim is released; a shared secret is the same each time it is asked for."""
    await claims.claim("r1", "t1")
    await claims.release("r1", "t1")
    await claims.claim("r2", "t1")  # the thread is free again
    await claims.release("r2", "t1")

    first, second = await claims.shared_secret("s"), await claims.shared_secret("s")
    assert first == second and len(first) >= 32


async def test_redis_claims_hold_a_thread_and_a_request_across_replicas(
    client: RedisClient,
) -> None:
    """Two replicas on one Redis: a held thread is busy for the other, a held request id a
    duplicate; the holder is named; a released claim frees both."""
    here, there = (RedisClaims(client, prefix="t", ttl=5) for _ in range(2))
    await here.claim("r1", "t1")

    with pytest.raises(ThreadBusy) as busy:
        await there.claim("r2", "t1")
    with pytest.raises(DuplicateRequest):
        await there.claim("r1", "t2")
    assert (busy.value.details or {}).get("requestId") == "r1"
    assert await there.running_elsewhere("r1")
    assert await there.holders(["t1", "t2"]) == {"t1": "r1"}

    await here.release("r1", "t1")
    assert not await there.running_elsewhere("r1")
    await there.claim("r2", "t1")
    await there.release("r2", "t1")


async def test_redis_claims_carry_a_cancel_to_the_replica_holding_the_run(
    client: RedisClient,
) -> None:
    """request_cancel on one replica reaches the listener of another."""
    here, there = (RedisClaims(client, prefix="t", ttl=5) for _ in range(2))
    heard: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
    there.start(on_cancel=lambda request_id, rollback: heard.put_nowait((request_id, rollback)))
    try:
        await asyncio.sleep(0.2)  # the listener subscribes
        await here.request_cancel("r1", rollback=True)
        assert await asyncio.wait_for(heard.get(), timeout=5) == ("r1", True)
    finally:
        await there.stop()


async def test_memory_claims_know_of_no_other_replica() -> None:
    """Nothing is elsewhere with one process: no holders, no watchers, nothing to cancel."""
    claims = MemoryClaims()
    await claims.claim("r1", "t1")
    assert not await claims.running_elsewhere("r1")
    assert await claims.holders(["t1"]) == {}
    await claims.watch("r1", 5)
    assert not await claims.watched("r1")


async def test_limits_refuse_past_the_rate_and_the_runs_at_once(limits: Limits) -> None:
    """Two turns a minute, one run at once: the third turn and the second run are refused,
    and a released slot can be taken again."""
    await limits.admit("alice")
    await limits.admit("alice")
    with pytest.raises(RateLimited):
        await limits.admit("alice")
    await limits.admit("bob")  # per user

    assert await limits.acquire("alice", "r1")
    with pytest.raises(TooManyStreams):
        await limits.acquire("alice", "r2")
    await limits.release("alice", "r1")
    assert await limits.acquire("alice", "r2")
    await limits.release("alice", "r2")


def _end(thread_id: str, user: str, run_id: str, status: str = "idle") -> RunEnd:
    now = time.time()
    thread = ThreadRecord(thread_id, user, now, now, {"graph_id": "g", "assistant_id": "a"}, status)  # type: ignore[arg-type]
    run = RunRecord(run_id, thread_id, user, "g", now, now, "success")
    return RunEnd(thread, run)


async def test_records_keep_threads_and_runs_and_ends_update_them(records: Records) -> None:
    """A run's end makes its thread's record (or updates its status, keeping its creation and
    its metadata) and its own; a user's threads and a thread's runs are listed newest first."""
    made = ThreadRecord("t1", "alice", 1.0, 1.0, {"mine": True})
    await records.put(made)
    await records.finish([_end("t1", "alice", "r1", "interrupted"), _end("t2", "bob", "r2")])
    await records.finish([_end("t1", "alice", "r3")])

    t1 = await records.get("t1")
    assert t1 is not None and t1.created_at == 1.0 and t1.status == "idle"
    assert t1.metadata == {"mine": True, "graph_id": "g", "assistant_id": "a"}
    assert [r.run_id for r in await records.runs_of("t1")] == ["r3", "r1"]
    assert (await records.get_run("r2")) is not None
    assert [t.thread_id for t in await records.of_user("alice")] == ["t1"]
    assert {t.thread_id for t in await records.of_user(None)} == {"t1", "t2"}

    await records.delete("t1")
    assert await records.get("t1") is None and await records.runs_of("t1") == []


def _run_log(client: RedisClient, claims: RedisClaims, inflight: RedisInFlight) -> RedisRunLog:
    return RedisRunLog(
        client,
        prefix="t",
        ttl=60,
        maxlen=1000,
        running=claims.running_elsewhere,
        pending=inflight.pending,
        watch=lambda request_id: claims.watch(request_id, 5),
    )


async def test_runs_in_flight_whose_claim_lapsed_are_orphans_until_adopted_or_forgotten(
    client: RedisClient,
) -> None:
    """A recorded run is an orphan once its claim is gone (its replica died), not before;
    adopting counts its starts; a forgotten run is no orphan, and adopting it finds nothing."""
    claims = RedisClaims(client, prefix="t", ttl=5)
    inflight = RedisInFlight(client, prefix="t", ttl=60)
    for request_id, thread_id in (("r1", "t1"), ("r2", "t2")):
        await claims.claim(request_id, thread_id)
        await inflight.record(request_id, b"record of " + request_id.encode())
    assert list(await inflight.orphans(10)) == []

    await client.delete(run_key("t", "r1", "claim"))  # as if its replica died: lapsed

    assert [(o.request_id, o.record) for o in await inflight.orphans(10)] == [
        ("r1", b"record of r1")
    ]
    assert await inflight.pending("r1")
    assert await inflight.adopt("r1") == 2
    assert await inflight.adopt("r1") == 3
    await inflight.forget("r1")
    assert list(await inflight.orphans(10)) == [] and not await inflight.pending("r1")
    assert await inflight.adopt("r1") is None
    assert not await client.exists(run_key("t", "r1", "run"))


async def test_a_taken_over_run_goes_on_in_the_same_log_after_its_base(
    client: RedisClient,
) -> None:
    """The replica taking a run over appends after ``base``: one log, ids still growing, no
    second owner entry, and a follower that waited through the gap (claim lapsed, record
    left) reads on to the new end rather than run_lost."""
    claims = RedisClaims(client, prefix="t", ttl=5)
    inflight = RedisInFlight(client, prefix="t", ttl=60)
    log = _run_log(client, claims, inflight)
    run_spec = spec("t1", user_id="alice")
    key = log.key(run_spec.request_id)
    # What a replica that died mid-run leaves: its owner entry, two frames, no end, no claim.
    await client.xadd(key, {"u": "alice", "t": "t1"}, id="0-1")
    for position, text in ((1, "Hel"), (2, "lo")):
        data = b'{"type":"chunk","content":"%s"}' % text.encode()
        await client.xadd(key, {"n": "stream_event", "d": data}, id=f"{position}-0")
    await inflight.record(run_spec.request_id, b"r")
    reader = log.frames(run_spec.request_id, 0)
    seen = await anext(reader)

    async def taken_over() -> None:
        await asyncio.sleep(1.5)  # the follower meets a lapsed claim and a left record
        await claims.claim(run_spec.request_id, "t1")
        second = Run(ScriptedExecutor(["Hello"]), run_spec, base=1_000_000)  # type: ignore[arg-type]
        log.attach(second, encoder_for(run_spec))
        await second.task
        await log.end(second)
        await inflight.forget(run_spec.request_id)
        await claims.release(run_spec.request_id, "t1")

    task = asyncio.create_task(taken_over())
    rest = [f async for batch in reader for f in batch]
    await task
    owners: Any = await client.xrange(log.key(run_spec.request_id), "0-1", "0-1")
    await log.aclose()

    assert [p for p, _, _ in seen] == [1, 2]
    assert [(p, n) for p, n, _ in rest] == [(1_000_001, b"stream_event"), (1_000_002, b"final")]
    assert len(owners) == 1


async def test_the_redis_run_log_serves_a_run_to_another_replica(
    client: RedisClient,
) -> None:
    """A run's frames, its owner and its end, read back from Redis as another replica would."""
    claims = RedisClaims(client, prefix="t", ttl=5)
    log = _run_log(client, claims, RedisInFlight(client, prefix="t", ttl=60))
    run_spec = spec("t1", user_id="alice")
    await claims.claim(run_spec.request_id, "t1")
    run = Run(ScriptedExecutor(["Hel", "lo"]), run_spec)  # type: ignore[arg-type]
    log.attach(run, encoder_for(run_spec))
    await run.task
    await log.end(run)
    await claims.release(run_spec.request_id, "t1")

    owner = await log.owner(run_spec.request_id)
    frames = [f async for batch in log.frames(run_spec.request_id, 0) for f in batch]
    await log.aclose()

    assert owner is not None and (owner.user_id, owner.thread_id) == ("alice", "t1")
    assert [(position, name) for position, name, _ in frames] == [
        (1, b"stream_event"),
        (2, b"stream_event"),
        (3, b"final"),
    ]
    assert b'"Hel"' in frames[0][2]
    assert await log.ended_by(run_spec.request_id, 3)
    assert not await log.ended_by(run_spec.request_id, 2)


async def test_the_memory_run_log_knows_no_run_of_another_replica() -> None:
    """With one process every run is in the registry: the log has nothing to add."""
    log = MemoryRunLog()
    run = Run(ScriptedExecutor(["x"]), spec())  # type: ignore[arg-type]
    log.attach(run, encoder_for(run.spec))
    await run.task
    await log.end(run)

    assert await log.owner(run.spec.request_id) is None
    assert [batch async for batch in log.frames(run.spec.request_id, 0)] == []


async def test_redis_records_on_a_cluster_list_threads_and_runs_of_every_shard(
    redis_cluster_db: str,
) -> None:
    """On three masters, 24 threads' records spread over every shard, and a user's listing,
    everyone's, and a thread's runs find each of them; a deleted thread is gone from all."""
    client = cluster_client(redis_cluster_db, max_connections=50)
    records = RedisRecords(client, prefix="t")
    try:
        await records.finish([_end(f"t{i}", "alice", f"r{i}") for i in range(24)])
        await records.finish([_end("t0", "alice", f"again{i}") for i in range(5)])

        masters = client.get_primaries()
        holding = {client.get_node_from_key(thread_key("t", f"t{i}", "record")) for i in range(24)}
        assert len(holding) == len(masters) == 3
        # A thread's record, claim and runs live in the slot of its checkpoints.
        checkpoints = codec.thread_keys("t", "t0").data
        assert {
            client.keyslot(thread_key("t", "t0", kind)) for kind in ("record", "lock", "runs")
        } == {client.keyslot(checkpoints)}
        assert {t.thread_id for t in await records.of_user("alice")} == {f"t{i}" for i in range(24)}
        assert len(await records.of_user(None)) == 24
        assert len(await records.runs_of("t0")) == 6

        await records.delete("t0")
        assert await records.get("t0") is None and await records.runs_of("t0") == []
        assert len(await records.of_user("alice")) == 23
    finally:
        await client.aclose()


async def test_a_cancel_on_a_cluster_reaches_a_listener_on_every_node(
    redis_cluster_db: str,
) -> None:
    """A cancel published through the cluster client is heard on each node, so the replica
    holding the run hears it whichever node its listener is on."""
    client = cluster_client(redis_cluster_db, max_connections=50)
    await client.initialize()
    listeners = [client.pubsub(node=node) for node in client.get_nodes()]
    try:
        for pubsub in listeners:
            await pubsub.subscribe("t:cancel")
            assert (await pubsub.get_message(timeout=2))["type"] == "subscribe"
        await RedisClaims(client, prefix="t").request_cancel("r1")
        heard = [await pubsub.get_message(timeout=2) for pubsub in listeners]
    finally:
        for pubsub in listeners:
            await pubsub.aclose()
        await client.aclose()

    assert len(heard) == 3
    assert [m and m["data"] for m in heard] == [b"r1"] * 3


@pytest.mark.parametrize("size", [0, 500])
async def test_open_checkpointer_when_message_cache_set_then_saver_bounds_both_caches(
    redis_db: str, size: int
) -> None:
    """REDIS_MESSAGE_CACHE reaches the saver: its decoded and its encoded messages."""
    settings = Settings(redis_url=redis_db, redis_message_cache=size)
    async with open_checkpointer(settings) as checkpointer:
        saver = checkpointer.saver
        assert isinstance(saver, RedisSaver)
        assert (saver.decoded_messages, saver.encoded_messages) == (size, size)
