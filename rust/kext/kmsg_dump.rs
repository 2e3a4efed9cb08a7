// SPDX-License-Identifier: GPL-2.0

//! kmsg dumpers: a driver's [`Dumper`] receives the newest kernel messages
//! when the kernel oopses or panics, the way pstore and mtdoops save them.
//!
//! The 7.2 kernel crate has no kmsg_dump binding, so a C shim
//! (`rust/helpers/kmsg_dump.c`) owns the `struct kmsg_dumper` and a buffer
//! allocated at registration, copies the messages into it on a dump
//! (nothing is allocated then) and calls [`Dumper::dump`]. A module that
//! uses this includes both: `#[path] mod kmsg_dump;` from its crate root
//! and `#include "rust/helpers/kmsg_dump.c"` in its `helpers.c`.
//!
//! [`Dumper::dump`] runs in the context that oopsed or panicked:
//! interrupts may be off, other CPUs stopped, the caller may be an NMI. It
//! must not sleep, allocate or take a lock. Dumps do not nest (a dump that
//! finds another in progress is dropped). Dropping the [`Registration`]
//! unregisters the dumper and waits until no dump runs.
//!
//! C header: [`include/linux/kmsg_dump.h`](srctree/include/linux/kmsg_dump.h)

use core::ptr::NonNull;
use kernel::{
    ffi::{c_int, c_long, c_void},
    prelude::*,
    sync::Arc,
};

/// The version of the shim's ABI these declarations were written for; it
/// must equal `RVIRTIO_KMSG_DUMP_SHIM_ABI` in `rust/helpers/kmsg_dump.c`.
pub const SHIM_ABI: u32 = 1;

#[repr(C)]
struct RawDump {
    _opaque: [u8; 0],
}

type DumpFn = unsafe extern "C" fn(*mut c_void, u32, *const u8, usize);

unsafe extern "C" {
    fn rvirtio_kmsg_dump_abi() -> u32;
    fn rvirtio_kmsg_dump_c_layout(id: u32) -> c_long;
    fn rvirtio_kmsg_dump_add(
        dump: DumpFn,
        priv_: *mut c_void,
        size: usize,
        out: *mut *mut RawDump,
    ) -> c_int;
    fn rvirtio_kmsg_dump_remove(d: *mut RawDump);
}

/// Why the kernel dumps its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    /// A panic: the kernel stops after the dump.
    Panic = 0,
    /// An oops: the kernel may go on (or panic next, with `oops=panic`).
    Oops = 1,
}

/// Receives the kernel's messages on an oops or a panic.
pub trait Dumper: Send + Sync + 'static {
    /// `log` holds the newest messages that fit the registration's buffer,
    /// oldest first, one per line. Runs in atomic (maybe NMI) context: do
    /// not sleep, allocate or lock.
    fn dump(&self, reason: Reason, log: &[u8]);
}

/// The shim's values this file mirrors, as `rvirtio_kmsg_dump_c_layout`
/// gives them. Discriminants match `enum rvirtio_kmsg_dump_c_field` in
/// `rust/helpers/kmsg_dump.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CField {
    /// `RVIRTIO_KMSG_DUMP_PANIC`.
    Panic = 0,
    /// `RVIRTIO_KMSG_DUMP_OOPS`.
    Oops,
}

/// What C says of `field`, `None` for an id it does not know.
pub fn c_layout(field: CField) -> Option<usize> {
    // SAFETY: a pure function of its argument; unknown ids return -1.
    usize::try_from(unsafe { rvirtio_kmsg_dump_c_layout(field as u32) }).ok()
}

/// Every mirrored value with Rust's side of it.
pub fn layout() -> [(CField, usize); 2] {
    [
        (CField::Panic, Reason::Panic as usize),
        (CField::Oops, Reason::Oops as usize),
    ]
}

/// Checks the shim's ABI version and every mirrored value.
pub fn check_abi() -> Result {
    // SAFETY: no arguments, no side effects.
    let abi = unsafe { rvirtio_kmsg_dump_abi() };
    use crate::kext::c_layout::{check_shim, shim_mismatches, Expect};
    check_shim("kmsg_dump", abi, SHIM_ABI, || {
        shim_mismatches("kmsg_dump", layout(), c_layout, |_| Expect::Equal)
    })
}

/// A registered dumper; unregistered when dropped (after which
/// [`Dumper::dump`] no longer runs).
///
/// # Invariants
///
/// `raw` was added by `rvirtio_kmsg_dump_add` with the private pointer of
/// `dumper` (kept alive here) and is not removed.
pub struct Registration<T: Dumper> {
    raw: NonNull<RawDump>,
    dumper: Arc<T>,
}

// SAFETY: the C object is reached only through the kmsg_dump list's own
// locking and the shim's calls, callable from any thread; `T` is
// `Send + Sync`.
unsafe impl<T: Dumper> Send for Registration<T> {}
// SAFETY: as above; `&Registration` offers nothing but `dumper()`.
unsafe impl<T: Dumper> Sync for Registration<T> {}

impl<T: Dumper> Registration<T> {
    /// Registers `dumper` for oopses and panics, with a buffer of
    /// `buf_size` bytes (the most of the log one dump sees). Sleeps.
    pub fn new(dumper: Arc<T>, buf_size: usize) -> Result<Self> {
        check_abi()?;
        if buf_size == 0 {
            return Err(EINVAL);
        }
        let priv_ = Arc::as_ptr(&dumper).cast_mut().cast();
        let mut raw = core::ptr::null_mut();
        // SAFETY: `Self::dump` matches the shim's callback type; `priv_`
        // stays valid until `drop` has unregistered the dumper, which waits
        // for a dump in progress; `raw` is a valid out pointer.
        let rc = unsafe { rvirtio_kmsg_dump_add(Self::dump, priv_, buf_size, &mut raw) };
        if rc != 0 {
            return Err(Error::from_errno(rc));
        }
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // INVARIANT: added with `dumper`'s pointer.
        Ok(Self { raw, dumper })
    }

    /// The dumper.
    pub fn dumper(&self) -> &Arc<T> {
        &self.dumper
    }

    /// # Safety
    ///
    /// Called by the shim, under RCU, with the private pointer of a
    /// registration not yet removed, and `len` readable bytes at `buf`.
    unsafe extern "C" fn dump(priv_: *mut c_void, reason: u32, buf: *const u8, len: usize) {
        // SAFETY: the registration keeps `T` alive until it is removed,
        // which waits for this callback to end.
        let d = unsafe { &*priv_.cast::<T>() };
        if buf.is_null() || len == 0 {
            return;
        }
        // SAFETY: the shim hands `len` bytes of its buffer for the call.
        let log = unsafe { core::slice::from_raw_parts(buf, len) };
        let reason = if reason == Reason::Panic as u32 {
            Reason::Panic
        } else {
            Reason::Oops
        };
        d.dump(reason, log);
    }
}

impl<T: Dumper> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: added and not removed (type invariant); the shim waits
        // for a dump in progress before it returns, so `dumper` may go.
        unsafe { rvirtio_kmsg_dump_remove(self.raw.as_ptr()) };
    }
}
