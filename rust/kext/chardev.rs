// SPDX-License-Identifier: GPL-2.0

//! Character devices in a device class: a node `/dev/<name>` with open,
//! release, read, write, poll, fasync (`SIGIO`) and non-blocking I/O, and a
//! `name` attribute in `/sys/class/<class>/<node>/`.
//!
//! The 7.2 kernel crate's `miscdevice` has no poll, no fasync and no class
//! of one's own, so a C shim (`rust/helpers/chardev.c`) owns the `struct
//! device`, the `struct cdev` and the `file_operations` and forwards them
//! here. A module that uses this includes both: `#[path] mod chardev;` from
//! its crate root, and in its `helpers.c` `#define RVIRTIO_CHARDEV_CLASS
//! "<class>"` then `#include "rust/helpers/chardev.c"`.
//!
//! Lifetimes: each open file holds its own reference on the operations
//! (`Arc<T>`), taken in open and dropped in release, so a file opened
//! before the device went away still reaches a live `T`, which must then
//! answer with errors (a read of a removed port, say). Dropping the
//! [`Registration`] removes the node; no open reaches the registration's
//! reference after that.
//!
//! C header: [`include/linux/cdev.h`](srctree/include/linux/cdev.h)

use core::{cell::UnsafeCell, mem::offset_of, ptr::NonNull};
use kernel::{
    bindings,
    device::Device,
    ffi::{c_int, c_long, c_void},
    fs::File,
    prelude::*,
    sync::{poll::PollTable, Arc, ArcBorrow},
    uaccess::{UserPtr, UserSlice, UserSliceReader, UserSliceWriter},
};

/// The version of the shim's ABI these declarations were written for; it
/// must equal `RVIRTIO_CHARDEV_SHIM_ABI` in `rust/helpers/chardev.c`.
pub const SHIM_ABI: u32 = 1;

#[repr(C)]
struct RawChardev {
    _opaque: [u8; 0],
}

/// The shim's `struct rvirtio_chardev_cb`.
#[repr(C)]
struct Callbacks {
    open: unsafe extern "C" fn(*mut c_void, *mut *mut c_void) -> c_int,
    release: unsafe extern "C" fn(*mut c_void),
    read: unsafe extern "C" fn(*mut c_void, *mut c_void, usize, bool) -> isize,
    write: unsafe extern "C" fn(*mut c_void, *const c_void, usize, bool) -> isize,
    poll: unsafe extern "C" fn(*mut c_void, *mut bindings::file, *mut bindings::poll_table) -> u32,
    fasync: unsafe extern "C" fn(*mut c_void, c_int, *mut bindings::file, c_int) -> c_int,
}

#[expect(
    improper_ctypes,
    reason = "bindgen's struct device has zero-sized padding members; only pointers cross"
)]
unsafe extern "C" {
    fn rvirtio_chardev_abi() -> u32;
    fn rvirtio_chardev_c_layout(id: u32) -> c_long;
    fn rvirtio_chardev_add(
        parent: *mut bindings::device,
        node: *const kernel::ffi::c_char,
        cb: *const Callbacks,
        priv_: *mut c_void,
        out: *mut *mut RawChardev,
    ) -> c_int;
    fn rvirtio_chardev_remove(c: *mut RawChardev);
    fn rvirtio_chardev_set_name(c: *mut RawChardev, name: *const kernel::ffi::c_char) -> c_int;
}

/// The poll mask bits ([`Operations::poll`]).
pub mod mask {
    /// Readable (`EPOLLIN | EPOLLRDNORM`).
    pub const IN: u32 = kernel::bindings::POLLIN | kernel::bindings::POLLRDNORM;
    /// Writable (`EPOLLOUT | EPOLLWRNORM`).
    pub const OUT: u32 = kernel::bindings::POLLOUT | kernel::bindings::POLLWRNORM;
    /// The other end hung up (`EPOLLHUP`).
    pub const HUP: u32 = kernel::bindings::POLLHUP;
    /// An error (`EPOLLERR`): the device is gone.
    pub const ERR: u32 = kernel::bindings::POLLERR;
}

/// The processes that asked for `SIGIO` (`O_ASYNC`) on a device's files: a
/// `struct fasync_struct` list, kept in the operations, which outlive every
/// file that can be on it.
pub struct Fasync {
    list: UnsafeCell<*mut bindings::fasync_struct>,
}

// SAFETY: the list is changed only by `fasync_helper` under its own lock
// and read by `kill_fasync` under RCU, from any thread.
unsafe impl Send for Fasync {}
// SAFETY: as above.
unsafe impl Sync for Fasync {}

impl Default for Fasync {
    fn default() -> Self {
        Self::new()
    }
}

impl Fasync {
    /// An empty list.
    pub const fn new() -> Self {
        Self {
            list: UnsafeCell::new(core::ptr::null_mut()),
        }
    }

