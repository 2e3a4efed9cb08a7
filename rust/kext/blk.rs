// SPDX-License-Identifier: GPL-2.0

//! blk-mq disks with a per-request PDU, full queue limits, a parent device,
//! a module owner and a timeout handler: what the 7.2 kernel crate's
//! `block::mq` cannot express. A C shim (`rust/helpers/blk.c`) owns the tag
//! set and the gendisk and calls [`Operations`]; a module that uses this
//! includes both (`#[path] mod blk;` and `#include "rust/helpers/blk.c"` in
//! its `helpers.c`).
//!
//! The virtio-blk wire format is the core's ([`crate::virtio::blk::wire`]):
//! each request's [`RequestWire`] is the start of its per-request data, and
//! the shim maps it where [`RequestWire::LAYOUT`] says. Every structure
//! mirrored between the shim and this file, and the block status values,
//! are checked against the C compiler's view ([`check_abi`], run before a
//! disk is created).
//!
//! C headers: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h),
//! [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)

use crate::kext::dma::DmaDevice;
use crate::virtio::{
    blk::{
        wire::RequestWire,
        Answer,
        Outcome, //
    },
    queue::Buf,
};
use core::{
    marker::PhantomData,
    mem::{
        offset_of,
        size_of,
        MaybeUninit, //
    },
    ptr::NonNull,
};
use kernel::{
    bindings,
    device::Device,
    prelude::*,
    sync::Arc, //
};

pub use crate::virtio::blk::{
    Limits,
    Op, //
};

#[repr(C)]
struct RawDisk {
    _opaque: [u8; 0],
}

/// blk-mq's `struct rq_list` (a list of requests linked through
/// `rq_next`), handled only by the shim.
#[repr(C)]
struct RawRqList {
    _opaque: [u8; 0],
}

/// The shim's `struct rvirtio_blk_wire`: where the parts of a request's
/// [`RequestWire`] are.
#[repr(C)]
struct RawWire {
    size: u32,
    align: u32,
    header_len: u32,
    status_offset: u32,
    payload_offset: u32,
    payload_max: u32,
}

impl RawWire {
    fn new() -> Result<Self> {
        let l = RequestWire::LAYOUT;
        let u = |v: usize| u32::try_from(v).map_err(|_| EINVAL);
        Ok(Self {
            size: u(l.size)?,
            align: u(l.align)?,
            header_len: u(l.header_len)?,
            status_offset: u(l.status_offset)?,
            payload_offset: u(l.payload_offset)?,
            payload_max: u(l.payload_max)?,
        })
    }
}

/// The shim's `struct rvirtio_blk_cb`.
#[repr(C)]
struct Callbacks {
    queue_rq: unsafe extern "C" fn(
        *mut kernel::ffi::c_void,
        *mut RawDisk,
        u32,
        *mut bindings::request,
        bool,
    ) -> u8,
    commit_rqs: unsafe extern "C" fn(*mut kernel::ffi::c_void, u32),
    complete: unsafe extern "C" fn(*mut kernel::ffi::c_void, *mut RawDisk, *mut bindings::request),
    timeout:
        unsafe extern "C" fn(*mut kernel::ffi::c_void, *mut RawDisk, *mut bindings::request) -> u32,
    serial: unsafe extern "C" fn(
        *mut kernel::ffi::c_void,
        *mut RawDisk,
        *mut u8,
        u32,
    ) -> kernel::ffi::c_int,
    write_cache: unsafe extern "C" fn(*mut kernel::ffi::c_void) -> kernel::ffi::c_int,
    set_write_cache: unsafe extern "C" fn(*mut kernel::ffi::c_void, bool) -> kernel::ffi::c_int,
    write_cache_switchable: unsafe extern "C" fn(*mut kernel::ffi::c_void) -> bool,
    geometry:
        unsafe extern "C" fn(*mut kernel::ffi::c_void, u64, *mut Geometry) -> kernel::ffi::c_int,
    queue_rqs: unsafe extern "C" fn(
        *mut kernel::ffi::c_void,
        *mut RawDisk,
        u32,
        *mut RawRqList,
        *mut RawRqList,
    ),
}

/// A disk's legacy geometry (`HDIO_GETGEO`), for old partitioning tools;
/// the shim's `struct rvirtio_blk_geo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Geometry {
    /// Cylinders.
    pub cylinders: u16,
    /// Heads.
    pub heads: u8,
    /// Sectors per track.
    pub sectors: u8,
}

impl Geometry {
    /// A made-up geometry for a disk of `capacity` sectors, as `sd` and the
    /// C virtio_blk give: 64 heads, 32 sectors, as many cylinders as fit
    /// (at most 65535).
    pub fn for_capacity(capacity: u64) -> Self {
        Self {
            cylinders: u16::try_from(capacity >> 11).unwrap_or(u16::MAX),
            heads: 64,
            sectors: 32,
        }
    }
}

