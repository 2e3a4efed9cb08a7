// SPDX-License-Identifier: GPL-2.0

//! The split ring's memory, byte by byte: the ring checked once against
//! its layout ([`RingMem`], with the offsets of its fields), the byte
//! order of the interface ([`Swap`]) and the descriptor store of indirect
//! tables.

use super::*;

/// Offsets of the ring fields, computed once from the layout.
///
/// Stored as `u32` counts of 2-byte units (the `u16` fields) or 4-byte
/// units (the used ring): an offset computed from one is visibly below
/// 2^34 and aligned for its access. The descriptor table is at offset 0
/// in every layout ([`SplitLayout::desc_offset`]).
#[derive(Clone, Copy)]
struct Offsets {
    avail_flags: u32,
    avail_idx: u32,
    /// `avail.ring[0]`.
    avail_ring: u32,
    used_event: u32,
    used_flags: u32,
    used_idx: u32,
    /// `used.ring[0]`, in 4-byte units.
    used_ring: u32,
    avail_event: u32,
}

/// `off / unit` as a `u32` (`unit` 2, 4 or 16).
fn units(off: usize, unit: usize) -> u32 {
    // CAST: a layout's offsets are below 2^20 (at most 32768 entries) and
    // multiples of the unit.
    off.checked_div(unit).unwrap_or(0) as u32
}

/// `units * unit` in bytes. The units of a layout are below 2^20, so this
/// never wraps; and from a `u32`, the compiler sees the result is below
/// 2^36 (on 64-bit CPUs) and a multiple of `unit`.
#[inline(always)]
fn bytes(units: u32, unit: usize) -> usize {
    // CAST: lossless on 32- and 64-bit CPUs.
    (units as usize).wrapping_mul(unit)
}

impl Offsets {
    fn new(layout: &SplitLayout) -> Self {
        Self {
            avail_flags: units(layout.avail_flags(), 2),
            avail_idx: units(layout.avail_idx(), 2),
            avail_ring: units(layout.avail_ring(0), 2),
            used_event: units(layout.used_event(), 2),
            used_flags: units(layout.used_flags(), 2),
            used_idx: units(layout.used_idx(), 2),
            used_ring: units(layout.used_elem_id(0), 4),
            avail_event: units(layout.avail_event(), 2),
        }
    }

    /// Whether every field of a ring of `mask + 1` entries at these
    /// offsets lies within the first `len` bytes. The offsets are
    /// multiples of their field widths by construction (`bytes()`).
    fn fit(&self, mask: u16, len: usize) -> bool {
        let n = u64::from(mask).wrapping_add(1);
        // (first unit, units per entry, entries, unit size): everything
        // below 2^20 x 2^4, so nothing here wraps a `u64`.
        let areas = [
            (0, 1, n, 16),
            (self.avail_flags, 1, 1, 2),
            (self.avail_idx, 1, 1, 2),
            (self.avail_ring, 1, n, 2),
            (self.used_event, 1, 1, 2),
            (self.used_flags, 1, 1, 2),
            (self.used_idx, 1, 1, 2),
            (self.used_ring, 2, n, 4),
            (self.avail_event, 1, 1, 2),
        ];
        // CAST: `usize` fits a `u64` on every supported CPU.
        let len = len as u64;
        areas.iter().all(|&(first, per, count, unit)| {
            let end_units = u64::from(first).wrapping_add(count.wrapping_mul(per));
            end_units.wrapping_mul(unit) <= len
        })
    }
}

/// The memory of a split ring, checked once against its layout: every
/// access after [`RingMem::new`] needs no range check.
///
/// Its accessors take ring indices (free-running `u16` values, masked
/// here to a slot of the ring) or descriptor numbers (masked the same
/// way), never byte offsets, and swap bytes as the interface needs, so
/// the split ring's code cannot address anything outside its fields.
///
/// # Invariants
///
/// `mask + 1` is the queue size, and every field of a ring of that many
/// entries at `off` lies within the first `len` bytes of `mem` for a
/// value `len` that `mem.len()` returned ([`Offsets::fit`]), at an offset
/// that is a multiple of the field's width (descriptors: 16, used
/// elements: 4). So for every `u16` value `i`, the descriptor, available
/// entry and used element of slot `i & mask` and the ring's index and flag
/// fields satisfy the contract of the `DmaRegion::*_unchecked` accessors.
pub(super) struct RingMem<R> {
    mem: R,
    off: Offsets,
    mask: u16,
    swap: Swap,
}

