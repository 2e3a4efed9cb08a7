// SPDX-License-Identifier: GPL-2.0

//! blk-mq disks with a per-request PDU, full queue limits, a parent device,
//! a module owner and a timeout handler: what the 7.2 kernel crate's
//! `block::mq` cannot express. A C shim (`rust/helpers/blk.c`) owns the tag
//! set and the gendisk and calls [`Operations`]; a module that uses this
//! includes both (`#[path] mod blk;` and `#include "rust/helpers/blk.c"` in
//! its `helpers.c`).
//!
//! C headers: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h),
//! [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)

use crate::virtio::queue::Buf;
use core::{mem::MaybeUninit, ptr::NonNull};
use kernel::{bindings, device::Device, prelude::*, sync::Arc};

#[repr(C)]
struct RawDisk {
    _opaque: [u8; 0],
}

/// Queue limits of a disk.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// Logical block size in bytes.
    pub logical_block_size: u32,
    /// Physical block size in bytes.
    pub physical_block_size: u32,
    /// Alignment offset in bytes.
    pub alignment_offset: u32,
    /// Minimum I/O size in bytes.
    pub io_min: u32,
    /// Optimal I/O size in bytes.
    pub io_opt: u32,
    /// Largest request in 512-byte sectors.
    pub max_hw_sectors: u32,
    /// Most data segments per request.
    pub max_segments: u32,
    /// Largest data segment in bytes.
    pub max_segment_size: u32,
    /// DMA alignment mask.
    pub dma_alignment: u32,
    /// Largest discard in 512-byte sectors (0: no discard).
    pub max_discard_sectors: u32,
    /// Most ranges in one discard request.
    pub max_discard_segments: u32,
    /// Discard granularity in bytes.
    pub discard_granularity: u32,
    /// Largest write-zeroes request in 512-byte sectors (0: none).
    pub max_write_zeroes_sectors: u32,
    /// The device has a volatile write cache (flushes are sent).
    pub write_cache: bool,
    /// The device supports FUA writes.
    pub fua: bool,
}

#[repr(C)]
struct Callbacks {
    queue_rq:
        unsafe extern "C" fn(*mut kernel::ffi::c_void, u32, *mut bindings::request, bool) -> u32,
    commit_rqs: unsafe extern "C" fn(*mut kernel::ffi::c_void, u32),
    complete: unsafe extern "C" fn(*mut kernel::ffi::c_void, *mut bindings::request),
    timeout: unsafe extern "C" fn(*mut kernel::ffi::c_void, *mut bindings::request) -> u32,
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
}

/// A disk's legacy geometry (`HDIO_GETGEO`), for old partitioning tools.
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
        cb: *const Callbacks,
        drv: *mut kernel::ffi::c_void,
        irq_offset: kernel::ffi::c_int,
    ) -> *mut RawDisk;
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
    fn rvirtio_rq_op(rq: *mut bindings::request) -> u32;
    fn rvirtio_rq_pos(rq: *mut bindings::request) -> u64;
    fn rvirtio_rq_bytes(rq: *mut bindings::request) -> u32;
    fn rvirtio_rq_fua(rq: *mut bindings::request) -> bool;
    fn rvirtio_rq_nounmap(rq: *mut bindings::request) -> bool;
    fn rvirtio_rq_payload(rq: *mut bindings::request, len: *mut u32) -> *mut u8;
    fn rvirtio_rq_bio(rq: *mut bindings::request) -> *mut bindings::bio;
    fn rvirtio_bio_next(
        bio: *mut bindings::bio,
        sector: *mut u64,
        bytes: *mut u32,
    ) -> *mut bindings::bio;
    fn rvirtio_blk_drv_in(b: *mut RawDisk, out: *mut u8, len: u32) -> kernel::ffi::c_int;
    fn rvirtio_rq_start(rq: *mut bindings::request);
    fn rvirtio_rq_complete(rq: *mut bindings::request, used_len: u32);
    fn rvirtio_rq_end(rq: *mut bindings::request, status: u32);
    fn rvirtio_rq_map(
        b: *mut RawDisk,
        rq: *mut bindings::request,
        ty: u32,
        sector: u64,
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
    ) -> u8;
}

/// Block status codes (`blk_status_t`, `include/linux/blk_types.h`;
/// bindgen cannot see them).
pub mod status {
    /// `BLK_STS_OK`.
    pub const OK: u32 = 0;
    /// `BLK_STS_NOTSUPP`.
    pub const NOTSUPP: u32 = 1;
    /// `BLK_STS_RESOURCE`.
    pub const RESOURCE: u32 = 9;
    /// `BLK_STS_IOERR`.
    pub const IOERR: u32 = 10;
    /// `BLK_STS_DEV_RESOURCE`.
    pub const DEV_RESOURCE: u32 = 13;
}