#[expect(
    improper_ctypes,
    reason = "bindgen's struct request and struct device have zero-sized padding members; only pointers cross"
)]
unsafe extern "C" {
    fn rvirtio_blk_create(
        dma_dev: *mut bindings::device,
        nr_queues: u32,
        depth: u32,
        timeout_ms: u32,
        limits: *const Limits,
        wire: *const RawWire,
        cb: *const Callbacks,
        drv: *mut kernel::ffi::c_void,
        irq_offset: kernel::ffi::c_int,
    ) -> *mut RawDisk;
    fn rvirtio_blk_set_dma_api(b: *mut RawDisk, dma_api: bool);
    fn rvirtio_blk_add(
        b: *mut RawDisk,
        parent: *mut bindings::device,
        name: *const kernel::ffi::c_char,
        sectors: u64,
        read_only: bool,
    ) -> kernel::ffi::c_int;
    fn rvirtio_blk_set_capacity(b: *mut RawDisk, sectors: u64);
    fn rvirtio_blk_mark_dead(b: *mut RawDisk);
    fn rvirtio_blk_destroy(b: *mut RawDisk, added: bool);
    fn rvirtio_blk_leak(b: *mut RawDisk);
    fn rvirtio_rq_op(rq: *mut bindings::request) -> u32;
    fn rvirtio_rq_pos(rq: *mut bindings::request) -> u64;
    fn rvirtio_rq_bytes(rq: *mut bindings::request) -> u32;
    fn rvirtio_rq_fua(rq: *mut bindings::request) -> bool;
    fn rvirtio_rq_nounmap(rq: *mut bindings::request) -> bool;
    fn rvirtio_rq_wire(rq: *mut bindings::request) -> *mut kernel::ffi::c_void;
    fn rvirtio_rq_bio(rq: *mut bindings::request) -> *mut bindings::bio;
    fn rvirtio_bio_next(
        bio: *mut bindings::bio,
        sector: *mut u64,
        bytes: *mut u32,
    ) -> *mut bindings::bio;
    fn rvirtio_blk_drv_in(b: *mut RawDisk, out: *mut u8, len: u32) -> kernel::ffi::c_int;
    fn rvirtio_rq_start(rq: *mut bindings::request);
    fn rvirtio_rq_list_pop(rqs: *mut RawRqList) -> *mut bindings::request;
    fn rvirtio_rq_give_back(back: *mut RawRqList, rq: *mut bindings::request);
    fn rvirtio_rq_timeouts(rq: *mut bindings::request) -> u32;
    fn rvirtio_rq_complete(rq: *mut bindings::request, used_len: u32);
    fn rvirtio_rq_end(rq: *mut bindings::request, status: u8);
    fn rvirtio_rq_map(
        b: *mut RawDisk,
        rq: *mut bindings::request,
        payload_len: u32,
        addrs: *mut u64,
        lens: *mut u32,
        max: u32,
        n_out: *mut u32,
    ) -> kernel::ffi::c_int;
    fn rvirtio_rq_unmap(
        b: *mut RawDisk,
        rq: *mut bindings::request,
        used_len: *mut u32,
        in_len: *mut u32,
    );
}

unsafe extern "C" {
    fn rvirtio_blk_abi() -> u32;
    fn rvirtio_blk_c_layout(id: u32) -> kernel::ffi::c_long;
    fn rvirtio_blk_name_prefix() -> *const kernel::ffi::c_char;
}

/// A block status (`blk_status_t`, `include/linux/blk_types.h`): how a
/// request ends. bindgen cannot see the values (they are `__force` casts);
/// [`check_abi`] compares them with C's.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `BLK_STS_OK`.
    Ok = 0,
    /// `BLK_STS_NOTSUPP`: the operation is not supported.
    NotSupported = 1,
    /// `BLK_STS_RESOURCE`: out of resources for now; blk-mq retries.
    Resource = 9,
    /// `BLK_STS_IOERR`.
    IoError = 10,
    /// `BLK_STS_DEV_RESOURCE`: the device is busy; blk-mq retries when a
    /// request completes.
    DevResource = 13,
}

impl From<Outcome> for Status {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => Self::Ok,
            Outcome::Unsupported => Self::NotSupported,
            Outcome::IoError => Self::IoError,
        }
    }
}

/// Whether `e` is `EOPNOTSUPP` (what a request ended with
/// [`Status::NotSupported`] returns; the kernel crate has no constant for it).
pub fn is_not_supported(e: Error) -> bool {
    e.to_errno().unsigned_abs() == bindings::EOPNOTSUPP
}

/// A block request owned by the driver between `queue_rq` and its end.
///
/// # Invariants
///
/// `0` is a started request of a disk made by [`Disk::new`], not yet ended.
pub struct Request(NonNull<bindings::request>);

// SAFETY: a request may be completed from any context; ownership moves with
// the value (it is not `Clone`).
unsafe impl Send for Request {}

impl Request {
    fn raw(&self) -> *mut bindings::request {
        self.0.as_ptr()
    }

    /// The operation (a driver-private read is [`Op::DrvIn`], from
    /// [`DiskRef::drv_in`]).
    pub fn op(&self) -> Op {
        // SAFETY: a live request (type invariant).
        match unsafe { rvirtio_rq_op(self.raw()) } {
            bindings::req_op_REQ_OP_READ => Op::Read,
            bindings::req_op_REQ_OP_WRITE => Op::Write,
            bindings::req_op_REQ_OP_FLUSH => Op::Flush,
            bindings::req_op_REQ_OP_DISCARD => Op::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            bindings::req_op_REQ_OP_DRV_IN => Op::DrvIn,
            other => Op::Other(other),
        }
    }

    /// The first 512-byte sector.
    pub fn pos(&self) -> u64 {
        // SAFETY: a live request.
        unsafe { rvirtio_rq_pos(self.raw()) }
    }

    /// The size in bytes.
    pub fn bytes(&self) -> u32 {
        // SAFETY: a live request.
        unsafe { rvirtio_rq_bytes(self.raw()) }
    }

    /// Whether the write must reach stable storage (FUA).
    pub fn fua(&self) -> bool {
        // SAFETY: a live request.
        unsafe { rvirtio_rq_fua(self.raw()) }
    }

    /// Whether a write-zeroes request must not deallocate the blocks.
    pub fn nounmap(&self) -> bool {
        // SAFETY: a live request.
        unsafe { rvirtio_rq_nounmap(self.raw()) }
    }