    /// Sends `SIGIO` to the list: data to read (`readable`) or room to
    /// write. Any context.
    pub fn kill(&self, readable: bool) {
        let band = if readable {
            bindings::POLL_IN
        } else {
            bindings::POLL_OUT
        };
        // SAFETY: `list` is a fasync list head (null or entries added by
        // `fasync_helper`); `kill_fasync` reads it under RCU.
        // CAST: SIGIO and the band are small constants.
        unsafe { bindings::kill_fasync(self.list.get(), bindings::SIGIO as c_int, band as c_int) };
    }

    /// # Safety
    ///
    /// `filp` is the file the call is made for; called from its `fasync`
    /// file operation only.
    unsafe fn helper(&self, fd: c_int, filp: *mut bindings::file, on: c_int) -> c_int {
        // SAFETY: `list` lives as long as the operations, which outlive
        // every file (each holds a reference), so an entry never outlives
        // it; `filp` is valid per the function's contract.
        unsafe { bindings::fasync_helper(fd, filp, on, self.list.get()) }
    }
}

/// A character device's file operations. One `T` serves every open file.
pub trait Operations: Send + Sync + 'static {
    /// A file is being opened; an error refuses it (`EBUSY` for a device
    /// taken). Sleeps allowed.
    fn open(&self) -> Result;
    /// An open file's last reference went away.
    fn release(&self);
    /// Reads into `out`; returns bytes read (0: end of file). With
    /// `nonblock`, never sleeps: `EAGAIN` when nothing is ready.
    fn read(&self, out: &mut UserSliceWriter, nonblock: bool) -> Result<usize>;
    /// Writes from `data`; returns bytes taken. With `nonblock`, never
    /// sleeps: `EAGAIN` when there is no room.
    fn write(&self, data: &mut UserSliceReader, nonblock: bool) -> Result<usize>;
    /// Registers `file`'s wait on `table` (through a
    /// [`PollCondVar`](kernel::sync::poll::PollCondVar)) and returns the
    /// [`mask`] of what is ready.
    fn poll(&self, file: &File, table: &PollTable<'_>) -> u32;
    /// The list of `SIGIO` takers.
    fn fasync(&self) -> &Fasync;
}

/// The shim's structures this file mirrors, as `rvirtio_chardev_c_layout`
/// measures them. Discriminants match `enum rvirtio_chardev_c_field` in
/// `rust/helpers/chardev.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CField {
    /// `sizeof(struct rvirtio_chardev_cb)`.
    Cb = 0,
    /// `open`.
    CbOpen,
    /// `release`.
    CbRelease,
    /// `read`.
    CbRead,
    /// `write`.
    CbWrite,
    /// `poll`.
    CbPoll,
    /// `fasync`.
    CbFasync,
}

/// What C says of `field`, `None` for an id it does not know.
pub fn c_layout(field: CField) -> Option<usize> {
    // SAFETY: a pure function of its argument; unknown ids return -1.
    usize::try_from(unsafe { rvirtio_chardev_c_layout(field as u32) }).ok()
}

/// Every mirrored value with Rust's side of it.
pub fn layout() -> [(CField, usize); 7] {
    [
        (CField::Cb, size_of::<Callbacks>()),
        (CField::CbOpen, offset_of!(Callbacks, open)),
        (CField::CbRelease, offset_of!(Callbacks, release)),
        (CField::CbRead, offset_of!(Callbacks, read)),
        (CField::CbWrite, offset_of!(Callbacks, write)),
        (CField::CbPoll, offset_of!(Callbacks, poll)),
        (CField::CbFasync, offset_of!(Callbacks, fasync)),
    ]
}

/// Checks the shim's ABI version and every mirrored layout.
pub fn check_abi() -> Result {
    // SAFETY: no arguments, no side effects.
    let abi = unsafe { rvirtio_chardev_abi() };
    crate::kext::c_layout::check_shim("chardev", abi, SHIM_ABI, &layout(), c_layout)
}

/// A character device node; removed when dropped.
///
/// # Invariants
///
/// `raw` was added by `rvirtio_chardev_add` with the pointer of `ops` (kept
/// alive here) and is not removed.
pub struct Registration<T: Operations> {
    raw: NonNull<RawChardev>,
    ops: Arc<T>,
}

