// SPDX-License-Identifier: GPL-2.0

//! Hardware random number generators (`struct hwrng`).
//!
//! The 7.2 kernel crate has no hwrng binding, and `linux/hw_random.h` is not
//! reachable from its bindings, so a C shim (`rust/helpers/hwrng.c`) owns
//! the `struct hwrng` and forwards `->read()` here. A module that uses this
//! includes both: `#[path] mod hwrng;` from its crate root, and
//! `#include "rust/helpers/hwrng.c"` in its `helpers.c`.
//!
//! C header: [`include/linux/hw_random.h`](srctree/include/linux/hw_random.h)

use core::ptr::NonNull;
use kernel::{prelude::*, sync::Arc};

#[repr(C)]
struct RawHwrng {
    _opaque: [u8; 0],
}

type ReadFn = unsafe extern "C" fn(
    priv_: *mut kernel::ffi::c_void,
    buf: *mut kernel::ffi::c_void,
    max: usize,
    wait: bool,
) -> kernel::ffi::c_int;

unsafe extern "C" {
    fn rvirtio_hwrng_alloc(
        name: *const kernel::ffi::c_char,
        quality: u16,
        read: ReadFn,
        priv_: *mut kernel::ffi::c_void,
    ) -> *mut RawHwrng;
    fn rvirtio_hwrng_register(r: *mut RawHwrng) -> kernel::ffi::c_int;
    fn rvirtio_hwrng_unregister(r: *mut RawHwrng);
    fn rvirtio_hwrng_free(r: *mut RawHwrng);
}

/// The operations of an hwrng.
pub trait Operations: Send + Sync + 'static {
    /// Fills `buf` with random bytes; returns how many. With `wait` false
    /// it must not sleep and returns 0 when nothing is ready. With `wait`
    /// it may sleep, but only for a bounded time (then 0): the hwrng core
    /// holds its `reading_mutex` across the call, also from its kthread,
    /// which no signal ends, so an unbounded sleep on a silent device
    /// would stall every reader of `/dev/hwrng`.
    fn read(&self, buf: &mut [u8], wait: bool) -> Result<usize>;
}

/// A registered hwrng; unregistered (waiting for readers to leave) and
/// freed when dropped.
///
/// # Invariants
///
/// `raw` is a registered `rvirtio_hwrng` whose private pointer is the
/// inner pointer of `ops`, which this registration keeps alive.
pub struct Registration<T: Operations> {
    raw: NonNull<RawHwrng>,
    ops: Arc<T>,
}

// SAFETY: the C object is only touched through the hwrng core, which locks
// as it needs; `ops` is `Send + Sync`.
unsafe impl<T: Operations> Send for Registration<T> {}
// SAFETY: as above; `&Registration` gives no access to the C object.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    /// Registers an hwrng named `name` (copied) with entropy `quality`
    /// (bits per 1024 bits of output; 0 for the core's default).
    pub fn new(name: &CStr, quality: u16, ops: Arc<T>) -> Result<Self> {
        if quality > 1024 {
            return Err(EINVAL);
        }
        let priv_ = Arc::as_ptr(&ops).cast_mut().cast();
        // SAFETY: `name` is a valid C string (copied by the shim); `priv_`
        // stays valid while `ops` lives, which is at least until the hwrng
        // is unregistered in `drop`.
        let raw = unsafe { rvirtio_hwrng_alloc(name.as_char_ptr(), quality, Self::read, priv_) };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // SAFETY: `raw` was just allocated and is not registered.
        let rc = unsafe { rvirtio_hwrng_register(raw.as_ptr()) };
        if rc != 0 {
            // SAFETY: not registered: nobody else holds it.
            unsafe { rvirtio_hwrng_free(raw.as_ptr()) };
            return Err(Error::from_errno(rc));
        }
        // INVARIANT: registered with `ops`' pointer.
        Ok(Self { raw, ops })
    }

    /// The operations.
    pub fn ops(&self) -> &Arc<T> {
        &self.ops
    }

    /// # Safety
    ///
    /// Called by the hwrng core through the shim with the private pointer
    /// given at registration and a buffer of at least `max` bytes.
    unsafe extern "C" fn read(
        priv_: *mut kernel::ffi::c_void,
        buf: *mut kernel::ffi::c_void,
        max: usize,
        wait: bool,
    ) -> kernel::ffi::c_int {
        // SAFETY: `priv_` is the `T` kept alive by the registration, which
        // is unregistered (so no read runs) before it is released.
        let ops = unsafe { &*priv_.cast::<T>() };
        if buf.is_null() || max == 0 {
            return 0;
        }
        // SAFETY: the hwrng core hands a buffer of `max` writable bytes,
        // exclusively ours for the duration of the call.
        let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), max) };
        match ops.read(out, wait) {
            // CAST: at most `max`, and the core's buffers are small.
            Ok(n) => n.min(max) as kernel::ffi::c_int,
            Err(e) => e.to_errno(),
        }
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); unregistering waits for
        // readers, after which the object is ours to free.
        unsafe {
            rvirtio_hwrng_unregister(self.raw.as_ptr());
            rvirtio_hwrng_free(self.raw.as_ptr());
        }
    }
}