    /// The request's wire area in its per-request data: the driver writes
    /// the header (and for discard and write zeroes the ranges) here before
    /// [`DiskRef::map`], and reads the status byte after
    /// [`DiskRef::unmap`].
    pub fn wire_mut(&mut self) -> &mut RequestWire {
        // SAFETY: a live request of our disk (type invariant).
        let p = unsafe { rvirtio_rq_wire(self.raw()) }.cast::<RequestWire>();
        // The disk was created with `RequestWire::LAYOUT` (checked by the
        // shim), so the first `size_of::<RequestWire>()` bytes of the
        // per-request data, aligned as `struct request` (at least as
        // `RequestWire`, checked by `check_abi`), are the wire area; blk-mq
        // zeroes it at allocation and it holds only integers. The device
        // touches it only while mapped, between `map` and `unmap`, which
        // both take `&Request`.
        // SAFETY: `p` is the valid, aligned wire area of this live request,
        // any bytes are valid for it, and `&mut self` makes this the only
        // reference for as long as it lives.
        unsafe { &mut *p }
    }

    /// The request's bios as (first sector, bytes): for a discard request
    /// merged from several bios, one range each.
    pub fn bios(&self) -> Bios<'_> {
        Bios {
            // SAFETY: a live request.
            next: unsafe { rvirtio_rq_bio(self.raw()) },
            _rq: PhantomData,
        }
    }

    /// Marks the request started (before handing it to the device).
    pub fn start(&self) {
        // SAFETY: a live request.
        unsafe { rvirtio_rq_start(self.raw()) };
    }

    /// How often the request timed out since it was last started: 1 in
    /// its first [`Operations::timeout`], 2 after one re-arm, and so on.
    pub fn timeouts(&self) -> u32 {
        // SAFETY: a live request of our disk.
        unsafe { rvirtio_rq_timeouts(self.raw()) }
    }

    /// Completes from an interrupt, with the length the device said it
    /// wrote: `Operations::complete` runs later (or at once), and finds it
    /// in [`Answer::used_len`].
    pub fn complete(self, used_len: u32) {
        // SAFETY: a live request; ownership passes to the block layer.
        unsafe { rvirtio_rq_complete(self.raw(), used_len) };
    }

    /// Ends the request with `status`.
    pub fn end(self, status: Status) {
        // SAFETY: a live request; ending gives it back to the block layer.
        unsafe { rvirtio_rq_end(self.raw(), status as u8) };
    }
}

/// The bios of a request, as (first sector, bytes); see [`Request::bios`].
pub struct Bios<'a> {
    next: *mut bindings::bio,
    _rq: PhantomData<&'a Request>,
}

impl Iterator for Bios<'_> {
    type Item = (u64, u32);

    fn next(&mut self) -> Option<(u64, u32)> {
        if self.next.is_null() {
            return None;
        }
        let (mut sector, mut bytes) = (0u64, 0u32);
        // SAFETY: a bio of a request borrowed for `'a`; the block layer does
        // not change a request's bio list while the driver owns it.
        self.next = unsafe { rvirtio_bio_next(self.next, &mut sector, &mut bytes) };
        Some((sector, bytes))
    }
}

/// The requests of one hardware queue that blk-mq hands the driver at once
/// ([`Operations::queue_rqs`]), and the way back for those the driver does
/// not queue.
///
/// # Invariants
///
/// `rqs` and `back` are the shim's lists for one `queue_rqs` call, for
/// `'a`; every request on `rqs` is a live request of the disk of the call,
/// not yet queued.
pub struct RequestList<'a> {
    rqs: NonNull<RawRqList>,
    back: NonNull<RawRqList>,
    _call: PhantomData<&'a mut RawRqList>,
}

impl RequestList<'_> {
    /// The next request, which the driver now owns: it queues it or
    /// [`RequestList::give_back`]s it.
    pub fn pop(&mut self) -> Option<Request> {
        // SAFETY: the shim's list for this call (type invariant).
        let rq = unsafe { rvirtio_rq_list_pop(self.rqs.as_ptr()) };
        // INVARIANT: a live request of the disk (type invariant of the
        // list), off the list and so owned here.
        NonNull::new(rq).map(Request)
    }

    /// Hands a request back to blk-mq: one not started is issued again
    /// through [`Operations::queue_rq`] after this call; one started (and
    /// unmapped) is requeued. Requests left on the list go back the first
    /// way.
    pub fn give_back(&mut self, rq: Request) {
        // SAFETY: the shim's list for this call (type invariant) and a live
        // request the driver owns; ownership passes to the list or to
        // blk-mq's requeue list.
        unsafe { rvirtio_rq_give_back(self.back.as_ptr(), rq.raw()) };
    }
}

/// What the timeout handler decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Keep waiting.
    ResetTimer,
    /// The driver completed the request.
    Done,
}

