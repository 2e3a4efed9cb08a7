// SPDX-License-Identifier: GPL-2.0

//! Memory layout of split and packed virtqueues.
//!
//! The structures here document the wire format and pin it with
//! compile-time size checks. The ring code does not cast device memory to
//! these types: it accesses fields at the byte offsets computed by
//! [`SplitLayout`] through the volatile accessors of
//! [`DmaRegion`](super::platform::DmaRegion), which keeps every access
//! explicit and bounds-checked.
//!
//! Ref: virtio v1.4 §2.7 "Split Virtqueues", §2.8 "Packed Virtqueues".

use super::wire::{
    Le16,
    Le32,
    Le64, //
};
use core::mem::{
    offset_of,
    size_of, //
};

/// A split virtqueue descriptor (`struct virtq_desc`, 16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// Guest-physical (bus) address of the buffer.
    pub addr: Le64,
    /// Length of the buffer in bytes.
    pub len: Le32,
    /// `VIRTQ_DESC_F_*` flags.
    pub flags: Le16,
    /// Index of the next descriptor when `flags` has `VIRTQ_DESC_F_NEXT`.
    pub next: Le16,
}

/// Header of the split available ring (`flags`, `idx`), followed by
/// `ring[size]` of `le16` and, with `VIRTIO_F_EVENT_IDX`, `used_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AvailHeader {
    /// `VIRTQ_AVAIL_F_*` flags.
    pub flags: Le16,
    /// Where the driver puts the next entry (free-running, wraps at 2^16).
    pub idx: Le16,
}

/// One used ring element (`struct virtq_used_elem`, 8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsedElem {
    /// Index of the head of the used descriptor chain (`le32`).
    pub id: Le32,
    /// Number of bytes the device wrote into the buffer.
    pub len: Le32,
}

/// Header of the split used ring (`flags`, `idx`), followed by
/// `ring[size]` of [`UsedElem`] and, with `VIRTIO_F_EVENT_IDX`,
/// `avail_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsedHeader {
    /// `VIRTQ_USED_F_*` flags.
    pub flags: Le16,
    /// Where the device puts the next entry (free-running, wraps at 2^16).
    pub idx: Le16,
}

/// A packed virtqueue descriptor (`struct pvirtq_desc`, 16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PackedDescriptor {
    /// Buffer address.
    pub addr: Le64,
    /// Buffer length.
    pub len: Le32,
    /// Buffer ID.
    pub id: Le16,
    /// `VIRTQ_DESC_F_*` flags, including the `AVAIL` and `USED` bits.
    pub flags: Le16,
}

/// Packed virtqueue event suppression structure
/// (`struct pvirtq_event_suppress`, 4 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PackedEventSuppress {
    /// Descriptor ring change event offset (bits 0..14) and wrap counter
    /// (bit 15).
    pub off_wrap: Le16,
    /// `RING_EVENT_FLAGS_*` value in bits 0..1.
    pub flags: Le16,
}

const _: () = assert!(size_of::<Descriptor>() == 16);
const _: () = assert!(size_of::<AvailHeader>() == 4);
const _: () = assert!(size_of::<UsedElem>() == 8);
const _: () = assert!(size_of::<UsedHeader>() == 4);
const _: () = assert!(size_of::<PackedDescriptor>() == 16);
const _: () = assert!(size_of::<PackedEventSuppress>() == 4);
// `DmaRegion::write_desc` relies on these offsets.
const _: () = assert!(DESC_ADDR == 0 && DESC_LEN == 8 && DESC_FLAGS == 12 && DESC_NEXT == 14);

/// Byte offset of `addr` in a descriptor.
pub const DESC_ADDR: usize = offset_of!(Descriptor, addr);
/// Byte offset of `len` in a descriptor.
pub const DESC_LEN: usize = offset_of!(Descriptor, len);
/// Byte offset of `flags` in a descriptor.
pub const DESC_FLAGS: usize = offset_of!(Descriptor, flags);
/// Byte offset of `next` in a descriptor.
pub const DESC_NEXT: usize = offset_of!(Descriptor, next);
/// Size of one split or packed descriptor.
pub const DESC_SIZE: usize = size_of::<Descriptor>();

/// Alignment of the descriptor table (spec §2.7, "Virtqueue Part
/// Alignment"): 16 bytes.
pub const DESC_ALIGN: usize = 16;
/// Alignment of the available ring: 2 bytes.
pub const AVAIL_ALIGN: usize = 2;
/// Alignment of the used ring (modern interfaces): 4 bytes.
pub const USED_ALIGN: usize = 4;
/// Queue alignment of the legacy interfaces (legacy PCI, virtio-ccw
/// revision 0, and the usual MMIO version 1 `QueueAlign`).
pub const LEGACY_QUEUE_ALIGN: usize = 4096;

/// Placement of the three parts of a split virtqueue in one memory
/// region.
///
/// The descriptor table is at offset 0, the available ring follows it, and
/// the used ring starts at the next multiple of the used ring alignment:
/// 4 for modern interfaces, the queue alignment (e.g. 4096) for legacy
/// ones, which is then exactly the layout of spec §2.7.2 "Legacy
/// Interfaces: A Note on Virtqueue Layout" and of Linux's `vring_init()`.
///
/// Offsets include the event index fields (`used_event` after the
/// available ring, `avail_event` after the used ring) whether or not
/// `VIRTIO_F_EVENT_IDX` is negotiated, as Linux does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitLayout {
    size: u16,
    used_align: usize,
    avail: usize,
    used: usize,
    total: usize,
}

