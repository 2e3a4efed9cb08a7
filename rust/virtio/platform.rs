// SPDX-License-Identifier: GPL-2.0

//! The platform abstraction: device-shared memory, barriers and storage.
//!
//! The core never touches memory, DMA addresses or CPU barriers directly.
//! A [`Platform`] supplies them:
//!
//! | Need | Linux kernel implementation | Host (test) implementation |
//! |---|---|---|
//! | Ring memory ([`DmaRegion`], unchecked: [`RawRegion`]) | `kext::dma::SharedMem` (coherent DMA memory or pages), volatile loads and stores | `vm-memory` guest memory or a byte buffer, relaxed atomics |
//! | Indirect tables ([`Platform::IndirectTable`]) | slots of a preallocated `Coherent` arena | slots of host memory |
//! | Bookkeeping ([`Platform::Slice`]) | `KVec<T>` (fallible, explicit GFP) | `Vec<T>` |
//! | Barriers ([`Barriers`]) | C helpers calling `virt_wmb()`/`virt_rmb()`/`virt_mb()` | `core::sync::atomic::fence` (test only) |
//!
//! The barrier methods are named after the kernel's `virt_*mb()` macros
//! because those are what a virtio driver needs when the device is
//! another CPU (a hypervisor): real barriers even on `!CONFIG_SMP`. When
//! `VIRTIO_F_ORDER_PLATFORM` is negotiated, spec §6 requires "barriers
//! suitable for hardware devices"; the platform then maps them to
//! `dma_wmb()`, `dma_rmb()` and `mb()` as Linux's `virtio_wmb()` etc. do
//! with `weak_barriers == false`.

use core::ops::DerefMut;

/// A region of memory shared with the device (DMA-coherent).
///
/// Offsets are in bytes from the start of the region. Multi-byte values
/// are transferred in CPU byte order, exactly like a volatile load or
/// store of that width (the kernel's `READ_ONCE`/`WRITE_ONCE`); the ring
/// code does the little-endian conversion itself.
///
/// The accessors here are checked: an out-of-range or misaligned offset
/// must not panic; reads return 0 and writes are dropped. The split ring
/// checks its layout against [`DmaRegion::len`] once and then uses the
/// unchecked accessors of [`DmaRegion::raw`], whose contract is that
/// offset; so `len()` must be what the region really holds.
pub trait DmaRegion {
    /// The unchecked accessors of [`DmaRegion::raw`].
    type Raw<'a>: RawRegion
    where
        Self: 'a;

    /// Length of the region in bytes.
    fn len(&self) -> usize;

    /// Returns `true` if the region is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bus address of the first byte, as the device sees it (`dma_addr_t`).
    fn dma_addr(&self) -> u64;

    /// Volatile 16-bit load at `offset`.
    fn read_u16(&self, offset: usize) -> u16;

    /// Volatile 32-bit load at `offset`.
    fn read_u32(&self, offset: usize) -> u32;

    /// Volatile 16-bit store at `offset`.
    fn write_u16(&self, offset: usize, value: u16);

    /// Volatile 32-bit store at `offset`.
    fn write_u32(&self, offset: usize, value: u32);

    /// Volatile 64-bit store at `offset` (descriptor addresses). Tearing
    /// into two 32-bit stores is acceptable: the device reads a descriptor
    /// only after the barrier that publishes it.
    fn write_u64(&self, offset: usize, value: u64);

    /// Stores a whole 16-byte descriptor at `offset`: `addr` at +0, `len` at
    /// +8, `flags` at +12, `next` at +14, each already in the ring's byte
    /// order like the arguments of the other stores.
    ///
    /// The default does four stores; an implementation may override it to
    /// check bounds once for the hot path.
    #[inline]
    fn write_desc(&self, offset: usize, addr: u64, len: u32, flags: u16, next: u16) {
        self.write_u64(offset, addr);
        self.write_u32(offset.wrapping_add(8), len);
        self.write_u16(offset.wrapping_add(12), flags);
        self.write_u16(offset.wrapping_add(14), next);
    }

    /// Loads a used ring element (`struct virtq_used_elem`) at `offset`:
    /// `id` at +0 and `len` at +4, each a 32-bit load in CPU byte order like
    /// [`DmaRegion::read_u32`]. `offset` is only 4-byte aligned: the 8-byte
    /// elements follow the 4-byte used ring header.
    ///
    /// The default does two loads; an implementation may override it to
    /// check bounds once for the hot path. The two loads need no particular
    /// order between them: both come after the barrier that follows the
    /// `used.idx` load.
    #[inline]
    fn read_used_elem(&self, offset: usize) -> (u32, u32) {
        (self.read_u32(offset), self.read_u32(offset.wrapping_add(4)))
    }

    /// Unchecked accessors of this region, for code that checked its
    /// offsets against [`DmaRegion::len`] once (the split ring's
    /// `RingMem`). The value is a copy (a pointer and a length, say) that
    /// lives only as long as the borrow of the region, so an operation that
    /// makes several accesses loads it once.
    fn raw(&self) -> Self::Raw<'_>;
}

