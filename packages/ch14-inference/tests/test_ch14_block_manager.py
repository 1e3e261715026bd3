"""The block manager under random request streams: no leaks, no double frees, CoW keeps prefixes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ch14_inference.block_manager import BlockAllocator, BlockManager, OutOfBlocksError


def _check_invariants(bm: BlockManager) -> None:
    refs = [0] * bm.num_blocks
    for table in bm.tables.values():
        assert len(table.blocks) == bm.blocks_needed(table.num_tokens)
        for b in table.blocks:
            refs[b] += 1
    assert refs == bm.allocator.ref_count
    free = list(bm.allocator.free)
    assert len(set(free)) == len(free)  # no block twice on the free list
    assert set(free) == {b for b in range(bm.num_blocks) if refs[b] == 0}  # no leak


ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "append", "fork", "free", "truncate"]),
        st.integers(0, 7),
        st.integers(1, 9),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops=ops, block_size=st.sampled_from([1, 2, 4]))
def test_random_streams_never_leak_or_double_free(ops, block_size):
    bm = BlockManager(num_blocks=24, block_size=block_size)
    cache: dict[int, int] = {}  # slot -> token written there
    expected: dict[int, list[int]] = {}  # seq -> its tokens
    next_token = 0
    for op, seq, n in ops:
        try:
            if op in {"add", "append"} and (op == "append") == (seq in expected):
                slots, copies = bm.append_slots(seq, n)
                for src, dst in copies:  # what the engine does to the cache tensors
                    for off in range(block_size):
                        if src * block_size + off in cache:
                            cache[dst * block_size + off] = cache[src * block_size + off]
                for slot in slots:
                    cache[slot] = next_token
                    expected.setdefault(seq, []).append(next_token)
                    next_token += 1
            elif op == "fork" and seq in expected and (seq + n) % 8 not in expected:
                bm.fork(seq, (seq + n) % 8)
                expected[(seq + n) % 8] = list(expected[seq])
            elif op == "free" and seq in expected:
                bm.free(seq)
                del expected[seq]
            elif op == "truncate" and seq in expected:
                keep = len(expected[seq]) * n // 10
                bm.truncate(seq, keep)
                del expected[seq][keep:]
        except OutOfBlocksError:
            pass  # a refused request must leave everything as it was
        _check_invariants(bm)
        # every sequence still reads its own tokens through its block table (shared prefixes
        # were never overwritten by a sibling's writes)
        for s, toks in expected.items():
            table = bm.tables[s].blocks
            got = [
                cache[table[i // block_size] * block_size + i % block_size]
                for i in range(len(toks))
            ]
            assert got == toks
    for s in list(expected):
        bm.free(s)
    assert bm.num_free_blocks == bm.num_blocks


def test_copy_on_write_copies_only_the_shared_partial_block():
    bm = BlockManager(num_blocks=8, block_size=4)
    bm.append_slots(0, 6)  # blocks: [full, half]
    bm.fork(0, 1)
    assert bm.num_free_blocks == 6  # the fork took no new block
    slots, copies = bm.append_slots(1, 1)
    assert copies == [(bm.tables[0].blocks[1], bm.tables[1].blocks[1])]
    assert bm.tables[0].blocks[0] == bm.tables[1].blocks[0]  # the full prefix block stays shared
    assert slots == [bm.tables[1].blocks[1] * 4 + 2]
    _, copies = bm.append_slots(0, 1)  # the parent is now the only owner: writes in place
    assert copies == []


def test_double_free_is_caught():
    alloc = BlockAllocator(2)
    b = alloc.allocate()
    alloc.release(b)
    with pytest.raises(RuntimeError, match="double free"):
        alloc.release(b)
