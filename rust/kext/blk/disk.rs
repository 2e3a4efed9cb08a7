// SPDX-License-Identifier: GPL-2.0

//! The disk: [`Disk`] (creation, registration, removal, the callbacks the
//! shim calls) and [`DiskRef`], what a callback gets.

use super::*;

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
    /// [`Request::wire_mut`] holds, and starts it (`blk_mq_start_request`):
    /// returns the device-readable elements (header, data of a write) and
    /// the device-writable ones (data of a read, status). On failure the
    /// request is neither mapped nor started.
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
        // A negative errno on failure (inline: `to_result` is a call).
        let Ok(n) = usize::try_from(n) else {
            return Err(Error::from_errno(n));
        };
        // CAST: a `u32` fits `usize`.
        let n_out = n_out as usize;
        if n > N || n_out > n {
            // Not reached: the helper writes at most `max` elements and
            // counts the readable ones among them. (Were it, the request
            // would go back started, which blk-mq accepts.)
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
    /// a request the driver completed, which the shim unmapped: the device
    /// said it wrote `used_len` bytes of the `in_len` it could write.
    unsafe extern "C" fn complete_cb(
        drv: *mut kernel::ffi::c_void,
        b: *mut RawDisk,
        rq: *mut bindings::request,
        used_len: u32,
        in_len: u32,
    ) {
        // SAFETY: called by the shim with our `drv`.
        let ops = unsafe { Self::ops_of(drv) };
        // SAFETY: the shim passes its disk, alive during the callback, and
        // the live request the driver completed (it owns it again).
        if let Some((disk, mut rq)) = unsafe { Self::args(b, rq) } {
            // Unmapped: the device can no longer change the status byte.
            let answer = Answer {
                status: rq.wire_mut().status,
                used_len,
                in_len,
            };
            ops.complete(disk, rq, answer);
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
