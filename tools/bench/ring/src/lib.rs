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
//! The platform is the core's host platform ([`HostPlatform`] over
//! [`HostMemory`], the same code the core's tests use) with the barrier
//! instructions of ringtest's `main.h`. The ring memory is allocated here
//! and the C `ring` (`struct vring`) is pointed at it, with the same legacy
//! layout `vring_init(.., 0x1000)` uses. Event index is on, as in `virtio_ring_0_9.c`. The used length
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
    mem::MaybeUninit,
    ptr::NonNull,
};
use rvirtio_core::{
    host::{
        HostMemory,
        HostPlatform,
        HostRegion, //
    },
    layout::SplitLayout,
    platform::Barriers,
    queue::{
        Buf,
        LenPolicy,
        QueueOptions,
        RingError,
        Virtqueue, //
    },
    split::SplitQueue,
};

/// Barriers as `virt_*mb()` on the host CPU, matching ringtest's `main.h`
/// so both sides pay the same: on x86-64 `virt_wmb`/`virt_rmb` are
/// compiler barriers and `virt_mb` is `lock; addl $0,-132(%rsp)`.
#[derive(Clone, Copy)]
struct VirtBarriers;

impl VirtBarriers {
    /// `virt_wmb()`/`virt_rmb()`: a compiler barrier where the CPU keeps
    /// stores (loads) in order, otherwise a fence.
    #[inline(always)]
    fn ordered_or(fence: core::sync::atomic::Ordering) {
        if cfg!(any(target_arch = "x86_64", target_arch = "s390x")) {
            core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        } else {
            core::sync::atomic::fence(fence);
        }
    }
}

impl Barriers for VirtBarriers {
    #[inline(always)]
    fn virt_wmb(&self) {
        Self::ordered_or(core::sync::atomic::Ordering::Release);
    }
    #[inline(always)]
    fn virt_rmb(&self) {
        Self::ordered_or(core::sync::atomic::Ordering::Acquire);
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

/// The host platform of the core's tests, with the kernel's barriers and
/// no indirect tables.
type BenchPlatform = HostPlatform<VirtBarriers>;

/// `(datap, buf)` of `add_inbuf`. `datap` is never NULL: `get_buf()`
/// returns it, and NULL means "no buffer".
type Token = (NonNull<c_void>, *mut c_void);

struct Global(UnsafeCell<MaybeUninit<SplitQueue<BenchPlatform, Token>>>);

// SAFETY: ringtest calls `alloc_ring()` before starting its threads and
// every other guest function from the guest thread only.
unsafe impl Sync for Global {}

static QUEUE: Global = Global(UnsafeCell::new(MaybeUninit::uninit()));

/// Returns the queue.
///
/// # Safety
///
/// Only after `alloc_ring()` (ringtest's `main.c` and `loop.c` call it
/// first: the C ring does not check either), from the single guest thread,
/// with no other reference to the queue alive.
#[inline(always)]
unsafe fn queue() -> &'static mut SplitQueue<BenchPlatform, Token> {
    // SAFETY: initialised by `alloc_ring()`, exclusive access per this
    // function's contract.
    unsafe { (*QUEUE.0.get()).assume_init_mut() }
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
    // Page-aligned and zeroed, as `vring_init(.., 0x1000)` needs. The bus
    // address (0) is never used: the C host side gets CPU pointers.
    let mem = HostMemory::new(0, layout.total_size());
    let base = mem.as_ptr();
    let region = HostRegion::new(mem.clone(), 0, layout.total_size());
    let platform = BenchPlatform::with_barriers(mem, 0, 0, 0, VirtBarriers);
    // SAFETY: the offsets are within the allocation of `total_size()`
    // bytes, which the queue keeps alive for the rest of the process, and
    // no other thread uses `ring` yet.
    unsafe {
        let r = &mut *core::ptr::addr_of_mut!(ring);
        r.desc = base.cast();
        r.avail = base.add(layout.avail_offset()).cast();
        r.used = base.add(layout.used_offset()).cast();
    }
    let opts = QueueOptions {
        event_idx: true,
        indirect: false,
        max_indirect: 0,
        legacy: false,
        len_policy: LenPolicy::Clamp,
        start_idx: 0,
    };
    let Ok(mut q) = SplitQueue::new(platform, region, layout, opts) else {
        std::process::abort()
    };
    // Start with used buffer notifications off: ringtest's poll mode never
    // asks for them and its sleep mode disables them first thing. Once
    // enable_call() enables them (loop.c does after every round), used_event
    // follows the driver's reads (moved around every used.idx load, with a
    // full barrier before it; Linux's virtqueue_get_buf() moves it after
    // every buffer), which the C reference ring does not implement.
    q.disable_cb();
    // SAFETY: no thread runs yet.
    unsafe { (*QUEUE.0.get()).write(q) };
}

/// Adds a device-writable buffer of `len` bytes at `buf`, identified by
/// `datap` (not NULL).
#[no_mangle]
pub extern "C" fn add_inbuf(len: c_uint, buf: *mut c_void, datap: *mut c_void) -> c_int {
    let Some(datap) = NonNull::new(datap) else {
        return refused();
    };
    // SAFETY: guest thread only.
    let q = unsafe { queue() };
    match q.add(&[], &[Buf::new(buf as u64, len)], (datap, buf)) {
        Ok(()) => 0,
        Err(_) => refused(),
    }
}

/// `add_inbuf()`'s -1 (ring full, broken, or a NULL `datap`), out of the
/// way of the path that adds: as a C function returns it, rather than
/// loaded on every call before the checks.
#[cold]
#[inline(never)]
fn refused() -> c_int {
    // Opaque, so that the constant is not propagated back into the
    // caller's hot path.
    core::hint::black_box(-1)
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
    q.get_used_then(move |r| match r {
        Ok(Some(u)) => {
            // SAFETY: valid for writes per the function's contract.
            unsafe {
                *lenp = u.len;
                *bufp = u.token.1;
            }
            u.token.0.as_ptr()
        }
        Ok(None) => core::ptr::null_mut(),
        Err(e) => ring_error(e),
    })
}

/// Reports a ring error and aborts (kept out of the guest functions).
#[cold]
#[inline(never)]
fn ring_error(e: RingError) -> ! {
    eprintln!("rvirtio bench: ring error {e:?}");
    std::process::abort()
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
