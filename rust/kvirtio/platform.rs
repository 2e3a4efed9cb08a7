// SPDX-License-Identifier: GPL-2.0

//! The kernel [`Platform`] of the virtio core.
//!
//! | Core need | Kernel implementation |
//! |---|---|
//! | ring memory | [`Ring`]: one [`SharedMem`] allocation |
//! | indirect tables | [`IndirectTable`]: slots of one [`SharedMem`] arena per queue, so adding a buffer never allocates |
//! | bookkeeping | `KVec<T>`, allocated once at queue creation |
//! | barriers | `virt_wmb()`, `virt_rmb()`, `virt_mb()` through `kext::barrier` |
//!
//! Accesses to device-shared memory are volatile loads and stores of the
//! access width (the kernel's `READ_ONCE()`/`WRITE_ONCE()`), bounds- and
//! alignment-checked: an out-of-range access reads 0 or is dropped, never
//! touches memory outside the allocation.
//!
//! The memory is allocated as the device addresses it ([`Addressing`],
//! the core's decision from the negotiated features): coherent DMA memory
//! at its DMA handle with `ACCESS_PLATFORM`, pages at their physical
//! address without it.

use crate::kext::io::access_ok;
use crate::{
    kext::{barrier, dma::SharedMem},
    virtio::dma::Addressing,
    virtio::platform::{
        desc_flags_next,
        AllocError,
        Barriers,
        DmaRegion,
        Platform,
        RawRegion, //
    },
};
use core::{marker::PhantomData, ptr::NonNull};
use kernel::{
    device::{Bound, Device},
    prelude::*, //
};

/// Size of one split or packed descriptor.
const DESC_SIZE: usize = 16;

/// Volatile accessors over `len` bytes of device-shared memory at `base`.
///
/// # Invariants
///
/// `base..base + len` is a live, CPU-mapped allocation of device-shared
/// memory ([`SharedMem`]) for as long as the value exists, and `base` is
/// 16-byte aligned.
#[derive(Clone, Copy)]
struct Window {
    base: NonNull<u8>,
    len: usize,
    dma: u64,
}

impl Window {
    /// The window of all of `mem`.
    fn of(mem: &SharedMem) -> Self {
        match NonNull::new(mem.cpu_ptr()) {
            // INVARIANT: `mem` is a live allocation of `len()` bytes,
            // page-aligned (`dma_alloc_coherent()`, `alloc_pages_exact()`);
            // the holder of the window keeps it alive.
            Some(base) => Window {
                base,
                len: mem.len(),
                dma: mem.dma_addr(),
            },
            // A successful allocation is never at address 0; an empty
            // window refuses every access.
            None => Window {
                base: NonNull::dangling(),
                len: 0,
                dma: 0,
            },
        }
    }

    #[inline(always)]
    fn read<V: Copy + Default>(&self, off: usize) -> V {
        if !access_ok(off, core::mem::size_of::<V>(), self.len) {
            return V::default();
        }
        // SAFETY: checked just above.
        unsafe { self.read_unchecked(off) }
    }

    /// Volatile load of a `V` at `off`.
    ///
    /// # Safety
    ///
    /// `off` is a multiple of the size of `V` (a power of two no larger
    /// than 8) and `off + size_of::<V>() <= len`.
    #[inline(always)]
    unsafe fn read_unchecked<V: Copy>(&self, off: usize) -> V {
        // SAFETY: per the contract the access is inside the allocation
        // (type invariant), and it is aligned since `base` is 16-byte
        // aligned and `off` a multiple of the width.
        unsafe { core::ptr::read_volatile(self.base.as_ptr().add(off).cast::<V>()) }
    }

    /// Stores a whole split descriptor (`struct virtq_desc`, 16 bytes at a
    /// 16-byte aligned `off`) with one range check: volatile stores of
    /// `addr`, `len`, and `flags` with `next` as one 32-bit word (the
    /// device reads the descriptor only after the barrier that publishes
    /// it, so the store widths do not matter to it).
    #[inline(always)]
    fn write_desc(&self, off: usize, addr: u64, len: u32, flags: u16, next: u16) {
        if !access_ok(off, DESC_SIZE, self.len) {
            return;
        }
        // SAFETY: checked just above.
        unsafe { self.write_desc_unchecked(off, addr, len, flags, next) }
    }

