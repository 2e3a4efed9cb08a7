// SPDX-License-Identifier: GPL-2.0

//! Host (userspace) support: a [`Platform`] over ordinary memory, and the
//! malicious-device fuzz harness.
//!
//! Only built with the `host` feature; never part of a kernel module.
//!
//! The default barriers here are `core::sync::atomic::fence` calls. That is
//! fine for host tests, where the "device" is test code in the same
//! process; the kernel implementation uses the `virt_*mb()` C helpers
//! instead, and the ring benchmark the same instructions as those.
//!
//! The same [`HostMemory`], [`HostRegion`] and [`HostPlatform`] serve the
//! fuzz harness, the integration tests (with `vm-memory` guest memory
//! underneath, see [`HostMemory::from_raw`]) and the ring benchmark (with
//! its C device side reading the memory at [`HostMemory::as_ptr`]).

use crate::platform::{
    desc_flags_next,
    AllocError,
    Barriers,
    DmaRegion,
    Platform,
    RawRegion, //
};
use core::{
    any::Any,
    marker::PhantomData,
    mem::size_of,
    ptr::NonNull,
    sync::atomic::{
        fence,
        AtomicU16,
        AtomicU32,
        AtomicU64,
        AtomicU8,
        Ordering, //
    },
};
use std::{
    alloc::{
        alloc_zeroed,
        dealloc,
        handle_alloc_error,
        Layout, //
    },
    sync::{
        Arc,
        Mutex, //
    },
    vec::Vec,
};

/// An integer type memory is accessed as: one relaxed atomic load or store
/// of its width (a plain `mov` on x86-64, like the kernel's
/// `READ_ONCE()`/`WRITE_ONCE()`).
trait Word: Copy + Default {
    /// Loads from `p`.
    ///
    /// # Safety
    ///
    /// `p` is valid for reads of `Self` and aligned to its size.
    unsafe fn load(p: *mut u8) -> Self;

    /// Stores to `p`.
    ///
    /// # Safety
    ///
    /// `p` is valid for writes of `Self` and aligned to its size.
    unsafe fn store(p: *mut u8, v: Self);
}

macro_rules! word {
    ($t:ty, $a:ty) => {
        const _: () = assert!(core::mem::align_of::<$a>() == size_of::<$t>());

        impl Word for $t {
            #[inline(always)]
            unsafe fn load(p: *mut u8) -> Self {
                // SAFETY: valid and aligned per the contract; every access
                // to host memory is atomic, so there is no data race.
                unsafe { <$a>::from_ptr(p.cast()) }.load(Ordering::Relaxed)
            }

            #[inline(always)]
            unsafe fn store(p: *mut u8, v: Self) {
                // SAFETY: as in `load`.
                unsafe { <$a>::from_ptr(p.cast()) }.store(v, Ordering::Relaxed)
            }
        }
    };
}

word!(u8, AtomicU8);
word!(u16, AtomicU16);
word!(u32, AtomicU32);
word!(u64, AtomicU64);

/// A window of host memory: `len` bytes at `ptr`, checked accesses.
///
/// # Invariants
///
/// `ptr..ptr + len` is live memory of the [`HostMemory`] the window was
/// made from, which its holder keeps alive, and `ptr` is 16-byte aligned
/// (or `len` is 0), like the kernel's DMA windows.
#[derive(Clone, Copy)]
struct Window {
    ptr: NonNull<u8>,
    len: usize,
}

impl Window {
    /// The window of `len` bytes at `ptr`; empty if `ptr` is not 16-byte
    /// aligned.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` is live memory for as long as the window is used.
    unsafe fn new(ptr: NonNull<u8>, len: usize) -> Self {
        let len = if ptr.as_ptr().addr().is_multiple_of(16) {
            len
        } else {
            0
        };
        // INVARIANT: live per the contract, aligned or empty.
        Self { ptr, len }
    }