// SAFETY: the C object is reached only through the shim's calls, which
// lock as they need; `ops` is `Send + Sync`.
unsafe impl<T: Operations> Send for Registration<T> {}
// SAFETY: as above.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    const CALLBACKS: Callbacks = Callbacks {
        open: Self::open,
        release: Self::release,
        read: Self::read,
        write: Self::write,
        poll: Self::poll,
        fasync: Self::fasync,
    };

    /// Adds `/dev/<node>` (and `/sys/class/<class>/<node>`) under `parent`.
    /// Files may be opened before this returns. Sleeps.
    pub fn new<Ctx: kernel::device::DeviceContext>(
        parent: &Device<Ctx>,
        node: &CStr,
        ops: Arc<T>,
    ) -> Result<Self> {
        check_abi()?;
        let priv_ = Arc::as_ptr(&ops).cast_mut().cast();
        let mut raw = core::ptr::null_mut();
        // SAFETY: `parent` is a live device (the shim takes its own
        // reference through the child's); `node` is a C string the shim
        // copies; the callback table is a promoted constant; `priv_` is
        // valid until `drop` has removed the node, after which no open
        // reaches it.
        let rc = unsafe {
            rvirtio_chardev_add(
                crate::kext::device::raw(parent),
                node.as_char_ptr(),
                &Self::CALLBACKS,
                priv_,
                &mut raw,
            )
        };
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

    /// Sets the `name` attribute (copied) and sends a change uevent.
    /// Sleeps.
    pub fn set_name(&self, name: &CStr) -> Result {
        // SAFETY: added and not removed (type invariant); `name` is a C
        // string the shim copies.
        let rc = unsafe { rvirtio_chardev_set_name(self.raw.as_ptr(), name.as_char_ptr()) };
        if rc != 0 {
            return Err(Error::from_errno(rc));
        }
        Ok(())
    }

    /// # Safety
    ///
    /// Called by the shim under its lock with the registration's pointer
    /// (still registered) and a valid out pointer.
    unsafe extern "C" fn open(priv_: *mut c_void, file: *mut *mut c_void) -> c_int {
        // SAFETY: `priv_` comes from `Arc::as_ptr` of the registration's
        // `ops`, alive while registered, which the shim's lock guarantees.
        let ops: Arc<T> = unsafe { ArcBorrow::from_raw(priv_.cast::<T>()) }.into();
        if let Err(e) = ops.open() {
            return e.to_errno();
        }
        // SAFETY: `file` is a valid out pointer. The file owns this
        // reference until `release`.
        unsafe { *file = Arc::into_raw(ops).cast_mut().cast() };
        0
    }

    /// # Safety
    ///
    /// `file` is a pointer `open` made, not used after this call.
    unsafe extern "C" fn release(file: *mut c_void) {
        // SAFETY: `file` is the reference `open` made with `Arc::into_raw`.
        let ops = unsafe { Arc::from_raw(file.cast::<T>()) };
        ops.release();
    }

    /// # Safety
    ///
    /// `file` is a live pointer `open` made.
    unsafe fn file_ops<'a>(file: *mut c_void) -> &'a T {
        // SAFETY: the file holds the reference until `release`, which the
        // VFS calls after every other file operation ended.
        unsafe { &*file.cast::<T>() }
    }

    /// # Safety
    ///
    /// `file` as for [`Self::file_ops`]; `buf` is a user pointer of `len` bytes.
    unsafe extern "C" fn read(
        file: *mut c_void,
        buf: *mut c_void,
        len: usize,
        nonblock: bool,
    ) -> isize {
        // SAFETY: per the function's contract.
        let ops = unsafe { Self::file_ops(file) };
        let mut out = UserSlice::new(UserPtr::from_ptr(buf), len).writer();
        match ops.read(&mut out, nonblock) {
            // CAST: at most `len`, which the VFS bounds by `MAX_RW_COUNT`.
            Ok(n) => n.min(len) as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// As [`Self::read`].
    unsafe extern "C" fn write(
        file: *mut c_void,
        buf: *const c_void,
        len: usize,
        nonblock: bool,
    ) -> isize {
        // SAFETY: per the function's contract.
        let ops = unsafe { Self::file_ops(file) };
        let mut data = UserSlice::new(UserPtr::from_ptr(buf.cast_mut()), len).reader();
        match ops.write(&mut data, nonblock) {
            // CAST: as in `read`.
            Ok(n) => n.min(len) as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `file` as for [`Self::file_ops`]; `filp` is the open file, `table` null
    /// or a poll table, both valid for the call.
    unsafe extern "C" fn poll(
        file: *mut c_void,
        filp: *mut bindings::file,
        table: *mut bindings::poll_table,
    ) -> u32 {
        // SAFETY: per the function's contract.
        let ops = unsafe { Self::file_ops(file) };
        // SAFETY: `filp` is valid for the call, and the VFS holds a
        // reference on it. The file is a stream (`stream_open`): it has no
        // position, so no `fdget_pos` takes or skips `f_pos_lock` for it
        // in a way the reference could observe; the reference does not
        // outlive the call (`poll_wait` only).
        let f = unsafe { File::from_raw_file(filp) };
        // SAFETY: `table` is null or valid for the call.
        let table = unsafe { PollTable::from_raw(table) };
        ops.poll(f, &table)
    }

    /// # Safety
    ///
    /// `file` as for [`Self::file_ops`]; `filp` is the file the call is for.
    unsafe extern "C" fn fasync(
        file: *mut c_void,
        fd: c_int,
        filp: *mut bindings::file,
        on: c_int,
    ) -> c_int {
        // SAFETY: per the function's contract.
        let ops = unsafe { Self::file_ops(file) };
        // SAFETY: called from the file's `fasync` operation for `filp`.
        unsafe { ops.fasync().helper(fd, filp, on) }
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: added and not removed (type invariant). After this no
        // open reaches `ops`' pointer; open files hold their own.
        unsafe { rvirtio_chardev_remove(self.raw.as_ptr()) };
    }
}
