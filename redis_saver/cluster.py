"""The saver's round trips on a Redis Cluster, through redis-py's cluster client.

The client (``redis.asyncio.cluster.RedisCluster``) keeps the topology: which node serves which
slot, each node's connections, the refresh after a failover. A batch is cut into units (a
command, or a ``MULTI`` … ``EXEC`` block, whose keys share one slot), the units are grouped by the
node that owns their slot, and each node gets its group packed once, written once, answered on
one of its connections, every node at the same time. A unit that hears ``MOVED``, ``ASK``,
``TRYAGAIN`` or ``CLUSTERDOWN``, or whose node cannot be reached, goes again after the topology is
read anew, for a few seconds: long enough for a replica to take over a failed master.

Commands without a key: ``PING`` and ``SCRIPT`` go to every master (each must answer, each
caches its own scripts); ``SCAN`` from cursor 0 walks every master to its end and answers one
page with cursor 0; anything else goes to one master. A ``DEL`` of keys in several slots is one
``DEL`` per slot, its reply their sum.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import (
    AskError,
    ClusterDownError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from redis_saver.errors import RedisUnavailable

Command = Sequence[EncodableT]
Packer = Callable[[Sequence[Command]], bytes]

# MovedError is an AskError; ExecAbortError carries the MOVED of a block's first command.
_AGAIN = (AskError, TryAgainError, ClusterDownError)
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, RedisClusterException)
_ATTEMPTS = 10  # with the backoff below, about 4 s before giving up
_EVERY_MASTER = {b"PING", b"SCRIPT"}
_KEYLESS = {b"PING", b"SCRIPT", b"INFO", b"SCAN", b"MULTI", b"EXEC", b"CLUSTER", b"TIME"}


def _name(command: Command) -> bytes:
    head = command[0]
    return (head.encode() if isinstance(head, str) else bytes(head)).upper()  # type: ignore[arg-type]


def _key(command: Command, name: bytes) -> EncodableT | None:
    if name in (b"EVALSHA", b"EVAL", b"EVALSHA_RO", b"EVAL_RO", b"FCALL"):
        return command[3] if int(command[2]) else None
    return None if name in _KEYLESS or len(command) < 2 else command[1]


@dataclass(slots=True)
class _Unit:
    """Commands that go to one node together, answering the batch's ``index`` onwards."""

    index: int
    commands: list[Command]
    key: EncodableT | None  # None: no key (every master, or any one)
    every_master: bool = False
    summed: bool = False  # one of several DELs that answer one DEL of the batch


def _units(commands: Sequence[Command], names: Sequence[bytes]) -> list[_Unit]:
    """The batch's units, but its ``SCAN``s (answered apart)."""
    units: list[_Unit] = []
    i = 0
    while i < len(commands):
        command, name = commands[i], names[i]
        if name == b"MULTI":
            end = names.index(b"EXEC", i)
            block = list(commands[i : end + 1])
            key = next(
                (
                    k
                    for c, n in zip(block, names[i : end + 1], strict=True)
                    if (k := _key(c, n)) is not None
                ),
                None,
            )
            units.append(_Unit(i, block, key))
            i = end + 1
            continue
        if name == b"DEL" and len(command) > 2:
            units.extend(_Unit(i, [(command[0], key)], key, summed=True) for key in command[1:])
        elif name != b"SCAN":
            key = _key(command, name)
            units.append(_Unit(i, [command], key, every_master=name in _EVERY_MASTER))
        i += 1
    return units