    /// The address of `size` bytes at `off`, if in bounds and `off` is a
    /// multiple of `align` (a power of two, at most 16: the address then
    /// is too). As the kernel's accessors: check the offset, so an
    /// offset the caller visibly aligned costs no check.
    #[inline(always)]
    fn at(&self, off: usize, size: usize, align: usize) -> Option<*mut u8> {
        if off & (align - 1) != 0 || off.checked_add(size)? > self.len {
            return None;
        }
        Some(self.ptr.as_ptr().wrapping_add(off))
    }

    /// The address at `off`, unchecked.
    ///
    /// # Safety
    ///
    /// `off + size <= len` for the `size` bytes accessed there.
    #[inline(always)]
    unsafe fn at_unchecked(&self, off: usize) -> *mut u8 {
        // SAFETY: `off <= len` per the contract: inside the live memory
        // of the window or one past its end (type invariant).
        unsafe { self.ptr.as_ptr().add(off) }
    }

    /// The address of a `W` at `off`, if in bounds and naturally aligned.
    #[inline(always)]
    fn at_word<W>(&self, off: usize) -> Option<*mut u8> {
        self.at(off, size_of::<W>(), size_of::<W>())
    }

    #[inline(always)]
    fn read<W: Word>(&self, off: usize) -> W {
        match self.at_word::<W>(off) {
            // SAFETY: in bounds of live memory (type invariant) and aligned.
            Some(p) => unsafe { W::load(p) },
            None => W::default(),
        }
    }

    #[inline(always)]
    fn write<W: Word>(&self, off: usize, v: W) {
        if let Some(p) = self.at_word::<W>(off) {
            // SAFETY: in bounds of live memory (type invariant) and aligned.
            unsafe { W::store(p, v) }
        }
    }
}

/// Who owns the bytes of a [`HostMemory`].
enum Owner {
    /// Allocated by [`HostMemory::new`] with this layout.
    Alloc(Layout),
    /// Someone else's memory, kept alive by holding this.
    Borrowed(#[allow(dead_code)] Arc<dyn Any + Send + Sync>),
}

/// A flat simulated bus address space shared by driver and device code.
///
/// Every access is a relaxed atomic load or store of the access width,
/// bounds- and alignment-checked like the kernel's DMA accessors
/// (`rust/kvirtio/platform.rs`): an out-of-range or misaligned access reads
/// 0 or is dropped. Shared access is therefore safe Rust, and the memory
/// can also be handed to C or to a device model by address
/// ([`HostMemory::as_ptr`], [`HostMemory::from_raw`]).
pub struct HostMemory {
    base: u64,
    window: Window,
    owner: Owner,
}

// SAFETY: the memory is only accessed through atomic loads and stores
// (`Window`), and the owner is `Send + Sync`.
unsafe impl Send for HostMemory {}
// SAFETY: as for `Send`.
unsafe impl Sync for HostMemory {}

impl HostMemory {
    /// Zeroed memory of `len` bytes, page-aligned, whose first byte has
    /// bus address `base`.
    pub fn new(base: u64, len: usize) -> Arc<Self> {
        let layout = match Layout::from_size_align(len.max(1), 4096) {
            Ok(l) => l,
            Err(e) => panic!("host memory of {len} bytes: {e}"),
        };
        // SAFETY: the size is not zero.
        let Some(ptr) = NonNull::new(unsafe { alloc_zeroed(layout) }) else {
            handle_alloc_error(layout)
        };
        Arc::new(Self {
            base,
            // SAFETY: `len` bytes of the allocation, freed on drop.
            window: unsafe { Window::new(ptr, len) },
            owner: Owner::Alloc(layout),
        })
    }

