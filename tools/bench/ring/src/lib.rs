// SPDX-License-Identifier: GPL-2.0

//! The rvirtio split ring driving the guest side of the kernel's
//! `tools/virtio/ringtest` harness.
//!
//! This static library exports the ringtest guest API (`alloc_ring`,
//! `add_inbuf`, `get_buf`, `used_empty`, `disable_call`, `enable_call`,
//! `kick_available`, see `tools/virtio/ringtest/main.h`) implemented with
//! [`rvirtio_core::split::SplitQueue`]. The `run` script links it with the
//! kernel's `virtio_ring_0_9.c` compiled with those guest functions renamed
//! (`c_add_inbuf`, ...), so the device side is the unmodified C host code
//! and only the driver side differs from the C reference build.
//!
//! The ring memory is allocated here and the C `ring` (`struct vring`) is
//! pointed at it, with the same legacy layout `vring_init(.., 0x1000)`
//! uses. Event index is on, as in `virtio_ring_0_9.c`. The used length
//! policy is [`LenPolicy::Clamp`] because ringtest's `main.c` posts
//! zero-length buffers and its host reports `len - 1` (that is,
//! `0xffffffff`), which the strict policy would rightly reject.

use core::{
    cell::UnsafeCell,
    ffi::{
        c_int,
        c_uint,
        c_void, //
    },
    ptr::NonNull,
};
use rvirtio_core::{
    layout::SplitLayout,
    platform::{
        AllocError,
        Barriers,
        DmaRegion,
        Platform, //
    },
    queue::{
        Buf,
        LenPolicy,
        QueueOptions,
        Virtqueue, //
    },
    split::SplitQueue,
};
use std::alloc::{
    alloc_zeroed,
    Layout, //
};

/// Ring memory: a raw allocation shared with the C host thread.
struct RawRegion {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain memory shared with the ringtest host
// thread; every access is a volatile load or store of a naturally aligned
// integer, as with the kernel's READ_ONCE/WRITE_ONCE.
unsafe impl Send for RawRegion {}

impl RawRegion {
    /// Pointer to a `T` at `off`, if it is in bounds and aligned.
    #[inline(always)]
    fn ptr<T>(&self, off: usize) -> Option<*mut T> {
        let size = core::mem::size_of::<T>();
        let align = core::mem::align_of::<T>();
        // `len >= size` was checked at construction, so no underflow.
        if off > self.len - size || off & (align - 1) != 0 {
            return None;
        }
        // SAFETY: `off + size_of::<T>() <= len`, so the result stays in the
        // allocation.
        Some(unsafe { self.base.as_ptr().add(off) }.cast::<T>())
    }
}

impl DmaRegion for RawRegion {
    fn len(&self) -> usize {
        self.len
    }
    fn dma_addr(&self) -> u64 {
        self.base.as_ptr() as u64
    }
    #[inline(always)]
    fn read_u16(&self, offset: usize) -> u16 {
        match self.ptr::<u16>(offset) {
            // SAFETY: in bounds and aligned (checked by `ptr`).
            Some(p) => unsafe { p.read_volatile() },
            None => 0,
        }
    }
    #[inline(always)]
    fn read_u32(&self, offset: usize) -> u32 {
        match self.ptr::<u32>(offset) {
            // SAFETY: in bounds and aligned (checked by `ptr`).
            Some(p) => unsafe { p.read_volatile() },
            None => 0,
        }
    }
    #[inline(always)]
    fn write_u16(&self, offset: usize, value: u16) {
        if let Some(p) = self.ptr::<u16>(offset) {
            // SAFETY: in bounds and aligned (checked by `ptr`).
            unsafe { p.write_volatile(value) }
        }
    }
    #[inline(always)]
    fn write_u32(&self, offset: usize, value: u32) {
        if let Some(p) = self.ptr::<u32>(offset) {
            // SAFETY: in bounds and aligned (checked by `ptr`).
            unsafe { p.write_volatile(value) }
        }
    }
    #[inline(always)]
    fn write_desc(&self, offset: usize, addr: u64, len: u32, flags: u16, next: u16) {
        // One bounds and alignment check for the 16-byte descriptor.
        if let Some(p) = self.ptr::<[u64; 2]>(offset) {
            let p = p.cast::<u8>();
            // SAFETY: the 16 bytes at `p` are in bounds and 8-byte aligned
            // (checked by `ptr`), so each field is in bounds and aligned.
            unsafe {
                p.cast::<u64>().write_volatile(addr);
                p.add(8).cast::<u32>().write_volatile(len);
                p.add(12).cast::<u16>().write_volatile(flags);
                p.add(14).cast::<u16>().write_volatile(next);
            }
        }
    }
    #[inline(always)]
    fn write_u64(&self, offset: usize, value: u64) {
        if let Some(p) = self.ptr::<u64>(offset) {
            // SAFETY: in bounds and aligned (checked by `ptr`).
            unsafe { p.write_volatile(value) }
        }
    }
}

/// Barriers as `virt_*mb()` on the host CPU, matching ringtest's `main.h`
/// so both sides pay the same: on x86-64 `virt_wmb`/`virt_rmb` are
/// compiler barriers and `virt_mb` is `lock; addl $0,-132(%rsp)`.
struct BenchPlatform;

impl Barriers for BenchPlatform {
    #[inline(always)]
    fn virt_wmb(&self) {
        #[cfg(any(target_arch = "x86_64", target_arch = "s390x"))]
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        #[cfg(not(any(target_arch = "x86_64", target_arch = "s390x")))]
        core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
    }
    #[inline(always)]
    fn virt_rmb(&self) {
        #[cfg(any(target_arch = "x86_64", target_arch = "s390x"))]
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        #[cfg(not(any(target_arch = "x86_64", target_arch = "s390x")))]
        core::sync::atomic::fence(core::sync::atomic::Ordering::Acquire);
    }
    #[inline(always)]
    fn virt_mb(&self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a locked add of 0 to a stack slot below the red zone
        // changes no memory and only orders memory accesses (the same
        // instruction as ringtest's and the kernel's x86-64 smp_mb()).
        unsafe {
            core::arch::asm!("lock; addl $0,-132(%rsp)", options(att_syntax, nostack));
        }
        #[cfg(not(target_arch = "x86_64"))]
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    }
}

impl Platform for BenchPlatform {
    type Region = RawRegion;
    type IndirectTable = RawRegion;
    type Slice<T> = Vec<T>;