class ClusterRoutes:
    """Sends batches to the masters that own their keys; see the module's docstring."""

    def __init__(self, client: RedisCluster, pack: Packer) -> None:
        self._client = client
        self._pack = pack

    async def send(self, commands: Sequence[Command]) -> list[Any]:
        """One reply per command, in order; a server error in its reply's place."""
        try:
            await self._client.initialize()
        except RedisClusterException as exc:  # no startup node answers: the cluster is away
            raise RedisConnectionError(f"the cluster cannot be reached: {exc}") from exc
        replies: list[Any] = [None] * len(commands)
        names = [_name(c) for c in commands]
        for i, name in enumerate(names):
            if name == b"SCAN":
                replies[i] = await self._scan_every_master(commands[i])
        todo = _units(commands, names)
        for u in todo:
            if u.summed:
                replies[u.index] = 0
        failure: BaseException | None = None
        for attempt in range(_ATTEMPTS):
            if attempt:
                await asyncio.sleep(min(0.05 * 2 ** (attempt - 1), 0.5))
                try:
                    await self._client.nodes_manager.initialize()
                except (*_UNREACHABLE, ResponseError) as exc:
                    failure = exc
                    continue
            try:
                groups = self._groups(todo)
            except RedisClusterException as exc:  # a slot nobody serves, for now
                failure = exc
                continue
            outcomes = await asyncio.gather(
                *(self._send_group(node, units) for node, units in groups.items()),
                return_exceptions=True,
            )
            todo = []
            for units, outcome in zip(groups.values(), outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    if not isinstance(outcome, _UNREACHABLE):
                        raise outcome
                    failure = outcome
                    todo.extend(units)
                    continue
                for unit, unit_replies in zip(units, outcome, strict=True):
                    if any(isinstance(r, _AGAIN) for r in unit_replies):
                        failure = next(r for r in unit_replies if isinstance(r, ResponseError))
                        todo.append(unit)
                    else:
                        self._place(replies, unit, unit_replies)
            # A unit sent to every master goes again to all of them; they answer the same.
            todo = list({id(u): u for u in todo}.values())
            if not todo:
                return replies
        raise RedisConnectionError(f"the cluster did not answer after {_ATTEMPTS} tries: {failure}")

    def _groups(self, units: Sequence[_Unit]) -> dict[ClusterNode, list[_Unit]]:
        groups: dict[ClusterNode, list[_Unit]] = {}
        for unit in units:
            if unit.key is not None:
                node = self._client.get_node_from_key(unit.key)  # type: ignore[arg-type]
                targets = [node] if node is not None else []
            elif unit.every_master:
                targets = self._client.get_primaries()
            else:
                targets = [self._client.get_random_primary_node()]
            if not targets:
                raise RedisClusterException(f"no master serves the key {unit.key!r}")
            for node in targets:
                groups.setdefault(node, []).append(unit)
        return groups

    @staticmethod
    def _place(replies: list[Any], unit: _Unit, unit_replies: list[Any]) -> None:
        if unit.summed:
            reply = unit_replies[0]
            replies[unit.index] = (
                reply if isinstance(reply, Exception) else (replies[unit.index] + reply)
            )
            return
        if unit.every_master and replies[unit.index] is not None:
            if isinstance(unit_replies[0], Exception):  # one master's refusal is the reply
                replies[unit.index] = unit_replies[0]
            return
        replies[unit.index : unit.index + len(unit_replies)] = unit_replies

    async def _send_group(self, node: ClusterNode, units: Sequence[_Unit]) -> list[list[Any]]:
        commands = [c for unit in units for c in unit.commands]
        flat = await self._round_trip(node, self._pack(commands), len(commands))
        out, at = [], 0
        for unit in units:
            out.append(flat[at : at + len(unit.commands)])
            at += len(unit.commands)
        return out

    async def _round_trip(self, node: ClusterNode, packed: bytes, expected: int) -> list[Any]:
        conn = node.acquire_connection()
        try:
            await conn.send_packed_command(packed, check_health=False)
            replies: list[Any] = []
            for _ in range(expected):
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:  # read whole: the connection is still in step
                    replies.append(exc)
        except BaseException:
            # Broken, cancelled or timed out mid-reply: the socket may still hold unread data.
            await conn.disconnect()
            node.release(conn)
            raise
        node.release(conn)
        return replies

    async def _scan_every_master(self, command: Command) -> Any:
        cursor, *options = command[1:]
        if str(cursor.decode() if isinstance(cursor, bytes) else cursor) != "0":
            raise ValueError("on a cluster, SCAN walks every master from cursor 0 in one call")
        found: list[Any] = []
        for node in self._client.get_primaries():
            at: EncodableT = b"0"
            while True:
                (reply,) = await self._round_trip(node, self._pack([("SCAN", at, *options)]), 1)
                if isinstance(reply, Exception):
                    return reply
                at, keys = reply
                found.extend(keys)
                if at in (b"0", 0, "0"):
                    break
        return [b"0", found]


async def is_cluster(url: str, **client_kwargs: Any) -> bool | None:
    """Whether the node at ``url`` runs in cluster mode (``INFO cluster``); None if it cannot
    be reached."""
    client = Redis.from_url(url, **client_kwargs)
    try:
        info = await client.info("cluster")
    except (*_UNREACHABLE, ResponseError):
        return None
    finally:
        await client.aclose()
    return bool(info.get("cluster_enabled"))


def cluster_client(url: str, *, max_connections: int, **client_kwargs: Any) -> RedisCluster:
    """A cluster client from one node's URL, which finds the others itself.

    ``max_connections`` is per node. Its retries outlast a failover of a few seconds (a
    replica's election after ``cluster-node-timeout``) at a short backoff, rather than the
    client's default of up to ten seconds between tries.
    """
    client_kwargs.setdefault(
        "retry", Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=8)
    )
    client_kwargs.setdefault("socket_connect_timeout", 2.0)
    # As for plain Redis (RedisSaver.from_url): the saver bounds its own calls, and a socket
    # timeout costs an asyncio timeout around every reply read.
    client_kwargs.setdefault("socket_timeout", None)
    return RedisCluster.from_url(url, max_connections=max_connections, **client_kwargs)


async def check_state(client: RedisCluster) -> None:
    """Raise :class:`RedisUnavailable` unless every master answers ``cluster_state:ok`` (a
    node answers ``PING`` while its cluster refuses every key: a shard without a master)."""
    try:
        await client.initialize()
        for node in client.get_primaries():
            info = await client.execute_command("CLUSTER INFO", target_nodes=node)
            state = info.get("cluster_state") if isinstance(info, dict) else None
            if state != "ok":
                raise RedisUnavailable(f"the cluster's state is {state!r} at {node.name}")
    except (*_UNREACHABLE, ResponseError) as exc:
        raise RedisUnavailable(f"the cluster cannot be reached: {exc}") from exc