/// The driver's side of a disk.
pub trait Operations: Send + Sync + 'static {
    /// Queues `rq` on hardware queue `hctx`. On success the driver owns the
    /// started request until it completes it; on failure the request goes
    /// back to blk-mq with a status (started or not: blk-mq requeues
    /// [`Status::Resource`] and ends the others).
    fn queue_rq(
        &self,
        disk: DiskRef<'_>,
        hctx: u32,
        rq: Request,
        last: bool,
    ) -> Result<(), (Status, Request)>;
    /// Queues the requests of `rqs`, all for hardware queue `hctx`, at once
    /// (blk-mq's `queue_rqs`: a plugged list, such as an io_uring
    /// submission of several requests): a driver adds them under one hold
    /// of its queue's lock and notifies the device once. It gives back
    /// ([`RequestList::give_back`], or leaves on the list) what it does
    /// not queue, which blk-mq then issues through
    /// [`Operations::queue_rq`]. By default it queues nothing.
    fn queue_rqs(&self, _disk: DiskRef<'_>, _hctx: u32, _rqs: &mut RequestList<'_>) {}
    /// Notifies the device of requests queued without `last`.
    fn commit_rqs(&self, hctx: u32);
    /// Finishes a completed request (unmap, status, end).
    fn complete(&self, disk: DiskRef<'_>, rq: Request);
    /// A request timed out.
    fn timeout(&self, disk: DiskRef<'_>, rq: &Request) -> Timeout;
    /// The sysfs `serial` attribute: writes the serial into `buf` (at most
    /// its length) and returns its length.
    fn serial(&self, _disk: DiskRef<'_>, _buf: &mut [u8]) -> Result<usize> {
        Ok(0)
    }
    /// Whether the volatile write cache is on (sysfs `cache_type`).
    fn write_cache(&self) -> Result<bool> {
        Ok(false)
    }
    /// Switches the write cache mode; returns the mode now in force.
    fn set_write_cache(&self, _write_back: bool) -> Result<bool> {
        Err(EPERM)
    }
    /// Whether [`Operations::set_write_cache`] can work (a writable
    /// `cache_type`).
    fn write_cache_switchable(&self) -> bool {
        false
    }
    /// The geometry for `HDIO_GETGEO` of a disk of `capacity` sectors.
    fn geometry(&self, capacity: u64) -> Result<Geometry> {
        Ok(Geometry::for_capacity(capacity))
    }
}

/// Room for the elements of one mapped request (header, up to `N - 2` data
/// segments, status), for [`DiskRef::map`]. Not initialised: mapping writes
/// the elements it uses, so a request costs no clearing of the whole array.
pub struct Elements<const N: usize> {
    addrs: [MaybeUninit<u64>; N],
    lens: [MaybeUninit<u32>; N],
    bufs: [MaybeUninit<Buf>; N],
}

impl<const N: usize> Elements<N> {
    /// Uninitialised room for `N` elements.
    #[inline(always)]
    pub fn new() -> Self {
        Self {
            addrs: [const { MaybeUninit::uninit() }; N],
            lens: [const { MaybeUninit::uninit() }; N],
            bufs: [const { MaybeUninit::uninit() }; N],
        }
    }
}

impl<const N: usize> Default for Elements<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A disk, for the driver's callbacks, borrowed for `'a`: from a callback
/// (for its duration) or from [`Disk::handle`] (while the [`Disk`] is
/// borrowed), so it cannot outlive the disk.
///
/// # Invariants
///
/// `0` is a disk made by [`Disk::new`] that is not freed for `'a`.
#[derive(Clone, Copy)]
pub struct DiskRef<'a>(NonNull<RawDisk>, PhantomData<&'a RawDisk>);

// SAFETY: the disk's helpers are thread-safe, and it lives for `'a`.
unsafe impl Send for DiskRef<'_> {}
// SAFETY: as above.
unsafe impl Sync for DiskRef<'_> {}

impl<'d> DiskRef<'d> {
    /// # Safety
    ///
    /// `raw` is a disk made by [`Disk::new`] that is not freed for `'d`.
    unsafe fn from_raw(raw: NonNull<RawDisk>) -> Self {
        // INVARIANT: as the caller promises.
        Self(raw, PhantomData)
    }

    /// Maps `rq` for the device into `el`, with the header its
    /// [`Request::wire_mut`] holds: returns the device-readable elements
    /// (header, data of a write) and the device-writable ones (data of a
    /// read, status).
    ///
    /// With `payload_len` not zero, the data is the first `payload_len`
    /// bytes of the wire area's ranges (device-readable) instead of the
    /// request's pages. Inlined into each caller (a driver's `queue_rq` and
    /// `queue_rqs`): as a call it costs about 80 instructions per request.
    #[inline(always)]
    pub fn map<'a, const N: usize>(
        &self,
        rq: &mut Request,
        payload_len: usize,
        el: &'a mut Elements<N>,
    ) -> Result<(&'a [Buf], &'a [Buf])> {
        let max = u32::try_from(N).map_err(|_| EINVAL)?;
        let mut n_out = 0u32;
        // SAFETY: a live disk and request; both arrays hold `N` elements,
        // and the helper writes only below `N`.
        let n = unsafe {
            rvirtio_rq_map(
                self.0.as_ptr(),
                rq.raw(),
                u32::try_from(payload_len).map_err(|_| EINVAL)?,
                el.addrs.as_mut_ptr().cast::<u64>(),
                el.lens.as_mut_ptr().cast::<u32>(),
                max,
                &mut n_out,
            )
        };
        kernel::error::to_result(n)?;
        // CAST: non-negative (checked above).
        let n = n as usize;
        // CAST: a `u32` fits `usize`.
        let n_out = n_out as usize;
        if n > N || n_out > n {
            // Not reached: the helper writes at most `max` elements and
            // counts the readable ones among them.
            self.unmap(rq);
            return Err(EINVAL);
        }
        for i in 0..n {
            // SAFETY: `i < n <= N`, and the helper wrote elements `0..n` of
            // both arrays.
            let b = unsafe {
                Buf::new(
                    el.addrs.get_unchecked(i).assume_init(),
                    el.lens.get_unchecked(i).assume_init(),
                )
            };
            // SAFETY: `i < N`.
            unsafe { el.bufs.get_unchecked_mut(i) }.write(b);
        }
        // SAFETY: elements `0..n` of `bufs` were written just above, and
        // `n_out <= n <= N`; `MaybeUninit<Buf>` has the layout of `Buf`.
        let all = unsafe { core::slice::from_raw_parts(el.bufs.as_ptr().cast::<Buf>(), n) };
        Ok(all.split_at(n_out))
    }

    /// Runs a driver-private read of `out.len()` bytes through the queue
    /// (a request of [`Op::DrvIn`], which the driver's `queue_rq` builds)
    /// and waits for it; `out` gets what the device wrote, zeroes
    /// elsewhere. Sleeps.
    pub fn drv_in(&self, out: &mut [u8]) -> Result {
        let len = u32::try_from(out.len()).map_err(|_| EINVAL)?;
        // SAFETY: a live disk; `out` holds `len` bytes.
        kernel::error::to_result(unsafe {
            rvirtio_blk_drv_in(self.0.as_ptr(), out.as_mut_ptr(), len)
        })
    }

    /// Undoes [`DiskRef::map`]; returns what the device answered.
    pub fn unmap(&self, rq: &mut Request) -> Answer {
        let (mut used_len, mut in_len) = (0u32, 0u32);
        // SAFETY: a live disk and request.
        unsafe { rvirtio_rq_unmap(self.0.as_ptr(), rq.raw(), &mut used_len, &mut in_len) };
        // Unmapped: the device can no longer change the status byte.
        Answer {
            status: rq.wire_mut().status,
            used_len,
            in_len,
        }
    }
}