    /// Memory of `len` bytes at `ptr` owned by someone else (for example
    /// `vm-memory` guest memory), whose first byte has bus address `base`.
    /// `owner` is kept until the `HostMemory` is dropped.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must be valid for reads and writes for as long as
    /// `owner` is alive, and only ever accessed with atomic or volatile
    /// accesses, or with plain ones ordered with all others by the same
    /// thread. (`ptr` should be 16-byte aligned: otherwise every access
    /// fails.)
    pub unsafe fn from_raw(
        base: u64,
        ptr: NonNull<u8>,
        len: usize,
        owner: Arc<dyn Any + Send + Sync>,
    ) -> Arc<Self> {
        Arc::new(Self {
            base,
            // SAFETY: the caller guarantees the memory lives as long as
            // `owner`, which `self` holds.
            window: unsafe { Window::new(ptr, len) },
            owner: Owner::Borrowed(owner),
        })
    }

    /// Bus address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.window.len
    }

    /// Returns `true` if the memory is empty.
    pub fn is_empty(&self) -> bool {
        self.window.len == 0
    }

    /// CPU address of the first byte, to share the memory with C code.
    pub fn as_ptr(&self) -> *mut u8 {
        self.window.ptr.as_ptr()
    }

    /// Reads `N` bytes at memory offset `off` (zeros if out of range).
    pub fn read<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            if let Some(o) = off.checked_add(i) {
                *b = self.window.read(o);
            }
        }
        out
    }

    /// Writes bytes at memory offset `off` (dropped if out of range).
    pub fn write(&self, off: usize, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            if let Some(o) = off.checked_add(i) {
                self.window.write(o, *b);
            }
        }
    }
}

impl Drop for HostMemory {
    fn drop(&mut self) {
        if let Owner::Alloc(layout) = self.owner {
            // SAFETY: allocated in `new()` with this layout; every window
            // into it is held by a `HostRegion` holding an `Arc` of `self`,
            // so none is left.
            unsafe { dealloc(self.window.ptr.as_ptr(), layout) }
        }
    }
}

/// A region of [`HostMemory`].
#[derive(Clone)]
pub struct HostRegion {
    mem: Arc<HostMemory>,
    offset: usize,
    window: Window,
}

// SAFETY: the window is a part of `mem`, which is `Send + Sync`.
unsafe impl Send for HostRegion {}
// SAFETY: as for `Send`.
unsafe impl Sync for HostRegion {}

impl HostRegion {
    /// The region `offset..offset + len` of `mem`, cut to what `mem` has.
    /// Like the kernel's DMA memory, a region must start 16-byte aligned:
    /// one that does not refuses every access.
    pub fn new(mem: Arc<HostMemory>, offset: usize, len: usize) -> Self {
        let offset = offset.min(mem.len());
        let len = len.min(mem.len() - offset);
        // SAFETY: `offset <= mem.len()`, so `ptr` is inside the memory or
        // one past its end, and `len` bytes from it are inside `mem`,
        // which `self` holds.
        let window = unsafe { Window::new(mem.window.ptr.add(offset), len) };
        Self {
            mem,
            offset,
            window,
        }
    }

    /// Offset of the region in its memory.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The memory.
    pub fn memory(&self) -> &Arc<HostMemory> {
        &self.mem
    }

    /// Reads a `u64` in CPU byte order.
    pub fn read_u64(&self, offset: usize) -> u64 {
        self.window.read(offset)
    }

    /// Reads a `u8`.
    pub fn read_u8(&self, offset: usize) -> u8 {
        self.window.read(offset)
    }
}

impl DmaRegion for HostRegion {
    type Raw<'a> = HostRaw<'a>;

    #[inline(always)]
    fn len(&self) -> usize {
        self.window.len
    }

    #[inline(always)]
    fn dma_addr(&self) -> u64 {
        // CAST: `offset <= len`, a `usize` that fits a `u64`.
        self.mem.base.wrapping_add(self.offset as u64)
    }

    #[inline(always)]
    fn read_u16(&self, offset: usize) -> u16 {
        self.window.read(offset)
    }

    #[inline(always)]
    fn read_u32(&self, offset: usize) -> u32 {
        self.window.read(offset)
    }

    #[inline(always)]
    fn write_u16(&self, offset: usize, value: u16) {
        self.window.write(offset, value)
    }