/// Error returned by [`SplitLayout::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The queue size is 0, larger than 32768 or not a power of two.
    InvalidSize,
    /// The alignment is 0, smaller than 4 or not a power of two.
    InvalidAlign,
}

/// Rounds `v` up to a multiple of `align` (a power of two), or `None` on
/// overflow.
const fn align_up(v: usize, align: usize) -> Option<usize> {
    let m = align.wrapping_sub(1);
    match v.checked_add(m) {
        Some(x) => Some(x & !m),
        None => None,
    }
}

impl SplitLayout {
    /// Computes the layout for `size` entries with the used ring aligned
    /// to `used_align` bytes.
    ///
    /// `size` must be a power of two in `1..=32768` (spec §2.7: "Queue Size
    /// value is always a power of 2"). Pass [`USED_ALIGN`] for modern
    /// interfaces and the transport's queue alignment (usually
    /// [`LEGACY_QUEUE_ALIGN`]) for legacy ones.
    pub const fn new(size: u16, used_align: usize) -> Result<Self, LayoutError> {
        if size == 0 || size > super::spec::MAX_QUEUE_SIZE || !size.is_power_of_two() {
            return Err(LayoutError::InvalidSize);
        }
        if used_align < USED_ALIGN || !used_align.is_power_of_two() {
            return Err(LayoutError::InvalidAlign);
        }
        // CAST: lossless widening (`usize::from` is not `const`).
        let n = size as usize;
        // `n <= 32768` and `usize` has at least 32 bits on every platform
        // Linux supports, so the wrapping operations below never wrap.
        let avail = DESC_SIZE.wrapping_mul(n);
        // flags + idx + ring[n] + used_event.
        let avail_end = avail.wrapping_add(n.wrapping_add(3).wrapping_mul(2));
        let used = match align_up(avail_end, used_align) {
            Some(u) => u,
            None => return Err(LayoutError::InvalidAlign),
        };
        // flags + idx + ring[n] + avail_event.
        let used_bytes = n.wrapping_mul(8).wrapping_add(6);
        let total = if used_align > USED_ALIGN {
            // Legacy: the used part is padded to the queue alignment too
            // (spec §2.7.2 `virtq_size()`).
            match align_up(used.wrapping_add(used_bytes), used_align) {
                Some(t) => t,
                None => return Err(LayoutError::InvalidAlign),
            }
        } else {
            used.wrapping_add(used_bytes)
        };
        Ok(Self {
            size,
            used_align,
            avail,
            used,
            total,
        })
    }

    /// Layout for a modern interface (separately addressed parts, used
    /// ring aligned to 4 bytes, no padding).
    pub const fn modern(size: u16) -> Result<Self, LayoutError> {
        Self::new(size, USED_ALIGN)
    }

    /// Layout for a legacy interface with the given queue alignment.
    pub const fn legacy(size: u16, queue_align: usize) -> Result<Self, LayoutError> {
        Self::new(size, queue_align)
    }

    /// Number of entries.
    pub const fn size(&self) -> u16 {
        self.size
    }

    /// Alignment of the used ring given at construction.
    pub const fn used_align(&self) -> usize {
        self.used_align
    }

    /// Total bytes of memory the queue needs.
    pub const fn total_size(&self) -> usize {
        self.total
    }

    /// Offset of the descriptor table (always 0).
    pub const fn desc_offset(&self) -> usize {
        0
    }

    /// Offset of the available ring.
    pub const fn avail_offset(&self) -> usize {
        self.avail
    }

    /// Offset of the used ring.
    pub const fn used_offset(&self) -> usize {
        self.used
    }

    // The helpers below take an index already reduced modulo `size` by the
    // caller. They use wrapping arithmetic, which cannot wrap for
    // `slot < size` given the bounds checked in `new()`.

    /// Offset of descriptor `i`.
    pub const fn desc(&self, i: u16) -> usize {
        (i as usize).wrapping_mul(DESC_SIZE)
    }

    /// Offset of `avail.flags`.
    pub const fn avail_flags(&self) -> usize {
        self.avail
    }

    /// Offset of `avail.idx`.
    pub const fn avail_idx(&self) -> usize {
        self.avail.wrapping_add(2)
    }

    /// Offset of `avail.ring[slot]`.
    pub const fn avail_ring(&self, slot: u16) -> usize {
        self.avail
            .wrapping_add(4)
            .wrapping_add((slot as usize).wrapping_mul(2))
    }

    /// Offset of `used_event` (`avail.ring[size]`).
    pub const fn used_event(&self) -> usize {
        self.avail_ring(self.size)
    }

    /// Offset of `used.flags`.
    pub const fn used_flags(&self) -> usize {
        self.used
    }

    /// Offset of `used.idx`.
    pub const fn used_idx(&self) -> usize {
        self.used.wrapping_add(2)
    }

    /// Offset of `used.ring[slot].id`.
    pub const fn used_elem_id(&self, slot: u16) -> usize {
        self.used
            .wrapping_add(4)
            .wrapping_add((slot as usize).wrapping_mul(8))
    }

    /// Offset of `used.ring[slot].len`.
    pub const fn used_elem_len(&self, slot: u16) -> usize {
        self.used_elem_id(slot).wrapping_add(4)
    }

    /// Offset of `avail_event` (`used.ring[size]`, as a `le16`).
    pub const fn avail_event(&self) -> usize {
        self.used_elem_id(self.size)
    }
}

/// Size in bytes of a packed descriptor ring of `size` entries.
pub const fn packed_ring_size(size: u16) -> usize {
    (size as usize).wrapping_mul(size_of::<PackedDescriptor>())
}