/// A blk-mq disk; removed and freed when dropped.
///
/// Lifetime of the driver's data: the callbacks get the inner pointer of
/// `ops`, which the disk keeps alive until `rvirtio_blk_destroy` (in
/// `drop`) has returned, and no callback runs with it after that: blk-mq's
/// and sysfs's end with `del_gendisk`, and those that an open block device
/// can still make after it (`getgeo`) reach the driver only under the
/// shim's lock while it has not let go of the data (they fail with `ENXIO`
/// then). The shim's own structure lives until the gendisk's last
/// reference goes (`.free_disk`). So no callback reaches `T` after it is
/// dropped, whatever the driver does: it never sees the raw pointers.
///
/// # Invariants
///
/// `raw` is a disk from `rvirtio_blk_create` whose callbacks get the inner
/// pointer of `ops`, which it keeps alive until the disk is destroyed.
pub struct Disk<T: Operations> {
    raw: NonNull<RawDisk>,
    ops: Arc<T>,
    added: bool,
}

// SAFETY: the C object is reached only through its thread-safe helpers.
unsafe impl<T: Operations> Send for Disk<T> {}
// SAFETY: as above.
unsafe impl<T: Operations> Sync for Disk<T> {}

impl<T: Operations> Disk<T> {
    const CB: Callbacks = Callbacks {
        queue_rq: Self::queue_rq_cb,
        commit_rqs: Self::commit_rqs_cb,
        complete: Self::complete_cb,
        timeout: Self::timeout_cb,
        serial: Self::serial_cb,
        write_cache: Self::write_cache_cb,
        set_write_cache: Self::set_write_cache_cb,
        write_cache_switchable: Self::write_cache_switchable_cb,
        geometry: Self::geometry_cb,
        queue_rqs: Self::queue_rqs_cb,
    };

    /// Creates a disk (not yet visible) with `nr_queues` hardware queues of
    /// `depth` tags, whose requests [`DiskRef::map`] maps for `dma` as its
    /// addressing says (the DMA API, or physical addresses).
    ///
    /// `irq_offset`: with `Some(v)`, hardware queue `i` completes on
    /// interrupt vector `v + i` of `dma`'s device (a PCI device whose vectors
    /// have managed affinity), and each CPU submits to the queue whose
    /// vector is affine to it, as the C driver maps them; with `None` the
    /// CPUs are spread over the queues.
    pub fn new(
        dma: &DmaDevice,
        nr_queues: u32,
        depth: u32,
        timeout_ms: u32,
        limits: &Limits,
        ops: Arc<T>,
        irq_offset: Option<u32>,
    ) -> Result<Self> {
        check_abi()?;
        let wire = RawWire::new()?;
        let irq_offset = irq_offset.map_or(-1, |v| i32::try_from(v).unwrap_or(-1));
        let drv = Arc::as_ptr(&ops).cast_mut().cast();
        // SAFETY: `dma`'s device is a live device; `limits`, `wire` and the
        // static callbacks outlive the call (the callbacks forever); `drv`
        // stays valid while `ops` lives, which is until the disk is
        // destroyed.
        let raw = unsafe {
            rvirtio_blk_create(
                crate::kext::device::raw(dma.device()),
                nr_queues,
                depth,
                timeout_ms,
                limits,
                &wire,
                &Self::CB,
                drv,
                irq_offset,
            )
        };
        let raw = NonNull::new(kernel::error::from_err_ptr(raw)?).ok_or(ENOMEM)?;
        // SAFETY: a disk just created, not yet added: no request is mapped.
        unsafe { rvirtio_blk_set_dma_api(raw.as_ptr(), dma.uses_dma_api()) };
        Ok(Self {
            raw,
            ops,
            added: false,
        })
    }

