// SPDX-License-Identifier: GPL-2.0

//! hvc (hypervisor virtual console) backends: a terminal `/dev/hvcN` whose
//! input and output are a driver's, and which becomes the kernel console
//! when `console=hvcN` names it.
//!
//! The 7.2 kernel crate has no tty or hvc binding and `hvc_console.h` is
//! private to `drivers/tty/hvc`, so a C shim (`rust/helpers/hvc.c`) owns
//! the `hv_ops` and forwards them here. A module that uses this includes
//! both: `#[path] mod hvc;` from its crate root, and `#include
//! "rust/helpers/hvc.c"` in its `helpers.c`, compiled with
//! `-I$(srctree)/drivers/tty/hvc`.
//!
//! Every callback of [`Operations`] runs in atomic context (under RCU, and
//! often under hvc's spinlock or from `printk`): it must not sleep. Dropping
//! the [`Registration`] waits until no callback runs and then removes the
//! terminal (an open tty is hung up), so the operations may go away after.
//!
//! `hvc_instantiate` (the early console) is not offered: the console slot
//! it fills is never cleared, so a module would leave the kernel console
//! pointing into its unloaded text. `hvc_alloc` registers the console just
//! as well once the module is loaded.
//!
//! C header: [`drivers/tty/hvc/hvc_console.h`](srctree/drivers/tty/hvc/hvc_console.h)

use core::{mem::offset_of, ptr::NonNull};
use kernel::{
    ffi::{c_int, c_long, c_void},
    prelude::*,
    sync::Arc,
};

/// The version of the shim's ABI these declarations were written for; it
/// must equal `RVIRTIO_HVC_SHIM_ABI` in `rust/helpers/hvc.c`.
pub const SHIM_ABI: u32 = 2;

#[repr(C)]
struct RawHvc {
    _opaque: [u8; 0],
}

/// The shim's `struct rvirtio_hvc_cb`.
#[repr(C)]
struct Callbacks {
    get_chars: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> c_long,
    put_chars: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> c_long,
    notify: unsafe extern "C" fn(*mut c_void, u32),
}

unsafe extern "C" {
    fn rvirtio_hvc_abi() -> u32;
    fn rvirtio_hvc_c_layout(id: u32) -> c_long;
    fn rvirtio_hvc_add(
        cb: *const Callbacks,
        priv_: *mut c_void,
        outbuf_size: c_int,
        out: *mut *mut RawHvc,
    ) -> c_int;
    fn rvirtio_hvc_remove(h: *mut RawHvc);
    fn rvirtio_hvc_poll(h: *mut RawHvc) -> c_int;
    fn rvirtio_hvc_kick();
    fn rvirtio_hvc_resize(h: *mut RawHvc, cols: u16, rows: u16);
    fn rvirtio_hvc_index(h: *mut RawHvc) -> c_int;
    fn rvirtio_hvc_winsize(h: *mut RawHvc, cols: *mut u16, rows: *mut u16);
}

/// What happened to the terminal's tty ([`Operations::notify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Event {
    /// The first open of the tty.
    Open = 0,
    /// The last close.
    Close = 1,
    /// The tty was hung up.
    Hangup = 2,
}

/// A terminal's operations. All run in atomic context: never sleep.
pub trait Operations: Send + Sync + 'static {
    /// Copies input into `buf`; returns how many bytes (0: none now). An
    /// `EPIPE` error hangs the tty up (the other end went away); `EAGAIN`
    /// asks hvc to poll again.
    fn get_chars(&self, buf: &mut [u8]) -> Result<usize>;
    /// Sends output; returns how many bytes were taken (hvc keeps the rest
    /// and tries again; the console drops them on an error other than
    /// `EAGAIN`).
    fn put_chars(&self, buf: &[u8]) -> Result<usize>;
    /// The tty was opened, closed or hung up.
    fn notify(&self, _event: Event) {}
}