    /// [`Window::write_desc`] without the range check.
    ///
    /// # Safety
    ///
    /// `off` is a multiple of 16 and `off + 16 <= len`.
    #[inline(always)]
    unsafe fn write_desc_unchecked(&self, off: usize, addr: u64, len: u32, flags: u16, next: u16) {
        // SAFETY: `off + 16 <= len`, so all 16 bytes are inside the
        // allocation (type invariant); `off` is 16-byte aligned and `base`
        // too, so each store (8 bytes at +0, 4 at +8 and at +12) is
        // naturally aligned. The memory is shared with the device, which is
        // why the stores are volatile.
        unsafe {
            let p = self.base.as_ptr().add(off);
            core::ptr::write_volatile(p.cast::<u64>(), addr);
            core::ptr::write_volatile(p.add(8).cast::<u32>(), len);
            core::ptr::write_volatile(p.add(12).cast::<u32>(), desc_flags_next(flags, next));
        }
    }

    /// Loads the `id` and `len` of a used element (8 bytes at a 4-byte
    /// aligned `off`) with one range check: two volatile 32-bit loads.
    #[inline(always)]
    fn read_used_elem(&self, off: usize) -> (u32, u32) {
        if !access_ok(off, 4, self.len) || off.checked_add(8).is_none_or(|end| end > self.len) {
            return (0, 0);
        }
        // SAFETY: checked just above.
        unsafe { self.read_used_elem_unchecked(off) }
    }

    /// [`Window::read_used_elem`] without the range check.
    ///
    /// # Safety
    ///
    /// `off` is a multiple of 4 and `off + 8 <= len`.
    #[inline(always)]
    unsafe fn read_used_elem_unchecked(&self, off: usize) -> (u32, u32) {
        // SAFETY: `off + 8 <= len`: both words are inside the allocation
        // (type invariant), 4-byte aligned since `base` is 16-byte aligned
        // and `off` a multiple of 4.
        unsafe {
            let p = self.base.as_ptr().add(off);
            (
                core::ptr::read_volatile(p.cast::<u32>()),
                core::ptr::read_volatile(p.add(4).cast::<u32>()),
            )
        }
    }

    #[inline(always)]
    fn write<V: Copy>(&self, off: usize, v: V) {
        if !access_ok(off, core::mem::size_of::<V>(), self.len) {
            return;
        }
        // SAFETY: checked just above.
        unsafe { self.write_unchecked(off, v) }
    }

    /// Volatile store of `v` at `off`.
    ///
    /// # Safety
    ///
    /// As for [`Window::read_unchecked`].
    #[inline(always)]
    unsafe fn write_unchecked<V: Copy>(&self, off: usize, v: V) {
        // SAFETY: as in `read_unchecked`: in bounds and aligned. The
        // memory is shared with the device, which is why the store is
        // volatile.
        unsafe { core::ptr::write_volatile(self.base.as_ptr().add(off).cast::<V>(), v) }
    }
}

/// The unchecked accessors of a [`Ring`] or an [`IndirectTable`]
/// ([`DmaRegion::raw`]): its window, for as long as it is borrowed.
///
/// The window, and so `len()`, is fixed when the value is made: the
/// contracts of [`RawRegion`]'s methods are those of `Window`'s unchecked
/// accessors.
#[derive(Clone, Copy)]
pub struct RawWindow<'a>(Window, PhantomData<&'a ()>);

impl RawRegion for RawWindow<'_> {
    #[inline(always)]
    unsafe fn read_u16(self, offset: usize) -> u16 {
        // SAFETY: in bounds of the window and aligned, per the caller's
        // contract.
        unsafe { self.0.read_unchecked(offset) }
    }

    #[inline(always)]
    unsafe fn write_u16(self, offset: usize, value: u16) {
        // SAFETY: as in `read_u16`.
        unsafe { self.0.write_unchecked(offset, value) }
    }

    #[inline(always)]
    unsafe fn write_desc(self, offset: usize, addr: u64, len: u32, flags: u16, next: u16) {
        // SAFETY: as in `read_u16`.
        unsafe { self.0.write_desc_unchecked(offset, addr, len, flags, next) }
    }

    #[inline(always)]
    unsafe fn read_used_elem(self, offset: usize) -> (u32, u32) {
        // SAFETY: as in `read_u16`.
        unsafe { self.0.read_used_elem_unchecked(offset) }
    }
}

macro_rules! impl_dma_region {
    ($t:ty) => {
        impl DmaRegion for $t {
            type Raw<'a> = RawWindow<'a>;
            fn len(&self) -> usize {
                self.window().len
            }
            fn dma_addr(&self) -> u64 {
                self.window().dma
            }
            fn read_u16(&self, offset: usize) -> u16 {
                self.window().read(offset)
            }
            fn read_u32(&self, offset: usize) -> u32 {
                self.window().read(offset)
            }
            fn write_u16(&self, offset: usize, value: u16) {
                self.window().write(offset, value)
            }
            fn write_u32(&self, offset: usize, value: u32) {
                self.window().write(offset, value)
            }
            fn write_u64(&self, offset: usize, value: u64) {
                self.window().write(offset, value)
            }
            #[inline(always)]
            fn write_desc(&self, offset: usize, addr: u64, len: u32, flags: u16, next: u16) {
                self.window().write_desc(offset, addr, len, flags, next)
            }
            #[inline(always)]
            fn read_used_elem(&self, offset: usize) -> (u32, u32) {
                self.window().read_used_elem(offset)
            }
            #[inline(always)]
            fn raw(&self) -> RawWindow<'_> {
                RawWindow(self.window(), PhantomData)
            }
        }
    };
}