/// Whether `e` is `EOPNOTSUPP` (what a request ended with
/// [`status::NOTSUPP`] returns; the kernel crate has no constant for it).
pub fn is_not_supported(e: Error) -> bool {
    // CAST: errno values are small positive numbers.
    e.to_errno() == -(bindings::EOPNOTSUPP as kernel::ffi::c_int)
}

/// The operation of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read.
    Read,
    /// Write.
    Write,
    /// Flush the volatile cache.
    Flush,
    /// Discard.
    Discard,
    /// Write zeroes.
    WriteZeroes,
    /// A driver-private read (`REQ_OP_DRV_IN`), from [`DiskRef::drv_in`].
    DrvIn,
    /// Anything else.
    Other(u32),
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

    /// The operation.
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

    /// The request's payload buffer in its per-request data: bytes the
    /// driver builds for the device (e.g. discard ranges) and sends with
    /// [`DiskRef::map`] instead of data pages.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let mut len = 0u32;
        // SAFETY: a live request of our disk; its PDU has the payload.
        let p = unsafe { rvirtio_rq_payload(self.raw(), &mut len) };
        if p.is_null() {
            return &mut [];
        }
        // SAFETY: the payload is `len` bytes inside the request's PDU, which
        // lives as long as the request; `&mut self` makes this the only
        // reference (the request is owned by this handle).
        unsafe { core::slice::from_raw_parts_mut(p, len as usize) }
    }

    /// The request's bios as (first sector, bytes): for a discard request
    /// merged from several bios, one range each.
    pub fn bios(&self) -> Bios<'_> {
        Bios {
            // SAFETY: a live request.
            next: unsafe { rvirtio_rq_bio(self.raw()) },
            _rq: core::marker::PhantomData,
        }
    }

    /// Marks the request started (before handing it to the device).
    pub fn start(&self) {
        // SAFETY: a live request.
        unsafe { rvirtio_rq_start(self.raw()) };
    }

    /// Completes from an interrupt, with the length the device said it
    /// wrote: `Operations::complete` runs later (or at once), and finds it
    /// in [`Unmapped::used_len`].
    pub fn complete(self, used_len: u32) {
        // SAFETY: a live request; ownership passes to the block layer.
        unsafe { rvirtio_rq_complete(self.raw(), used_len) };
    }

    /// Ends the request with `status` (a `blk_status_t`).
    pub fn end(self, status: u32) {
        // SAFETY: a live request; ending gives it back to the block layer.
        unsafe { rvirtio_rq_end(self.raw(), status) };
    }
}