    fn alloc_slice<T, F: FnMut(usize) -> T>(
        &mut self,
        len: usize,
        init: F,
    ) -> Result<Vec<T>, AllocError> {
        Ok((0..len).map(init).collect())
    }
    fn alloc_indirect(&mut self, _descs: u16) -> Option<RawRegion> {
        None
    }
    fn free_indirect(&mut self, _table: RawRegion) {}
}

/// `(datap, buf)` of `add_inbuf`.
type Token = (*mut c_void, *mut c_void);

struct Global(UnsafeCell<Option<SplitQueue<BenchPlatform, Token>>>);

// SAFETY: ringtest calls `alloc_ring()` before starting its threads and
// every other guest function from the guest thread only.
unsafe impl Sync for Global {}

static QUEUE: Global = Global(UnsafeCell::new(None));

/// Returns the queue.
///
/// # Safety
///
/// Only from the single guest thread (or before threads start), with no
/// other reference to the queue alive.
#[inline(always)]
unsafe fn queue() -> &'static mut SplitQueue<BenchPlatform, Token> {
    // SAFETY: exclusive access per this function's contract.
    match unsafe { &mut *QUEUE.0.get() } {
        Some(q) => q,
        None => {
            eprintln!("rvirtio bench: guest API used before alloc_ring()");
            std::process::abort()
        }
    }
}

/// The C ring (`struct vring` in `<linux/virtio_ring.h>`).
#[repr(C)]
struct CVring {
    num: c_uint,
    desc: *mut c_void,
    avail: *mut c_void,
    used: *mut c_void,
}

extern "C" {
    /// The kernel's `alloc_ring()`, renamed: sets up the C host state.
    fn c_alloc_ring();
    /// The ring the C host side uses.
    static mut ring: CVring;
    /// Sends a kick (eventfd, or a counter in the single-thread loop).
    fn kick();
}

