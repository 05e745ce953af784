"""LangGraph's checkpointer conformance suite, every capability, against RedisSaver on one
Redis and on a Redis Cluster (``shared_redis``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES
from langgraph.checkpoint.conformance.report import CapabilityReport

from redis_saver import RedisSaver

# Tests of the suite that read back a checkpoint other than a namespace's newest one. With
# keep_history=False those checkpoints are gone by design, so these (and only these) fail.
NEEDS_HISTORY = {
    "test_put_multiple_checkpoints_same_thread",
    "test_put_incremental_channel_update",
    "test_get_tuple_specific_checkpoint_id",
    "test_list_all",
    "test_list_by_thread",
    "test_list_ordering",
    "test_list_metadata_filter_single_key",
    "test_list_metadata_filter_step",
    "test_list_metadata_custom_keys",
    "test_list_before",
    "test_list_limit",
    "test_list_limit_plus_before",
    "test_list_combined_thread_and_filter",
    "test_delete_for_runs_single",
    "test_delete_for_runs_multiple",
    "test_delete_for_runs_preserves_other_runs",
    "test_copy_thread_basic",
}


async def _run_suite(url: str, *, keep_history: bool, protocol: int = 3) -> CapabilityReport:
    @checkpointer_test(name=f"RedisSaver(keep_history={keep_history}, RESP{protocol})")
    async def fresh_saver() -> AsyncIterator[RedisSaver]:
        async with RedisSaver.from_url(url, keep_history=keep_history, protocol=protocol) as saver:
            await saver.client.flushdb()
            yield saver

    return await validate(fresh_saver)


def _failures(report: CapabilityReport) -> dict[str, str]:
    """Failing test name -> its message, over every capability."""
    out = {}
    for result in report.results.values():
        for failure in result.failures:
            name, _, message = failure.partition(": ")
            out[name] = message
    return out


@pytest.mark.parametrize("protocol", [2, 3])
async def test_conformance_when_history_kept_then_every_capability_passes(
    shared_redis: str, protocol: int
) -> None:
    """All eight capabilities are detected and every test passes, over RESP2 and RESP3."""
    report = await _run_suite(shared_redis, keep_history=True, protocol=protocol)

    failures = _failures(report)
    assert not failures, "conformance failures:\n" + "\n".join(
        f"  {name}: {message}" for name, message in sorted(failures.items())
    )
    assert {name for name, r in report.results.items() if r.detected and r.passed} == {
        c.value for c in ALL_CAPABILITIES
    }
    assert report.conformance_level() == "FULL"
    assert sum(r.tests_passed for r in report.results.values()) > 70


async def test_conformance_when_history_dropped_then_only_history_reads_fail(
    shared_redis: str,
) -> None:
    """keep_history=False fails exactly the suite's tests that read an older checkpoint."""
    report = await _run_suite(shared_redis, keep_history=False)

    failures = set(_failures(report))
    assert failures == NEEDS_HISTORY, (
        f"unexpected failures: {sorted(failures - NEEDS_HISTORY)}; "
        f"unexpected passes: {sorted(NEEDS_HISTORY - failures)}"
    )
    for capability in ("put_writes", "delete_thread", "prune"):
        assert report.results[capability].passed is True