/// The bios of a request, as (first sector, bytes); see [`Request::bios`].
pub struct Bios<'a> {
    next: *mut bindings::bio,
    _rq: core::marker::PhantomData<&'a Request>,
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
    /// back to blk-mq with a `blk_status_t` (started or not: blk-mq
    /// requeues `BLK_STS_RESOURCE` and ends the others).
    fn queue_rq(
        &self,
        disk: DiskRef,
        hctx: u32,
        rq: Request,
        last: bool,
    ) -> Result<(), (u32, Request)>;
    /// Notifies the device of requests queued without `last`.
    fn commit_rqs(&self, hctx: u32);
    /// Finishes a completed request (unmap, status, end).
    fn complete(&self, disk: DiskRef, rq: Request);
    /// A request timed out.
    fn timeout(&self, disk: DiskRef, rq: &Request) -> Timeout;
    /// The sysfs `serial` attribute: writes the serial into `buf` (at most
    /// its length) and returns its length.
    fn serial(&self, _disk: DiskRef, _buf: &mut [u8]) -> Result<usize> {
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

/// A request's answer, read once its buffers are unmapped (so a device can
/// no longer change it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// The status byte (`0xff` if the device never wrote it).
    pub status: u8,
    /// The length the device reported writing (see [`Request::complete`]).
    pub used_len: u32,
    /// The device-writable bytes of the request: its data for reads, and
    /// the status byte.
    pub in_len: u32,
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

/// A disk, for the driver's callbacks.
#[derive(Clone, Copy)]
pub struct DiskRef(NonNull<RawDisk>);

// SAFETY: the disk outlives every callback; its helpers are thread-safe.
unsafe impl Send for DiskRef {}
// SAFETY: as above.
unsafe impl Sync for DiskRef {}

impl DiskRef {
    /// Maps `rq` for the device with virtio-blk header `ty` at `sector`
    /// into `el`: returns the device-readable elements (header, data of a
    /// write) and the device-writable ones (data of a read, status).
    ///
    /// With `payload_len` not zero, the data is the first `payload_len`
    /// bytes of [`Request::payload_mut`] (device-readable) instead of the
    /// request's pages.
    pub fn map<'a, const N: usize>(
        &self,
        rq: &Request,
        ty: u32,
        sector: u64,
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
                ty,
                sector,
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
    pub fn unmap(&self, rq: &Request) -> Unmapped {
        let (mut used_len, mut in_len) = (0u32, 0u32);
        // SAFETY: a live disk and request.
        let status =
            unsafe { rvirtio_rq_unmap(self.0.as_ptr(), rq.raw(), &mut used_len, &mut in_len) };
        Unmapped {
            status,
            used_len,
            in_len,
        }
    }
}

/// A blk-mq disk; removed and freed when dropped.
///
/// # Invariants
///
/// `raw` is a disk from `rvirtio_blk_create` whose callbacks get the inner
/// pointer of `ops`, which it keeps alive.
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
    };

    /// Creates a disk (not yet visible) with `nr_queues` hardware queues of
    /// `depth` tags, DMA through `dma_dev`.
    ///
    /// `irq_offset`: with `Some(v)`, hardware queue `i` completes on
    /// interrupt vector `v + i` of `dma_dev` (a PCI device whose vectors
    /// have managed affinity), and each CPU submits to the queue whose
    /// vector is affine to it, as the C driver maps them; with `None` the
    /// CPUs are spread over the queues.
    pub fn new(
        dma_dev: &Device,
        nr_queues: u32,
        depth: u32,
        timeout_ms: u32,
        limits: &Limits,
        ops: Arc<T>,
        irq_offset: Option<u32>,
    ) -> Result<Self> {
        let irq_offset = irq_offset.map_or(-1, |v| i32::try_from(v).unwrap_or(-1));
        let drv = Arc::as_ptr(&ops).cast_mut().cast();
        // SAFETY: `dma_dev` is a live device; `limits` and the static
        // callbacks outlive the call (the callbacks forever); `drv` stays
        // valid while `ops` lives, which is until the disk is destroyed.
        let raw = unsafe {
            rvirtio_blk_create(
                crate::kext::device::raw(dma_dev),
                nr_queues,
                depth,
                timeout_ms,
                limits,
                &Self::CB,
                drv,
                irq_offset,
            )
        };
        let raw = NonNull::new(kernel::error::from_err_ptr(raw)?).ok_or(ENOMEM)?;
        Ok(Self {
            raw,
            ops,
            added: false,
        })
    }

    /// For the callbacks.
    pub fn handle(&self) -> DiskRef {
        DiskRef(self.raw)
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

    fn disk_of(rq: *mut bindings::request) -> Option<DiskRef> {
        // SAFETY: `rq` is a live request of one of our disks, whose queue's
        // `queuedata` is the shim's disk object.
        let q = unsafe { (*rq).q };
        if q.is_null() {
            return None;
        }
        // SAFETY: `q` is the request's live queue.
        NonNull::new(unsafe { (*q).queuedata }.cast::<RawDisk>()).map(DiskRef)
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation and, where
    /// there is one, a live request of this disk.
    unsafe extern "C" fn queue_rq_cb(
        drv: *mut kernel::ffi::c_void,
        hctx: u32,
        rq: *mut bindings::request,
        last: bool,
    ) -> u32 {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        let (Some(rq), Some(disk)) = (NonNull::new(rq), Self::disk_of(rq)) else {
            return status::IOERR;
        };
        // INVARIANT: blk-mq hands us a live request to queue.
        match ops.queue_rq(disk, hctx, Request(rq), last) {
            Ok(()) => status::OK,
            // The block layer keeps the request; our handle just goes.
            Err((status, _rq)) => status,
        }
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation and, where
    /// there is one, a live request of this disk.
    unsafe extern "C" fn commit_rqs_cb(drv: *mut kernel::ffi::c_void, hctx: u32) {
        // SAFETY: called by the shim with our `drv`.
        unsafe { Self::ops_of(drv) }.commit_rqs(hctx);
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation and, where
    /// there is one, a live request of this disk.
    unsafe extern "C" fn complete_cb(drv: *mut kernel::ffi::c_void, rq: *mut bindings::request) {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        if let (Some(rq), Some(disk)) = (NonNull::new(rq), Self::disk_of(rq)) {
            // INVARIANT: a live request the driver completed.
            ops.complete(disk, Request(rq));
        }
    }

    /// # Safety
    ///
    /// Called by the shim with the `drv` given at creation and, where
    /// there is one, a live request of this disk.
    unsafe extern "C" fn timeout_cb(
        drv: *mut kernel::ffi::c_void,
        rq: *mut bindings::request,
    ) -> u32 {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        let (Some(raw), Some(disk)) = (NonNull::new(rq), Self::disk_of(rq)) else {
            return bindings::blk_eh_timer_return_BLK_EH_RESET_TIMER;
        };
        // The block layer still owns the request: lend it.
        let rq = core::mem::ManuallyDrop::new(Request(raw));
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
        let Some(disk) = NonNull::new(b).map(DiskRef) else {
            return EINVAL.to_errno();
        };
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

impl<T: Operations> Drop for Disk<T> {
    fn drop(&mut self) {
        // SAFETY: our disk (type invariant); removing it waits for I/O and
        // callbacks to finish, after which it is freed.
        unsafe { rvirtio_blk_destroy(self.raw.as_ptr(), self.added) };
    }
}