    #[inline(always)]
    fn write_u32(&self, offset: usize, value: u32) {
        self.window.write(offset, value)
    }

    #[inline(always)]
    fn write_u64(&self, offset: usize, value: u64) {
        self.window.write(offset, value)
    }

    #[inline(always)]
    fn write_desc(&self, offset: usize, addr: u64, len: u32, flags: u16, next: u16) {
        // One bounds and alignment check for the whole descriptor.
        if let Some(p) = self.window.at(offset, 16, 16) {
            // SAFETY: the 16 bytes at `p` are in bounds and 16-byte
            // aligned, so each field is in bounds and aligned.
            unsafe {
                u64::store(p, addr);
                u32::store(p.add(8), len);
                u16::store(p.add(12), flags);
                u16::store(p.add(14), next);
            }
        }
    }

    #[inline(always)]
    fn read_used_elem(&self, offset: usize) -> (u32, u32) {
        // One bounds and alignment check for the whole element.
        match self.window.at(offset, 8, 4) {
            // SAFETY: the 8 bytes at `p` are in bounds and 4-byte aligned,
            // so both fields are in bounds and aligned.
            Some(p) => unsafe { (u32::load(p), u32::load(p.add(4))) },
            None => (0, 0),
        }
    }

    #[inline(always)]
    fn raw(&self) -> HostRaw<'_> {
        HostRaw {
            window: self.window,
            _region: PhantomData,
        }
    }
}

/// The unchecked accessors of a [`HostRegion`] ([`DmaRegion::raw`]): its
/// window, for as long as the region is borrowed.
///
/// The window is fixed when the region is made, so `len()` never changes:
/// an offset within a value it returned is within the window, and, as a
/// multiple of the access width from the window's 16-byte aligned start,
/// aligned.
#[derive(Clone, Copy)]
pub struct HostRaw<'a> {
    window: Window,
    _region: PhantomData<&'a HostRegion>,
}

impl RawRegion for HostRaw<'_> {
    #[inline(always)]
    unsafe fn read_u16(self, offset: usize) -> u16 {
        // SAFETY: in bounds and aligned per the contract (see above).
        unsafe { u16::load(self.window.at_unchecked(offset)) }
    }

    #[inline(always)]
    unsafe fn write_u16(self, offset: usize, value: u16) {
        // SAFETY: in bounds and aligned per the contract (see above).
        unsafe { u16::store(self.window.at_unchecked(offset), value) }
    }

    #[inline(always)]
    unsafe fn write_desc(self, offset: usize, addr: u64, len: u32, flags: u16, next: u16) {
        // SAFETY: the 16 bytes at `offset` are in bounds and 16-byte
        // aligned per the contract (see above), so each store (8 bytes at
        // +0, 4 at +8 and at +12, `flags` and `next` in one) is.
        unsafe {
            let p = self.window.at_unchecked(offset);
            u64::store(p, addr);
            u32::store(p.add(8), len);
            u32::store(p.add(12), desc_flags_next(flags, next));
        }
    }

    #[inline(always)]
    unsafe fn read_used_elem(self, offset: usize) -> (u32, u32) {
        // SAFETY: the 8 bytes at `offset` are in bounds and 4-byte aligned
        // per the contract (see above), so both fields are.
        unsafe {
            let p = self.window.at_unchecked(offset);
            (u32::load(p), u32::load(p.add(4)))
        }
    }
}

/// Statistics of a [`HostPlatform`], shared with test code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Indirect tables currently allocated.
    pub indirect_live: usize,
    /// Indirect tables allocated in total.
    pub indirect_allocs: usize,
}

/// The default barriers of a [`HostPlatform`]: Rust fences.
///
/// Test only: the device is test code in the same process. The kernel uses
/// the `virt_*mb()` C helpers instead.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fences;

impl Barriers for Fences {
    #[inline(always)]
    fn virt_wmb(&self) {
        fence(Ordering::Release);
    }

    #[inline(always)]
    fn virt_rmb(&self) {
        fence(Ordering::Acquire);
    }