/// Allocates the ring and points the C host at it.
#[no_mangle]
pub extern "C" fn alloc_ring() {
    // SAFETY: called once, before the guest and host threads start.
    unsafe { c_alloc_ring() };
    // SAFETY: `ring` was initialised by `c_alloc_ring()`; no thread runs.
    let num = unsafe { (*core::ptr::addr_of!(ring)).num };
    let Ok(size) = u16::try_from(num) else {
        std::process::abort()
    };
    let Ok(layout) = SplitLayout::legacy(size, 0x1000) else {
        std::process::abort()
    };
    let Ok(mem_layout) = Layout::from_size_align(layout.total_size(), 0x1000) else {
        std::process::abort()
    };
    // SAFETY: non-zero size.
    let Some(base) = NonNull::new(unsafe { alloc_zeroed(mem_layout) }) else {
        std::process::abort()
    };
    let region = RawRegion {
        base,
        len: layout.total_size(),
    };
    // SAFETY: the offsets are within the allocation of `total_size()`
    // bytes, and no other thread uses `ring` yet.
    unsafe {
        let r = &mut *core::ptr::addr_of_mut!(ring);
        r.desc = base.as_ptr().cast();
        r.avail = base.as_ptr().add(layout.avail_offset()).cast();
        r.used = base.as_ptr().add(layout.used_offset()).cast();
    }
    let opts = QueueOptions {
        event_idx: true,
        indirect: false,
        max_indirect: 0,
        legacy: false,
        len_policy: LenPolicy::Clamp,
        start_idx: 0,
    };
    let Ok(mut q) = SplitQueue::new(BenchPlatform, region, layout, opts) else {
        std::process::abort()
    };
    // Start with used buffer notifications off: ringtest's poll mode never
    // asks for them and its sleep mode disables them first thing. Enabled,
    // every get_used() would re-arm used_event with a full barrier (as
    // Linux's virtqueue_get_buf() does), which the C reference ring does
    // not implement.
    q.disable_cb();
    // SAFETY: no thread runs yet.
    unsafe { *QUEUE.0.get() = Some(q) };
}

/// Adds a device-writable buffer of `len` bytes at `buf`.
#[no_mangle]
pub extern "C" fn add_inbuf(len: c_uint, buf: *mut c_void, datap: *mut c_void) -> c_int {
    // SAFETY: guest thread only.
    let q = unsafe { queue() };
    match q.add(&[], &[Buf::new(buf as u64, len)], (datap, buf)) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// Returns the next used buffer's `datap`, or NULL.
///
/// # Safety
///
/// `lenp` and `bufp` must be valid for writes.
#[no_mangle]
pub unsafe extern "C" fn get_buf(lenp: *mut c_uint, bufp: *mut *mut c_void) -> *mut c_void {
    // SAFETY: guest thread only.
    let q = unsafe { queue() };
    match q.get_used() {
        Ok(Some(u)) => {
            // SAFETY: valid for writes per the function's contract.
            unsafe {
                *lenp = u.len;
                *bufp = u.token.1;
            }
            u.token.0
        }
        Ok(None) => core::ptr::null_mut(),
        Err(e) => {
            eprintln!("rvirtio bench: ring error {e:?}");
            std::process::abort()
        }
    }
}

/// Returns true if no used buffer is pending.
#[no_mangle]
pub extern "C" fn used_empty() -> bool {
    // SAFETY: guest thread only.
    let q = unsafe { queue() };
    !matches!(q.more_used(), Ok(true))
}

/// Suppresses used buffer notifications.
#[no_mangle]
pub extern "C" fn disable_call() {
    // SAFETY: guest thread only.
    unsafe { queue() }.disable_cb();
}

/// Re-enables used buffer notifications; true if nothing is pending.
#[no_mangle]
pub extern "C" fn enable_call() -> bool {
    // SAFETY: guest thread only.
    matches!(unsafe { queue() }.enable_cb(), Ok(true))
}

/// Notifies the host if needed.
#[no_mangle]
pub extern "C" fn kick_available() {
    // SAFETY: guest thread only.
    if matches!(unsafe { queue() }.prepare_kick(), Ok(true)) {
        // SAFETY: provided by the harness.
        unsafe { kick() };
    }
}