/// The last 4 bytes of a descriptor (`flags` at +12, `next` at +14, each
/// in the ring's byte order like the arguments of
/// [`DmaRegion::write_desc`]) as one `u32` in CPU byte order, for an
/// implementation of `write_desc` that stores them with one 32-bit store.
#[inline(always)]
pub const fn desc_flags_next(flags: u16, next: u16) -> u32 {
    let f = flags.to_ne_bytes();
    let n = next.to_ne_bytes();
    u32::from_ne_bytes([f[0], f[1], n[0], n[1]])
}

/// Unchecked accessors of a [`DmaRegion`], from [`DmaRegion::raw`].
///
/// Each method has the range contract of its `# Safety` section: an offset
/// aligned for the access, and within a value [`DmaRegion::len`] returned
/// for the region this came from. [`Checked`] implements it with the
/// checked accessors, for a region that has nothing faster.
pub trait RawRegion: Copy {
    /// [`DmaRegion::read_u16`] without the range check.
    ///
    /// # Safety
    ///
    /// `offset` is a multiple of 2 and `offset + 2` is at most a value
    /// [`DmaRegion::len`] returned for the region.
    unsafe fn read_u16(self, offset: usize) -> u16;

    /// [`DmaRegion::write_u16`] without the range check.
    ///
    /// # Safety
    ///
    /// `offset` is a multiple of 2 and `offset + 2` is at most a value
    /// [`DmaRegion::len`] returned for the region.
    unsafe fn write_u16(self, offset: usize, value: u16);

    /// [`DmaRegion::write_desc`] without the range check.
    ///
    /// # Safety
    ///
    /// `offset` is a multiple of 16 and `offset + 16` is at most a value
    /// [`DmaRegion::len`] returned for the region.
    unsafe fn write_desc(self, offset: usize, addr: u64, len: u32, flags: u16, next: u16);

    /// [`DmaRegion::read_used_elem`] without the range check.
    ///
    /// # Safety
    ///
    /// `offset` is a multiple of 4 and `offset + 8` is at most a value
    /// [`DmaRegion::len`] returned for the region.
    unsafe fn read_used_elem(self, offset: usize) -> (u32, u32);
}

/// [`RawRegion`] through the checked accessors of a region.
pub struct Checked<'a, R: ?Sized>(pub &'a R);

impl<R: ?Sized> Clone for Checked<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: ?Sized> Copy for Checked<'_, R> {}

impl<R: DmaRegion + ?Sized> RawRegion for Checked<'_, R> {
    #[inline]
    unsafe fn read_u16(self, offset: usize) -> u16 {
        self.0.read_u16(offset)
    }

    #[inline]
    unsafe fn write_u16(self, offset: usize, value: u16) {
        self.0.write_u16(offset, value)
    }

    #[inline]
    unsafe fn write_desc(self, offset: usize, addr: u64, len: u32, flags: u16, next: u16) {
        self.0.write_desc(offset, addr, len, flags, next)
    }

    #[inline]
    unsafe fn read_used_elem(self, offset: usize) -> (u32, u32) {
        self.0.read_used_elem(offset)
    }
}

/// Memory barriers for ordering accesses to device-shared memory.
///
/// Each ring operation calls exactly one of these at each ordering point
/// the spec requires; see the "Memory ordering" section of
/// `Documentation/rvirtio/core.rst`.
pub trait Barriers {
    /// Orders earlier stores before later stores (`virt_wmb()`).
    fn virt_wmb(&self);

    /// Orders earlier loads before later loads (`virt_rmb()`).
    fn virt_rmb(&self);

    /// Orders earlier loads and stores before later loads and stores
    /// (`virt_mb()`).
    fn virt_mb(&self);
}

/// Error returned when the platform cannot allocate memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocError;

/// Everything a virtqueue needs from its environment.
pub trait Platform: Barriers {
    /// Memory holding a ring.
    type Region: DmaRegion;

    /// Memory holding one indirect descriptor table.
    type IndirectTable: DmaRegion;

    /// Driver-private storage of `len` elements (`KVec<T>` in the kernel).
    type Slice<T>: DerefMut<Target = [T]>;

    /// Allocates driver-private storage of `len` elements, element `i`
    /// initialised to `init(i)`.
    fn alloc_slice<T, F: FnMut(usize) -> T>(
        &mut self,
        len: usize,
        init: F,
    ) -> Result<Self::Slice<T>, AllocError>;

    /// Allocates an indirect descriptor table able to hold `descs`
    /// descriptors (16 bytes each, 16-byte aligned), or returns `None`
    /// (the queue then falls back to direct descriptors).
    ///
    /// The queue asks for tables of its `max_indirect` descriptors, at
    /// most one per descriptor of its main table: a descriptor keeps its
    /// table once it has headed an indirect buffer and reuses it for every
    /// later one, so completing a buffer frees nothing (an arena of one
    /// table per queue entry is never exhausted).
    ///
    /// This is called with the queue lock held, so kernel implementations
    /// must not sleep (`GFP_ATOMIC` or a preallocated arena).
    fn alloc_indirect(&mut self, descs: u16) -> Option<Self::IndirectTable>;

    /// Returns a table from [`Platform::alloc_indirect`] once the device
    /// no longer owns it: when the queue is reinitialised or its teardown
    /// (`detach_unused()`, after a reset) is complete, or when a table
    /// too small for a buffer is replaced.
    fn free_indirect(&mut self, table: Self::IndirectTable);
}