    #[inline(always)]
    fn virt_mb(&self) {
        fence(Ordering::SeqCst);
    }
}

/// A [`Platform`] over [`HostMemory`], with barriers `B`.
///
/// Indirect tables come from a pool of fixed-size slots in the same
/// memory. `Clone` shares the pool and the statistics.
#[derive(Clone)]
pub struct HostPlatform<B = Fences> {
    mem: Arc<HostMemory>,
    pool_offset: usize,
    slot_descs: u16,
    free_slots: Arc<Mutex<Vec<usize>>>,
    stats: Arc<Mutex<HostStats>>,
    fail_indirect: bool,
    barriers: B,
}

impl HostPlatform {
    /// A platform whose indirect pool has `slots` tables of `slot_descs`
    /// descriptors at memory offset `pool_offset` (16-byte aligned).
    pub fn new(mem: Arc<HostMemory>, pool_offset: usize, slots: usize, slot_descs: u16) -> Self {
        Self::with_barriers(mem, pool_offset, slots, slot_descs, Fences)
    }
}

impl<B> HostPlatform<B> {
    /// Like [`HostPlatform::new`], with other barriers (e.g. the exact
    /// instructions of the kernel's `virt_*mb()`, for benchmarks).
    pub fn with_barriers(
        mem: Arc<HostMemory>,
        pool_offset: usize,
        slots: usize,
        slot_descs: u16,
        barriers: B,
    ) -> Self {
        let free = (0..slots).rev().collect();
        Self {
            mem,
            pool_offset,
            slot_descs,
            free_slots: Arc::new(Mutex::new(free)),
            stats: Arc::new(Mutex::new(HostStats::default())),
            fail_indirect: false,
            barriers,
        }
    }

    /// The memory.
    pub fn memory(&self) -> &Arc<HostMemory> {
        &self.mem
    }

    /// Makes every indirect allocation fail (tests the direct fallback).
    pub fn set_fail_indirect(&mut self, fail: bool) {
        self.fail_indirect = fail;
    }

    /// Current statistics.
    pub fn stats(&self) -> HostStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn bump(&self, f: impl FnOnce(&mut HostStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }
}

impl<B: Barriers> Barriers for HostPlatform<B> {
    #[inline(always)]
    fn virt_wmb(&self) {
        self.barriers.virt_wmb();
    }

    #[inline(always)]
    fn virt_rmb(&self) {
        self.barriers.virt_rmb();
    }

    #[inline(always)]
    fn virt_mb(&self) {
        self.barriers.virt_mb();
    }
}

impl<B: Barriers> Platform for HostPlatform<B> {
    type Region = HostRegion;
    type IndirectTable = HostRegion;
    type Slice<T> = Vec<T>;

    fn alloc_slice<T, F: FnMut(usize) -> T>(
        &mut self,
        len: usize,
        init: F,
    ) -> Result<Vec<T>, AllocError> {
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| AllocError)?;
        v.extend((0..len).map(init));
        Ok(v)
    }

    fn alloc_indirect(&mut self, descs: u16) -> Option<HostRegion> {
        if self.fail_indirect || descs > self.slot_descs {
            return None;
        }
        let slot = self.free_slots.lock().ok()?.pop()?;
        let bytes = usize::from(self.slot_descs) * 16;
        self.bump(|s| {
            s.indirect_live += 1;
            s.indirect_allocs += 1;
        });
        Some(HostRegion::new(
            self.mem.clone(),
            self.pool_offset + slot * bytes,
            usize::from(descs) * 16,
        ))
    }

    fn free_indirect(&mut self, table: HostRegion) {
        let bytes = usize::from(self.slot_descs) * 16;
        let slot = (table.offset - self.pool_offset) / bytes;
        if let Ok(mut f) = self.free_slots.lock() {
            assert!(!f.contains(&slot), "indirect table freed twice");
            f.push(slot);
        }
        self.bump(|s| s.indirect_live -= 1);
    }
}

pub mod fuzz;
