"""Paged KV-cache bookkeeping (PagedAttention, Kwon et al., 2023): blocks, block tables, CoW.

The KV cache is cut into fixed-size *blocks* of ``block_size`` token slots. A sequence owns a
*block table*: the list of physical block ids holding its tokens in order, so token ``i`` lives
in slot ``table[i // block_size] * block_size + i % block_size``. Blocks come from a free list and
carry a reference count, so that several sequences (the ``n`` samples of one prompt) can share the
prompt's blocks. A sequence about to write into a block that someone else also references first
gets its own copy (*copy-on-write*); the caller performs the returned ``(src, dst)`` copies on the
cache tensors. Memory waste is at most one partly filled block per sequence, instead of a
max-length reservation per request.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


class OutOfBlocksError(RuntimeError):
    """No free KV block is left."""


class BlockAllocator:
    """A free list of physical block ids with reference counts."""

    def __init__(self, num_blocks: int) -> None:
        if num_blocks < 1:
            raise ValueError("num_blocks must be >= 1")
        self.num_blocks = num_blocks
        self.free: deque[int] = deque(range(num_blocks))
        self.ref_count = [0] * num_blocks

    @property
    def num_free(self) -> int:
        return len(self.free)

    def allocate(self) -> int:
        if not self.free:
            raise OutOfBlocksError("no free KV block")
        block = self.free.popleft()
        assert self.ref_count[block] == 0
        self.ref_count[block] = 1
        return block

    def share(self, block: int) -> int:
        if self.ref_count[block] <= 0:
            raise RuntimeError(f"sharing free block {block}")
        self.ref_count[block] += 1
        return block

    def release(self, block: int) -> None:
        if self.ref_count[block] <= 0:
            raise RuntimeError(f"double free of block {block}")
        self.ref_count[block] -= 1
        if self.ref_count[block] == 0:
            self.free.append(block)


@dataclass
class BlockTable:
    """The physical blocks of one sequence and how many token slots of them are filled."""

    blocks: list[int] = field(default_factory=list)
    num_tokens: int = 0


class BlockManager:
    """Block tables for sequences (keyed by id) over one :class:`BlockAllocator`."""

    def __init__(self, num_blocks: int, block_size: int) -> None:
        if block_size < 1:
            raise ValueError("block_size must be >= 1")
        self.block_size = block_size
        self.allocator = BlockAllocator(num_blocks)
        self.tables: dict[int, BlockTable] = {}

    @property
    def num_free_blocks(self) -> int:
        return self.allocator.num_free

    @property
    def num_blocks(self) -> int:
        return self.allocator.num_blocks

    def blocks_needed(self, num_tokens: int) -> int:
        return -(-num_tokens // self.block_size)

    def table(self, seq_id: int) -> BlockTable:
        return self.tables.setdefault(seq_id, BlockTable())

    def new_blocks_for(self, seq_id: int, new_tokens: int) -> int:
        """Blocks that must be taken from the free list to append ``new_tokens`` tokens."""
        t = self.tables.get(seq_id)
        have_tokens = t.num_tokens if t else 0
        have_blocks = len(t.blocks) if t else 0
        need = self.blocks_needed(have_tokens + new_tokens) - have_blocks
        # writing into a shared last block costs one more block (copy-on-write)
        if t and new_tokens > 0 and have_tokens % self.block_size and self._last_shared(t):
            need += 1
        return max(need, 0)

    def can_append(self, seq_id: int, new_tokens: int) -> bool:
        return self.new_blocks_for(seq_id, new_tokens) <= self.num_free_blocks

    def append_slots(self, seq_id: int, new_tokens: int) -> tuple[list[int], list[tuple[int, int]]]:
        """Reserve slots for ``new_tokens`` more tokens of ``seq_id``.

        Returns the slot index of each new token and the ``(src_block, dst_block)`` copies that
        copy-on-write needs done on the cache before those slots are written.
        """
        if self.new_blocks_for(seq_id, new_tokens) > self.num_free_blocks:
            raise OutOfBlocksError(f"sequence {seq_id} needs more KV blocks than are free")
        t = self.table(seq_id)
        copies: list[tuple[int, int]] = []
        if new_tokens > 0 and t.num_tokens % self.block_size and self._last_shared(t):
            old = t.blocks[-1]
            new = self.allocator.allocate()
            self.allocator.release(old)
            t.blocks[-1] = new
            copies.append((old, new))
        slots = []
        for pos in range(t.num_tokens, t.num_tokens + new_tokens):
            if pos // self.block_size == len(t.blocks):
                t.blocks.append(self.allocator.allocate())
            slots.append(t.blocks[pos // self.block_size] * self.block_size + pos % self.block_size)
        t.num_tokens += new_tokens
        return slots, copies

    def truncate(self, seq_id: int, num_tokens: int) -> None:
        """Forget tokens past ``num_tokens`` (speculative rollback); frees emptied blocks."""
        t = self.tables[seq_id]
        if num_tokens > t.num_tokens:
            raise ValueError("truncate can only shrink a sequence")
        keep = self.blocks_needed(num_tokens)
        for block in t.blocks[keep:]:
            self.allocator.release(block)
        del t.blocks[keep:]
        t.num_tokens = num_tokens

    def fork(self, parent: int, child: int) -> None:
        """``child`` shares every block of ``parent`` (parallel sampling)."""
        if child in self.tables:
            raise ValueError(f"sequence {child} already has blocks")
        src = self.tables[parent]
        self.tables[child] = BlockTable(
            [self.allocator.share(b) for b in src.blocks], src.num_tokens
        )

    def free(self, seq_id: int) -> None:
        t = self.tables.pop(seq_id, None)
        if t is None:
            return
        for block in t.blocks:
            self.allocator.release(block)

    def _last_shared(self, t: BlockTable) -> bool:
        return bool(t.blocks) and self.allocator.ref_count[t.blocks[-1]] > 1

    def slot_table(self, seq_id: int) -> list[int]:
        return self.tables[seq_id].blocks


__all__ = ["BlockAllocator", "BlockManager", "BlockTable", "OutOfBlocksError"]