impl<R: DmaRegion> RingMem<R> {
    /// The ring of `layout` in `mem`, for a modern (`legacy == false`)
    /// or legacy interface; `None` if `mem` is too small for it.
    pub(super) fn new(mem: R, layout: &SplitLayout, legacy: bool) -> Option<Self> {
        let off = Offsets::new(layout);
        let mask = layout.size().wrapping_sub(1);
        if layout.size() == 0
            || layout.desc_offset() != 0
            || mem.len() < layout.total_size()
            || !off.fit(mask, mem.len())
        {
            return None;
        }
        // INVARIANT: checked just above against `mem.len()`; `off` holds
        // unit counts, so every offset is a multiple of its field width.
        Some(Self {
            mem,
            off,
            mask,
            swap: Swap::new(legacy),
        })
    }

    /// The memory.
    pub(super) fn region(&self) -> &R {
        &self.mem
    }

    /// The queue size minus one: a slot mask, and the largest descriptor
    /// number.
    #[inline(always)]
    pub(super) fn mask(&self) -> u16 {
        self.mask
    }

    /// The byte order conversion of the interface.
    #[inline(always)]
    pub(super) fn swap(&self) -> Swap {
        self.swap
    }

    /// Volatile load of the `u16` field at `units` 2-byte units, in CPU
    /// order.
    ///
    /// # Safety
    ///
    /// `units` is one of the single `u16` fields of `self.off`.
    #[inline(always)]
    unsafe fn load16(&self, units: u32) -> u16 {
        // SAFETY: per the contract, a field that fits the memory and is
        // 2-byte aligned (type invariant).
        self.swap
            .u16(unsafe { self.mem.raw().read_u16(bytes(units, 2)) })
    }

    /// Volatile store of `v` (CPU order) to the `u16` field at `units`
    /// 2-byte units.
    ///
    /// # Safety
    ///
    /// `units` is one of the single `u16` fields of `self.off`.
    #[inline(always)]
    unsafe fn store16(&self, units: u32, v: u16) {
        // SAFETY: per the contract, a field that fits the memory and is
        // 2-byte aligned (type invariant).
        unsafe { self.mem.raw().write_u16(bytes(units, 2), self.swap.u16(v)) }
    }

    /// `used.idx`.
    #[inline(always)]
    pub(super) fn used_idx(&self) -> u16 {
        // SAFETY: a single `u16` field.
        unsafe { self.load16(self.off.used_idx) }
    }

    /// `used.flags`.
    #[inline(always)]
    pub(super) fn used_flags(&self) -> u16 {
        // SAFETY: a single `u16` field.
        unsafe { self.load16(self.off.used_flags) }
    }

    /// `avail_event` (`used.ring[size]`).
    #[inline(always)]
    pub(super) fn avail_event(&self) -> u16 {
        // SAFETY: a single `u16` field.
        unsafe { self.load16(self.off.avail_event) }
    }

    /// Stores `avail.flags`.
    #[inline(always)]
    pub(super) fn set_avail_flags(&self, v: u16) {
        // SAFETY: a single `u16` field.
        unsafe { self.store16(self.off.avail_flags, v) }
    }

    /// Stores `used_event` (`avail.ring[size]`).
    #[inline(always)]
    pub(super) fn set_used_event(&self, v: u16) {
        // SAFETY: a single `u16` field.
        unsafe { self.store16(self.off.used_event, v) }
    }

    /// Publishes the buffer headed by `head` at available index `idx`:
    /// stores `avail.ring[idx % size]`, calls `wmb` (the barrier that
    /// orders the descriptors and the entry before the index), and stores
    /// `avail.idx = idx + 1`. The region is loaded once for the three
    /// steps.
    #[inline(always)]
    pub(super) fn publish(&self, idx: u16, head: u16, wmb: impl FnOnce()) {
        let raw = self.mem.raw();
        let entry = bytes(
            self.off.avail_ring.wrapping_add(u32::from(idx & self.mask)),
            2,
        );
        let index = bytes(self.off.avail_idx, 2);
        let s = self.swap;
        // SAFETY: `avail.ring[idx & mask]` and `avail.idx` fit the memory
        // and are 2-byte aligned (type invariant).
        unsafe { raw.write_u16(entry, s.u16(head)) };
        wmb();
        // SAFETY: as above.
        unsafe { raw.write_u16(index, s.u16(idx.wrapping_add(1))) };
    }

    /// Writes descriptor `head % size` of the main table, then publishes
    /// it as a buffer at available index `idx` ([`RingMem::publish`]), with
    /// one load of the region.
    #[inline(always)]
    pub(super) fn add_one(&self, head: u16, buf: &Buf, flags: u16, idx: u16, wmb: impl FnOnce()) {
        let i = head & self.mask;
        let raw = self.mem.raw();
        let s = self.swap;
        let entry = bytes(
            self.off.avail_ring.wrapping_add(u32::from(idx & self.mask)),
            2,
        );
        let index = bytes(self.off.avail_idx, 2);
        // SAFETY: descriptor `head & mask`, `avail.ring[idx & mask]` and
        // `avail.idx` fit the memory and are aligned (type invariant).
        unsafe {
            raw.write_desc(
                bytes(u32::from(i), DESC_SIZE),
                s.u64(buf.addr),
                s.u32(buf.len),
                s.u16(flags),
                0,
            );
            raw.write_u16(entry, s.u16(i));
        }
        wmb();
        // SAFETY: as above.
        unsafe { raw.write_u16(index, s.u16(idx.wrapping_add(1))) };
    }