/// The memory of one virtqueue's rings: one device-shared allocation.
///
/// # Invariants
///
/// `window` is [`Window::of`] `_mem`, which the value owns: the window is
/// live for as long as the value.
pub struct Ring {
    /// Owned for the window; only ever accessed through it.
    _mem: SharedMem,
    window: Window,
}

// SAFETY: `window` only describes `_mem`, which is `Send` and `Sync`, and
// moves with it.
unsafe impl Send for Ring {}
// SAFETY: as for `Send`; shared references only make volatile accesses.
unsafe impl Sync for Ring {}

impl Ring {
    /// Allocates `len` zeroed bytes that `dev` reaches as `addressing`
    /// says.
    pub fn new(dev: &Device<Bound>, addressing: Addressing, len: usize) -> Result<Self> {
        let mem = SharedMem::new(dev, addressing.uses_dma_api(), len)?;
        let window = Window::of(&mem);
        // INVARIANT: the window of `mem`, owned by the value.
        Ok(Self { _mem: mem, window })
    }

    #[inline(always)]
    fn window(&self) -> Window {
        self.window
    }
}

impl_dma_region!(Ring);

/// One indirect descriptor table: a slot of its queue's arena.
///
/// It does not own memory: the arena is owned by the queue's
/// [`KernelPlatform`], which outlives every table it hands out (the queue
/// owns both, and returns tables to the platform before reuse).
pub struct IndirectTable {
    window: Window,
    slot: u16,
}

impl IndirectTable {
    fn window(&self) -> Window {
        self.window
    }
}

impl_dma_region!(IndirectTable);

// SAFETY: an `IndirectTable` only describes a window of the arena owned by
// its queue's `KernelPlatform`; the queue (with its platform and tables)
// moves between contexts as a whole, under the queue's lock.
unsafe impl Send for IndirectTable {}

/// Slots of indirect tables in one device-shared allocation.
struct Arena {
    mem: SharedMem,
    /// Bytes per slot.
    slot_bytes: usize,
    /// Free slot numbers (a stack).
    free: KVec<u16>,
}

/// The kernel platform of one virtqueue.
pub struct KernelPlatform {
    arena: Option<Arena>,
}

impl KernelPlatform {
    /// A platform whose queue uses no indirect descriptors.
    pub fn new() -> Self {
        Self { arena: None }
    }

    /// A platform with `tables` indirect tables of up to `max_descs`
    /// descriptors each (use the queue size for `tables`: a queue never
    /// has more chains in flight than entries), in memory `dev` reaches as
    /// `addressing` says.
    pub fn with_indirect(
        dev: &Device<Bound>,
        addressing: Addressing,
        tables: u16,
        max_descs: u16,
    ) -> Result<Self> {
        if tables == 0 || max_descs == 0 {
            return Ok(Self::new());
        }
        let slot_bytes = usize::from(max_descs)
            .checked_mul(DESC_SIZE)
            .ok_or(EINVAL)?;
        let bytes = slot_bytes.checked_mul(usize::from(tables)).ok_or(EINVAL)?;
        let mem = SharedMem::new(dev, addressing.uses_dma_api(), bytes)?;
        let mut free = KVec::with_capacity(usize::from(tables), GFP_KERNEL)?;
        for slot in (0..tables).rev() {
            free.push(slot, GFP_KERNEL)?;
        }
        Ok(Self {
            arena: Some(Arena {
                mem,
                slot_bytes,
                free,
            }),
        })
    }
}

impl Default for KernelPlatform {
    fn default() -> Self {
        Self::new()
    }
}

impl Barriers for KernelPlatform {
    #[inline(always)]
    fn virt_wmb(&self) {
        barrier::virt_wmb();
    }

    #[inline(always)]
    fn virt_rmb(&self) {
        barrier::virt_rmb();
    }

    #[inline(always)]
    fn virt_mb(&self) {
        barrier::virt_mb();
    }
}

impl Platform for KernelPlatform {
    type Region = Ring;
    type IndirectTable = IndirectTable;
    type Slice<T> = KVec<T>;