/// The shim's structures and constants this file mirrors, as
/// `rvirtio_hvc_c_layout` measures them. Discriminants match `enum
/// rvirtio_hvc_c_field` in `rust/helpers/hvc.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CField {
    /// `sizeof(struct rvirtio_hvc_cb)`.
    Cb = 0,
    /// `get_chars`.
    CbGetChars,
    /// `put_chars`.
    CbPutChars,
    /// `notify`.
    CbNotify,
    /// `RVIRTIO_HVC_OPEN`.
    EvOpen,
    /// `RVIRTIO_HVC_CLOSE`.
    EvClose,
    /// `RVIRTIO_HVC_HANGUP`.
    EvHangup,
}

/// What C says of `field`, `None` for an id it does not know.
pub fn c_layout(field: CField) -> Option<usize> {
    // SAFETY: a pure function of its argument; unknown ids return -1.
    usize::try_from(unsafe { rvirtio_hvc_c_layout(field as u32) }).ok()
}

/// Every mirrored value with Rust's side of it.
pub fn layout() -> [(CField, usize); 7] {
    [
        (CField::Cb, size_of::<Callbacks>()),
        (CField::CbGetChars, offset_of!(Callbacks, get_chars)),
        (CField::CbPutChars, offset_of!(Callbacks, put_chars)),
        (CField::CbNotify, offset_of!(Callbacks, notify)),
        (CField::EvOpen, Event::Open as usize),
        (CField::EvClose, Event::Close as usize),
        (CField::EvHangup, Event::Hangup as usize),
    ]
}

/// Checks the shim's ABI version and every mirrored layout.
pub fn check_abi() -> Result {
    // SAFETY: no arguments, no side effects.
    let abi = unsafe { rvirtio_hvc_abi() };
    use crate::kext::c_layout::{check_shim, shim_mismatches, Expect};
    check_shim("hvc", abi, SHIM_ABI, || {
        shim_mismatches("hvc", layout(), c_layout, |_| Expect::Equal)
    })
}

/// An hvc terminal; removed when dropped (after which no operation runs).
///
/// # Invariants
///
/// `raw` was added by `rvirtio_hvc_add` with the private pointer of `ops`
/// (kept alive here) and is not removed.
pub struct Registration<T: Operations> {
    raw: NonNull<RawHvc>,
    ops: Arc<T>,
}