    /// The used element of index `idx` (`used.ring[idx % size]`): its
    /// `id` and `len`, in CPU order.
    #[inline(always)]
    pub(super) fn used_elem(&self, idx: u16) -> (u32, u32) {
        let units = self
            .off
            .used_ring
            .wrapping_add(u32::from(idx & self.mask).wrapping_mul(2));
        // SAFETY: the element of slot `idx & mask`, which fits the memory
        // and is 4-byte aligned (type invariant).
        let (id, len) = unsafe { self.mem.raw().read_used_elem(bytes(units, 4)) };
        (self.swap.u32(id), self.swap.u32(len))
    }

    /// Writes descriptor `i % size` of the main table.
    #[inline(always)]
    pub(super) fn write_desc(&self, i: u16, buf: &Buf, flags: u16, next: u16) {
        let s = self.swap;
        // SAFETY: the descriptor of slot `i & mask`, which fits the memory
        // and is 16-byte aligned (type invariant).
        unsafe {
            self.mem.raw().write_desc(
                bytes(u32::from(i & self.mask), DESC_SIZE),
                s.u64(buf.addr),
                s.u32(buf.len),
                s.u16(flags),
                s.u16(next),
            )
        }
    }

    /// Clears the first `len` bytes (the layout's total size) and writes
    /// the initial indices (`start`).
    pub(super) fn init(&self, len: usize, start: u16) {
        zero_region(&self.mem, len);
        if start != 0 {
            // The device owns `used.idx` once the queue is live; before
            // that the driver sets up the whole ring (spec §2.7.8.2 makes
            // the driver initialise the used ring's flags too).
            // SAFETY: a single `u16` field.
            unsafe { self.store16(self.off.avail_idx, start) };
            // SAFETY: a single `u16` field.
            unsafe { self.store16(self.off.used_idx, start) };
            self.set_used_event(start);
            // SAFETY: a single `u16` field.
            unsafe { self.store16(self.off.avail_event, start) };
        }
    }
}

/// Converts between CPU order and the ring's byte order.
///
/// The ring is little-endian (modern) or guest-native (legacy), see
/// [`ByteOrder::for_interface`]. Bytes only need swapping for a modern
/// ring on a big-endian CPU. `cfg!` decides the CPU side at compile time,
/// so on little-endian CPUs every conversion compiles to nothing; the
/// interface side is decided once, when the queue is created.
#[derive(Clone, Copy)]
pub(super) struct Swap(bool);

impl Swap {
    pub(super) fn new(legacy: bool) -> Self {
        Self(ByteOrder::for_interface(legacy) != ByteOrder::NATIVE)
    }

    #[inline(always)]
    pub(super) fn on(self) -> bool {
        cfg!(target_endian = "big") && self.0
    }

    #[inline(always)]
    pub(super) fn u16(self, v: u16) -> u16 {
        if self.on() {
            v.swap_bytes()
        } else {
            v
        }
    }

    #[inline(always)]
    pub(super) fn u32(self, v: u32) -> u32 {
        if self.on() {
            v.swap_bytes()
        } else {
            v
        }
    }

    #[inline(always)]
    pub(super) fn u64(self, v: u64) -> u64 {
        if self.on() {
            v.swap_bytes()
        } else {
            v
        }
    }
}

/// Writes one descriptor at byte offset `off` of `mem` (an indirect
/// table: range-checked by the region).
#[inline(always)]
pub(super) fn write_desc<R: DmaRegion>(
    mem: &R,
    swap: Swap,
    off: usize,
    buf: &Buf,
    flags: u16,
    next: u16,
) {
    mem.write_desc(
        off,
        swap.u64(buf.addr),
        swap.u32(buf.len),
        swap.u16(flags),
        swap.u16(next),
    );
}

/// Zeroes bytes `0..len` of `mem` (`len` even, as every ring size is).
pub(super) fn zero_region<R: DmaRegion>(mem: &R, len: usize) {
    let mut off = 0usize;
    while off.saturating_add(4) <= len {
        mem.write_u32(off, 0);
        off = off.wrapping_add(4);
    }
    if off.saturating_add(2) <= len {
        mem.write_u16(off, 0);
    }
}