    fn alloc_slice<T, F: FnMut(usize) -> T>(
        &mut self,
        len: usize,
        mut init: F,
    ) -> Result<KVec<T>, AllocError> {
        let mut v = KVec::with_capacity(len, GFP_KERNEL).map_err(|_| AllocError)?;
        for i in 0..len {
            // The capacity is reserved, so this never reallocates.
            v.push(init(i), GFP_KERNEL).map_err(|_| AllocError)?;
        }
        Ok(v)
    }

    fn alloc_indirect(&mut self, descs: u16) -> Option<IndirectTable> {
        let arena = self.arena.as_mut()?;
        let want = usize::from(descs).checked_mul(DESC_SIZE)?;
        if want == 0 || want > arena.slot_bytes {
            return None;
        }
        let slot = arena.free.pop()?;
        let off = usize::from(slot).checked_mul(arena.slot_bytes)?;
        let base = arena.mem.cpu_ptr();
        if base.is_null() || off.checked_add(arena.slot_bytes)? > arena.mem.len() {
            // Cannot happen (slots are below `tables`); keep the slot out.
            return None;
        }
        // INVARIANT: `off + slot_bytes <= len`: the window lies inside the
        // live arena, 16-byte aligned since the arena is page-aligned and
        // `slot_bytes` a multiple of 16. The arena outlives the table (see
        // `IndirectTable`).
        let window = Window {
            // SAFETY: `off` is within the allocation (checked above).
            base: NonNull::new(unsafe { base.add(off) })?,
            len: want,
            // CAST: `off` is below the arena size, which fits `u64`.
            dma: arena.mem.dma_addr().checked_add(off as u64)?,
        };
        Some(IndirectTable { window, slot })
    }

    fn free_indirect(&mut self, table: IndirectTable) {
        if let Some(arena) = self.arena.as_mut() {
            // Never fails: the stack has capacity for every slot.
            let _ = arena.free.push(table.slot, GFP_ATOMIC);
        }
    }
}

/// The device's side of device-shared memory, for in-kernel fake devices
/// (KUnit suites): volatile accessors at offsets, and translation of bus
/// addresses into offsets.
#[derive(Clone, Copy)]
pub struct DeviceView(Window);

impl DeviceView {
    /// Bus address of the first byte.
    pub fn dma_addr(&self) -> u64 {
        self.0.dma
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// The offset of bus address `addr` if `addr..addr + len` lies inside
    /// the view.
    pub fn offset_of(&self, addr: u64, len: u64) -> Option<usize> {
        let off = addr.checked_sub(self.0.dma)?;
        let end = off.checked_add(len)?;
        // CAST: `usize` is 64-bit on every architecture rvirtio supports.
        (end <= self.0.len as u64).then_some(off as usize)
    }

    /// Volatile 8-bit load (0 when out of range).
    pub fn read_u8(&self, off: usize) -> u8 {
        self.0.read(off)
    }

    /// Volatile 16-bit load (0 when out of range or misaligned).
    pub fn read_u16(&self, off: usize) -> u16 {
        self.0.read(off)
    }

    /// Volatile 32-bit load (0 when out of range or misaligned).
    pub fn read_u32(&self, off: usize) -> u32 {
        self.0.read(off)
    }

    /// Volatile 64-bit load (0 when out of range or misaligned).
    pub fn read_u64(&self, off: usize) -> u64 {
        self.0.read(off)
    }

    /// Volatile 8-bit store (dropped when out of range).
    pub fn write_u8(&self, off: usize, v: u8) {
        self.0.write(off, v)
    }

    /// Volatile 16-bit store (dropped when out of range or misaligned).
    pub fn write_u16(&self, off: usize, v: u16) {
        self.0.write(off, v)
    }

    /// Volatile 32-bit store (dropped when out of range or misaligned).
    pub fn write_u32(&self, off: usize, v: u32) {
        self.0.write(off, v)
    }
}

impl Ring {
    /// The device's view of this memory.
    ///
    /// # Safety
    ///
    /// The view must not be used after this [`Ring`] is dropped (it may be
    /// moved: the memory it describes does not move).
    pub unsafe fn device_view(&self) -> DeviceView {
        DeviceView(self.window())
    }
}

impl KernelPlatform {
    /// The device's view of the indirect table arena, if there is one.
    ///
    /// # Safety
    ///
    /// The view must not be used after this platform is dropped (it may be
    /// moved: the arena does not move).
    pub unsafe fn indirect_view(&self) -> Option<DeviceView> {
        let arena = self.arena.as_ref()?;
        let base = NonNull::new(arena.mem.cpu_ptr())?;
        // INVARIANT: the whole live arena allocation, page-aligned.
        Some(DeviceView(Window {
            base,
            len: arena.mem.len(),
            dma: arena.mem.dma_addr(),
        }))
    }
}