// SAFETY: the C object is reached only through hvc's own locking and the
// shim's calls, all callable from any thread; `ops` is `Send + Sync`.
unsafe impl<T: Operations> Send for Registration<T> {}
// SAFETY: as above.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    const CALLBACKS: Callbacks = Callbacks {
        get_chars: Self::get_chars,
        put_chars: Self::put_chars,
        notify: Self::notify,
    };

    /// Adds a terminal with an output buffer of `outbuf_size` bytes (what
    /// hvc holds while the backend is busy). The operations may run before
    /// this returns: the console prints at once when `console=hvcN` names
    /// the new terminal. Sleeps.
    pub fn new(ops: Arc<T>, outbuf_size: u32) -> Result<Self> {
        check_abi()?;
        let size = c_int::try_from(outbuf_size).map_err(|_| EINVAL)?;
        let priv_ = Arc::as_ptr(&ops).cast_mut().cast();
        let mut raw = core::ptr::null_mut();
        // SAFETY: the callback table is a constant (promoted to a static);
        // `priv_` stays valid until `drop` has removed the terminal, which
        // waits for every callback to end; `raw` is a valid out pointer.
        let rc = unsafe { rvirtio_hvc_add(&Self::CALLBACKS, priv_, size, &mut raw) };
        if rc != 0 {
            return Err(Error::from_errno(rc));
        }
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // INVARIANT: added with `ops`' pointer.
        Ok(Self { raw, ops })
    }

    /// The operations.
    pub fn ops(&self) -> &Arc<T> {
        &self.ops
    }

    /// The terminal's index: its tty is `hvc<index>`.
    pub fn index(&self) -> u32 {
        // SAFETY: added and not removed (type invariant).
        let i = unsafe { rvirtio_hvc_index(self.raw.as_ptr()) };
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    /// Input may be ready: hvc reads it now (calls
    /// [`Operations::get_chars`]). Any context; do not call it from an
    /// operation (hvc's lock is held there).
    pub fn poll(&self) {
        // SAFETY: added and not removed (type invariant).
        unsafe { rvirtio_hvc_poll(self.raw.as_ptr()) };
    }

    /// Output space became free: wakes hvc's thread to push what it holds.
    /// Any context.
    pub fn kick(&self) {
        // SAFETY: no arguments; wakes a kernel thread.
        unsafe { rvirtio_hvc_kick() };
    }

    /// Sets the tty's window size (`TIOCGWINSZ`, `SIGWINCH`); applied from
    /// a work item. Any context.
    pub fn resize(&self, cols: u16, rows: u16) {
        // SAFETY: added and not removed (type invariant).
        unsafe { rvirtio_hvc_resize(self.raw.as_ptr(), cols, rows) };
    }

    /// The window size hvc holds, `(cols, rows)`: the last
    /// [`resize`](Self::resize), which hvc hands to an open tty
    /// (`TIOCGWINSZ`). Any context.
    pub fn winsize(&self) -> (u16, u16) {
        let (mut cols, mut rows) = (0, 0);
        // SAFETY: added and not removed (type invariant); both pointers
        // are valid for a write.
        unsafe { rvirtio_hvc_winsize(self.raw.as_ptr(), &mut cols, &mut rows) };
        (cols, rows)
    }

    /// # Safety
    ///
    /// Called by the shim, under RCU, with the private pointer of a
    /// registration not yet removed, and `count` writable bytes at `buf`.
    unsafe extern "C" fn get_chars(priv_: *mut c_void, buf: *mut u8, count: usize) -> c_long {
        // SAFETY: the registration keeps `T` alive until it is removed,
        // which waits for this callback to end.
        let ops = unsafe { &*priv_.cast::<T>() };
        if buf.is_null() || count == 0 {
            return 0;
        }
        // SAFETY: hvc hands `count` bytes, ours for the call.
        let out = unsafe { core::slice::from_raw_parts_mut(buf, count) };
        match ops.get_chars(out) {
            // CAST: at most `count`, which hvc bounds by its small buffer.
            Ok(n) => n.min(count) as c_long,
            // CAST: an errno is a small negative `c_int`.
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// As [`Self::get_chars`], with `count` readable bytes at `buf`.
    unsafe extern "C" fn put_chars(priv_: *mut c_void, buf: *const u8, count: usize) -> c_long {
        // SAFETY: as in `get_chars`.
        let ops = unsafe { &*priv_.cast::<T>() };
        if buf.is_null() || count == 0 {
            return 0;
        }
        // SAFETY: hvc hands `count` readable bytes for the call.
        let data = unsafe { core::slice::from_raw_parts(buf, count) };
        match ops.put_chars(data) {
            // CAST: at most `count`, bounded by hvc's buffers.
            Ok(n) => n.min(count) as c_long,
            // CAST: an errno is a small negative `c_int`.
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// As [`Self::get_chars`].
    unsafe extern "C" fn notify(priv_: *mut c_void, event: u32) {
        // SAFETY: as in `get_chars`.
        let ops = unsafe { &*priv_.cast::<T>() };
        let event = match event {
            0 => Event::Open,
            1 => Event::Close,
            _ => Event::Hangup,
        };
        ops.notify(event);
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: added and not removed (type invariant); the shim waits
        // for running callbacks before it returns, so `ops` may go.
        unsafe { rvirtio_hvc_remove(self.raw.as_ptr()) };
    }
}
