// SPDX-License-Identifier: GPL-2.0

//! The split ring's memory, byte by byte: the offsets of its fields
//! ([`Offsets`]), the byte order of the interface ([`Swap`]) and the
//! descriptor store.

use super::*;

/// Offsets of the ring fields, computed once from the layout.
///
/// Stored as `u32` counts of 2-byte units (the `u16` fields) or 4-byte
/// units (the used ring): an offset computed from one is visibly below
/// 2^34 and aligned for its access, so the compiler can drop the overflow
/// and alignment checks of an inlined [`DmaRegion`] accessor and keep only
/// the range check.
#[derive(Clone, Copy)]
pub(super) struct Offsets {
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

/// `off / unit` as a `u32` (`unit` 2 or 4).
pub(super) fn units(off: usize, unit: usize) -> u32 {
    // CAST: a layout's offsets are below 2^20 (at most 32768 entries) and
    // multiples of the unit.
    off.checked_div(unit).unwrap_or(0) as u32
}

/// `units * unit` in bytes. The units of a layout are below 2^19, so this
/// never wraps; and from a `u32`, the compiler sees the result is below
/// 2^34 (on 64-bit CPUs) and a multiple of `unit`.
#[inline(always)]
pub(super) fn bytes(units: u32, unit: usize) -> usize {
    // CAST: lossless on 32- and 64-bit CPUs.
    (units as usize).wrapping_mul(unit)
}

impl Offsets {
    pub(super) fn new(layout: &SplitLayout) -> Self {
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

    #[inline(always)]
    pub(super) fn avail_flags(&self) -> usize {
        bytes(self.avail_flags, 2)
    }

    #[inline(always)]
    pub(super) fn avail_idx(&self) -> usize {
        bytes(self.avail_idx, 2)
    }

    /// Offset of `avail.ring[slot]` (`slot` below the queue size, so this
    /// is [`SplitLayout::avail_ring`]).
    #[inline(always)]
    pub(super) fn avail_entry(&self, slot: u16) -> usize {
        bytes(self.avail_ring.wrapping_add(u32::from(slot)), 2)
    }

    #[inline(always)]
    pub(super) fn used_event(&self) -> usize {
        bytes(self.used_event, 2)
    }

    #[inline(always)]
    pub(super) fn used_flags(&self) -> usize {
        bytes(self.used_flags, 2)
    }

    #[inline(always)]
    pub(super) fn used_idx(&self) -> usize {
        bytes(self.used_idx, 2)
    }

    /// Offset of `used.ring[slot]` (`slot` below the queue size, so this
    /// is [`SplitLayout::used_elem_id`]).
    #[inline(always)]
    pub(super) fn used_elem(&self, slot: u16) -> usize {
        bytes(
            self.used_ring.wrapping_add(u32::from(slot).wrapping_mul(2)),
            4,
        )
    }

    #[inline(always)]
    pub(super) fn avail_event(&self) -> usize {
        bytes(self.avail_event, 2)
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

/// Writes one descriptor at byte offset `off` of `mem`.
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