    /// The disk as the callbacks see it, for as long as `self` is
    /// borrowed.
    pub fn handle(&self) -> DiskRef<'_> {
        // SAFETY: our disk (type invariant) is freed only when `self` is
        // dropped, which the borrow prevents.
        unsafe { DiskRef::from_raw(self.raw) }
    }

    /// Makes the disk visible as `name` under `parent`.
    pub fn add(&mut self, parent: &Device, name: &CStr, sectors: u64, read_only: bool) -> Result {
        if self.added {
            return Err(EBUSY);
        }
        // SAFETY: a created, not yet added disk; `name` is copied.
        kernel::error::to_result(unsafe {
            rvirtio_blk_add(
                self.raw.as_ptr(),
                crate::kext::device::raw(parent),
                name.as_char_ptr(),
                sectors,
                read_only,
            )
        })?;
        self.added = true;
        Ok(())
    }

    /// Changes the capacity and tells user space.
    pub fn set_capacity(&self, sectors: u64) {
        // SAFETY: a live disk.
        unsafe { rvirtio_blk_set_capacity(self.raw.as_ptr(), sectors) };
    }

    /// Fails all new I/O for good.
    pub fn mark_dead(&self) {
        if self.added {
            // SAFETY: an added disk.
            unsafe { rvirtio_blk_mark_dead(self.raw.as_ptr()) };
        }
    }

    /// The operations.
    pub fn ops(&self) -> &Arc<T> {
        &self.ops
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation.
    unsafe fn ops_of<'a>(drv: *mut kernel::ffi::c_void) -> &'a T {
        // SAFETY: `drv` is the `T` the disk keeps alive.
        unsafe { &*drv.cast::<T>() }
    }

    /// The disk and request of a callback, checked for null before
    /// anything is dereferenced.
    ///
    /// # Safety
    ///
    /// `b` is null or a disk made by [`Disk::new`] that lives for `'a`;
    /// `rq` is null or a live request of it that blk-mq hands the driver.
    unsafe fn args<'a>(
        b: *mut RawDisk,
        rq: *mut bindings::request,
    ) -> Option<(DiskRef<'a>, Request)> {
        let (b, rq) = (NonNull::new(b)?, NonNull::new(rq)?);
        // SAFETY: a live disk for `'a`, as the caller promises.
        let disk = unsafe { DiskRef::from_raw(b) };
        // INVARIANT: a live request of the disk, as the caller promises.
        Some((disk, Request(rq)))
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation, the disk, and
    /// a request blk-mq hands the driver to queue.
    unsafe extern "C" fn queue_rq_cb(
        drv: *mut kernel::ffi::c_void,
        b: *mut RawDisk,
        hctx: u32,
        rq: *mut bindings::request,
        last: bool,
    ) -> u8 {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        // SAFETY: the shim passes its disk, alive during the callback, and
        // a live request to queue.
        let Some((disk, rq)) = (unsafe { Self::args(b, rq) }) else {
            return Status::IoError as u8;
        };
        match ops.queue_rq(disk, hctx, rq, last) {
            Ok(()) => Status::Ok as u8,
            // The block layer keeps the request; our handle just goes.
            Err((status, _rq)) => status as u8,
        }
    }

    /// # Safety
    ///
    /// Called by the shim's `queue_rqs` with the `drv` given at creation,
    /// the disk, and its two lists for the call: `rqs`, live requests of
    /// the disk for hardware queue `hctx`, and `back`.
    unsafe extern "C" fn queue_rqs_cb(
        drv: *mut kernel::ffi::c_void,
        b: *mut RawDisk,
        hctx: u32,
        rqs: *mut RawRqList,
        back: *mut RawRqList,
    ) {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        let (Some(b), Some(rqs), Some(back)) =
            (NonNull::new(b), NonNull::new(rqs), NonNull::new(back))
        else {
            // The shim gives what is left on `rqs` back to blk-mq.
            return;
        };
        // SAFETY: the shim passes its disk, alive during the callback.
        let disk = unsafe { DiskRef::from_raw(b) };
        // INVARIANT: the shim's lists for this call, which outlive it; the
        // requests on `rqs` are live requests of the disk to queue.
        let mut list = RequestList {
            rqs,
            back,
            _call: PhantomData,
        };
        ops.queue_rqs(disk, hctx, &mut list);
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation.
    unsafe extern "C" fn commit_rqs_cb(drv: *mut kernel::ffi::c_void, hctx: u32) {
        // SAFETY: called by the shim with our `drv`.
        unsafe { Self::ops_of(drv) }.commit_rqs(hctx);
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation, the disk, and
    /// a request the driver completed.
    unsafe extern "C" fn complete_cb(
        drv: *mut kernel::ffi::c_void,
        b: *mut RawDisk,
        rq: *mut bindings::request,
    ) {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        // SAFETY: the shim passes its disk, alive during the callback, and
        // the live request the driver completed (it owns it again).
        if let Some((disk, rq)) = unsafe { Self::args(b, rq) } {
            ops.complete(disk, rq);
        }
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation, the disk, and
    /// a request that timed out.
    unsafe extern "C" fn timeout_cb(
        drv: *mut kernel::ffi::c_void,
        b: *mut RawDisk,
        rq: *mut bindings::request,
    ) -> u32 {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        // SAFETY: the shim passes its disk, alive during the callback, and
        // a live request; the block layer still owns it, so it is only lent
        // (`Request` ends nothing when dropped).
        let Some((disk, rq)) = (unsafe { Self::args(b, rq) }) else {
            return bindings::blk_eh_timer_return_BLK_EH_RESET_TIMER;
        };
        match ops.timeout(disk, &rq) {
            Timeout::ResetTimer => bindings::blk_eh_timer_return_BLK_EH_RESET_TIMER,
            Timeout::Done => bindings::blk_eh_timer_return_BLK_EH_DONE,
        }
    }
}

impl<T: Operations> Disk<T> {
    /// # Safety
    ///
    /// Called by the shim's sysfs `serial` with the `drv` given at
    /// creation, the disk, and a buffer of `len` bytes.
    unsafe extern "C" fn serial_cb(
        drv: *mut kernel::ffi::c_void,
        b: *mut RawDisk,
        buf: *mut u8,
        len: u32,
    ) -> kernel::ffi::c_int {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        let Some(b) = NonNull::new(b) else {
            return EINVAL.to_errno();
        };
        // SAFETY: the shim passes its disk, alive while its sysfs attribute
        // is being read.
        let disk = unsafe { DiskRef::from_raw(b) };
        if buf.is_null() {
            return EINVAL.to_errno();
        }
        // SAFETY: the shim's sysfs page, `len` bytes, ours for the call.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf, len as usize) };
        match ops.serial(disk, buf) {
            // CAST: at most `len`, which fits a c_int (a sysfs page).
            Ok(n) => n.min(buf.len()) as kernel::ffi::c_int,
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation.
    unsafe extern "C" fn write_cache_cb(drv: *mut kernel::ffi::c_void) -> kernel::ffi::c_int {
        // SAFETY: called by the shim with our `drv`.
        match unsafe { Self::ops_of(drv) }.write_cache() {
            Ok(on) => kernel::ffi::c_int::from(on),
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation.
    unsafe extern "C" fn set_write_cache_cb(
        drv: *mut kernel::ffi::c_void,
        write_back: bool,
    ) -> kernel::ffi::c_int {
        // SAFETY: called by the shim with our `drv`.
        match unsafe { Self::ops_of(drv) }.set_write_cache(write_back) {
            Ok(on) => kernel::ffi::c_int::from(on),
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation.
    unsafe extern "C" fn write_cache_switchable_cb(drv: *mut kernel::ffi::c_void) -> bool {
        // SAFETY: called by the shim with our `drv`.
        unsafe { Self::ops_of(drv) }.write_cache_switchable()
    }
}

impl<T: Operations> Disk<T> {
    /// # Safety
    ///
    /// Called by the shim's `getgeo` with the `drv` given at creation and
    /// a writable `geo`.
    unsafe extern "C" fn geometry_cb(
        drv: *mut kernel::ffi::c_void,
        capacity: u64,
        geo: *mut Geometry,
    ) -> kernel::ffi::c_int {
        // SAFETY: called by the shim with our `drv`.
        match unsafe { Self::ops_of(drv) }.geometry(capacity) {
            Ok(g) if !geo.is_null() => {
                // SAFETY: `geo` is the shim's local, writable.
                unsafe { geo.write(g) };
                0
            }
            Ok(_) => EINVAL.to_errno(),
            Err(e) => e.to_errno(),
        }
    }
}

impl<T: Operations> Disk<T> {
    /// Gives up on deleting the disk, for when requests are still with a
    /// device that may use their memory (it did not reset and its DMA could
    /// not be stopped): they must never end, and deleting the disk would
    /// wait for them forever. The disk (dead: [`Disk::mark_dead`] first),
    /// its tags, the operations and the module (pinned from here on) stay
    /// for good; the requests' memory is never handed back.
    pub fn leak(self) {
        self.mark_dead();
        // SAFETY: our live disk; the shim only pins the module.
        unsafe { rvirtio_blk_leak(self.raw.as_ptr()) };
        // Not destroyed: the disk and `ops` (which its callbacks use) are
        // never freed, and the module that holds their code stays.
        core::mem::forget(self);
    }
}

impl<T: Operations> Drop for Disk<T> {
    fn drop(&mut self) {
        // SAFETY: our disk (type invariant); removing it waits for I/O and
        // the blk-mq and sysfs callbacks to finish, and cuts later ones off
        // from `ops`, which is dropped after this (see the type's
        // documentation).
        unsafe { rvirtio_blk_destroy(self.raw.as_ptr(), self.added) };
    }
}

/// The version of the shim's ABI these declarations were written for; it
/// must equal `RVIRTIO_BLK_SHIM_ABI` in `rust/helpers/blk.c`.
pub const SHIM_ABI: u32 = 5;

/// A structure (its size), field (its offset) or constant (its value) of
/// the shim that this file mirrors, as `rvirtio_blk_c_layout` measures it
/// (the [`c_layout`](crate::kext::c_layout) mechanism for the shim's own
/// structures).
///
/// The discriminants must match `enum rvirtio_blk_c_field` in
/// `rust/helpers/blk.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CField {
    /// `sizeof(struct rvirtio_blk_limits)`.
    Limits = 0,
    /// `logical_block_size`.
    LimitsLogicalBlockSize,
    /// `physical_block_size`.
    LimitsPhysicalBlockSize,
    /// `alignment_offset`.
    LimitsAlignmentOffset,
    /// `io_min`.
    LimitsIoMin,
    /// `io_opt`.
    LimitsIoOpt,
    /// `max_hw_sectors`.
    LimitsMaxHwSectors,
    /// `max_segments`.
    LimitsMaxSegments,
    /// `max_segment_size`.
    LimitsMaxSegmentSize,
    /// `dma_alignment`.
    LimitsDmaAlignment,
    /// `max_discard_sectors`.
    LimitsMaxDiscardSectors,
    /// `max_discard_segments`.
    LimitsMaxDiscardSegments,
    /// `discard_granularity`.
    LimitsDiscardGranularity,
    /// `max_write_zeroes_sectors`.
    LimitsMaxWriteZeroesSectors,
    /// `write_cache`.
    LimitsWriteCache,
    /// `fua`.
    LimitsFua,
    /// `sizeof(struct rvirtio_blk_cb)`.
    Cb,
    /// `queue_rq`.
    CbQueueRq,
    /// `commit_rqs`.
    CbCommitRqs,
    /// `complete`.
    CbComplete,
    /// `timeout`.
    CbTimeout,
    /// `serial`.
    CbSerial,
    /// `write_cache`.
    CbWriteCache,
    /// `set_write_cache`.
    CbSetWriteCache,
    /// `write_cache_switchable`.
    CbWriteCacheSwitchable,
    /// `geometry`.
    CbGeometry,
    /// `queue_rqs`.
    CbQueueRqs,
    /// `sizeof(struct rvirtio_blk_geo)`.
    Geo,
    /// `cylinders`.
    GeoCylinders,
    /// `heads`.
    GeoHeads,
    /// `sectors`.
    GeoSectors,
    /// `sizeof(struct rvirtio_blk_wire)`.
    Wire,
    /// `size`.
    WireSize,
    /// `align`.
    WireAlign,
    /// `header_len`.
    WireHeaderLen,
    /// `status_offset`.
    WireStatusOffset,
    /// `payload_offset`.
    WirePayloadOffset,
    /// `payload_max`.
    WirePayloadMax,
    /// `BLK_STS_OK`.
    StsOk,
    /// `BLK_STS_NOTSUPP`.
    StsNotSupp,
    /// `BLK_STS_RESOURCE`.
    StsResource,
    /// `BLK_STS_IOERR`.
    StsIoErr,
    /// `BLK_STS_DEV_RESOURCE`.
    StsDevResource,
    /// `__alignof__(struct request)`: the alignment of the per-request data,
    /// which starts with the wire area.
    RequestAlign,
}

/// The size, offset or value C gives `field`, or `None` when the linked
/// shim does not know it (an ABI mismatch).
pub fn c_layout(field: CField) -> Option<usize> {
    // SAFETY: `rvirtio_blk_c_layout` is a pure function of its argument and
    // accepts any value (unknown ids return -1).
    let v = unsafe { rvirtio_blk_c_layout(field as u32) };
    usize::try_from(v).ok()
}

/// Every `(C field, Rust value)` pair that must agree: the shim's limits,
/// callbacks, geometry and wire layout structures, and the block statuses.
/// For [`CField::RequestAlign`] the Rust value is the least C must give.
pub fn layout() -> [(CField, usize); 44] {
    use CField as F;
    let sts = |s: Status| usize::from(s as u8);
    [
        (F::Limits, size_of::<Limits>()),
        (
            F::LimitsLogicalBlockSize,
            offset_of!(Limits, logical_block_size),
        ),
        (
            F::LimitsPhysicalBlockSize,
            offset_of!(Limits, physical_block_size),
        ),
        (
            F::LimitsAlignmentOffset,
            offset_of!(Limits, alignment_offset),
        ),
        (F::LimitsIoMin, offset_of!(Limits, io_min)),
        (F::LimitsIoOpt, offset_of!(Limits, io_opt)),
        (F::LimitsMaxHwSectors, offset_of!(Limits, max_hw_sectors)),
        (F::LimitsMaxSegments, offset_of!(Limits, max_segments)),
        (
            F::LimitsMaxSegmentSize,
            offset_of!(Limits, max_segment_size),
        ),
        (F::LimitsDmaAlignment, offset_of!(Limits, dma_alignment)),
        (
            F::LimitsMaxDiscardSectors,
            offset_of!(Limits, max_discard_sectors),
        ),
        (
            F::LimitsMaxDiscardSegments,
            offset_of!(Limits, max_discard_segments),
        ),
        (
            F::LimitsDiscardGranularity,
            offset_of!(Limits, discard_granularity),
        ),
        (
            F::LimitsMaxWriteZeroesSectors,
            offset_of!(Limits, max_write_zeroes_sectors),
        ),
        (F::LimitsWriteCache, offset_of!(Limits, write_cache)),
        (F::LimitsFua, offset_of!(Limits, fua)),
        (F::Cb, size_of::<Callbacks>()),
        (F::CbQueueRq, offset_of!(Callbacks, queue_rq)),
        (F::CbCommitRqs, offset_of!(Callbacks, commit_rqs)),
        (F::CbComplete, offset_of!(Callbacks, complete)),
        (F::CbTimeout, offset_of!(Callbacks, timeout)),
        (F::CbSerial, offset_of!(Callbacks, serial)),
        (F::CbWriteCache, offset_of!(Callbacks, write_cache)),
        (F::CbSetWriteCache, offset_of!(Callbacks, set_write_cache)),
        (
            F::CbWriteCacheSwitchable,
            offset_of!(Callbacks, write_cache_switchable),
        ),
        (F::CbGeometry, offset_of!(Callbacks, geometry)),
        (F::CbQueueRqs, offset_of!(Callbacks, queue_rqs)),
        (F::Geo, size_of::<Geometry>()),
        (F::GeoCylinders, offset_of!(Geometry, cylinders)),
        (F::GeoHeads, offset_of!(Geometry, heads)),
        (F::GeoSectors, offset_of!(Geometry, sectors)),
        (F::Wire, size_of::<RawWire>()),
        (F::WireSize, offset_of!(RawWire, size)),
        (F::WireAlign, offset_of!(RawWire, align)),
        (F::WireHeaderLen, offset_of!(RawWire, header_len)),
        (F::WireStatusOffset, offset_of!(RawWire, status_offset)),
        (F::WirePayloadOffset, offset_of!(RawWire, payload_offset)),
        (F::WirePayloadMax, offset_of!(RawWire, payload_max)),
        (F::StsOk, sts(Status::Ok)),
        (F::StsNotSupp, sts(Status::NotSupported)),
        (F::StsResource, sts(Status::Resource)),
        (F::StsIoErr, sts(Status::IoError)),
        (F::StsDevResource, sts(Status::DevResource)),
        (F::RequestAlign, RequestWire::LAYOUT.align),
    ]
}

/// The entries of [`layout`] where C and Rust disagree (or C does not know
/// the field), each logged, and counted.
pub fn layout_mismatches() -> usize {
    layout()
        .into_iter()
        .filter(|&(field, rust)| {
            let c = c_layout(field);
            let ok = match field {
                CField::RequestAlign => c.is_some_and(|c| c >= rust),
                _ => c == Some(rust),
            };
            if !ok {
                pr_err!(
                    "blk shim layout mismatch: {:?}: C {:?}, Rust {}\n",
                    field,
                    c,
                    rust
                );
            }
            !ok
        })
        .count()
}

/// Checks that the linked C helpers and blk-mq shim implement the ABI these
/// declarations expect and that every mirrored structure and value has
/// C's layout; logs what does not. [`Disk::new`] runs it, so a module with
/// a mismatched shim makes no disk.
///
/// # Errors
///
/// `EINVAL` on any mismatch.
pub fn check_abi() -> Result {
    if !crate::kext::helpers_abi_matches() {
        pr_err!(
            "C helpers do not implement ABI {}\n",
            crate::kext::HELPERS_ABI
        );
        return Err(EINVAL);
    }
    // SAFETY: `rvirtio_blk_abi` takes no arguments and has no side effects.
    let abi = unsafe { rvirtio_blk_abi() };
    if abi != SHIM_ABI {
        pr_err!("blk shim ABI {}, expected {}\n", abi, SHIM_ABI);
        return Err(EINVAL);
    }
    if layout_mismatches() != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// The disk name prefix: the module's `prefix` parameter (default `vd`,
/// defined by the shim: 7.2's `module!` has no string parameters). Not
/// checked here (see [`crate::virtio::blk::check_prefix`]).
pub fn name_prefix() -> &'static CStr {
    // SAFETY: `rvirtio_blk_name_prefix` returns the module's `charp`
    // parameter; read-only (0444), it is set before the module's init and
    // stays until the module is unloaded. Checked for null all the same.
    let p = unsafe { rvirtio_blk_name_prefix() };
    if p.is_null() {
        return c"";
    }
    // SAFETY: a NUL-terminated string that lives as long as the module
    // (see above).
    unsafe { CStr::from_char_ptr(p) }
}
