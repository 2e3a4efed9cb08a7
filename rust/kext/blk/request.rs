// SPDX-License-Identifier: GPL-2.0

//! The requests blk-mq hands the driver: [`Request`], its [`Bios`], the
//! [`RequestList`] of a batch, and the [`Elements`] a request maps into.

use super::*;

/// `REQ_OP_MASK`: the operation's bits of `cmd_flags`.
const REQ_OP_MASK: u32 = (1 << bindings::REQ_OP_BITS) - 1;

/// A block request owned by the driver between `queue_rq` and its end.
///
/// # Invariants
///
/// `0` is a started request of a disk made by [`Disk::new`], not yet ended.
pub struct Request(pub(super) NonNull<bindings::request>);

// SAFETY: a request may be completed from any context; ownership moves with
// the value (it is not `Clone`).
unsafe impl Send for Request {}

impl Request {
    #[inline(always)]
    pub(super) fn raw(&self) -> *mut bindings::request {
        self.0.as_ptr()
    }

    /// The operation (a driver-private read is [`Op::DrvIn`], from
    /// [`DiskRef::drv_in`]). Read in Rust, as `req_op()` does: these
    /// accessors run for every request, and a call of a C helper costs
    /// more than the load.
    #[inline]
    pub fn op(&self) -> Op {
        // SAFETY: a live request (type invariant); the block layer does not
        // change `cmd_flags` while the driver owns the request.
        let flags = unsafe { (*self.raw()).cmd_flags };
        match flags & REQ_OP_MASK {
            bindings::req_op_REQ_OP_READ => Op::Read,
            bindings::req_op_REQ_OP_WRITE => Op::Write,
            bindings::req_op_REQ_OP_FLUSH => Op::Flush,
            bindings::req_op_REQ_OP_DISCARD => Op::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            bindings::req_op_REQ_OP_DRV_IN => Op::DrvIn,
            other => Op::Other(other),
        }
    }

    /// The first 512-byte sector (`blk_rq_pos()`).
    #[inline]
    pub fn pos(&self) -> u64 {
        // SAFETY: a live request, whose position does not change while the
        // driver owns it.
        unsafe { (*self.raw()).__sector }
    }

    /// The size in bytes (`blk_rq_bytes()`).
    #[inline]
    pub fn bytes(&self) -> u32 {
        // SAFETY: a live request, whose size does not change while the
        // driver owns it.
        unsafe { (*self.raw()).__data_len }
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
    #[inline]
    pub fn wire_mut(&mut self) -> &mut RequestWire {
        // The per-request data follows the request (`blk_mq_rq_to_pdu()` is
        // `rq + 1`; `check_abi` compares the size of `struct request` with
        // C's).
        // SAFETY: a live request of our disk (type invariant), allocated by
        // blk-mq with its per-request data right after it, so one past the
        // request is inside that allocation.
        let p = unsafe { self.raw().add(1) }.cast::<RequestWire>();
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
    #[inline]
    pub fn end(self, status: Status) {
        // SAFETY: a live request; ending gives it back to the block layer.
        // `Status` holds `blk_status_t` values (checked by `check_abi`).
        unsafe { bindings::blk_mq_end_request(self.raw(), status as bindings::blk_status_t) };
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
    pub(super) rqs: NonNull<RawRqList>,
    pub(super) back: NonNull<RawRqList>,
    pub(super) _call: PhantomData<&'a mut RawRqList>,
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

/// Room for the elements of one mapped request (header, up to `N - 2` data
/// segments, status), for [`DiskRef::map`]. Not initialised: mapping writes
/// the elements it uses, so a request costs no clearing of the whole array.
pub struct Elements<const N: usize> {
    pub(super) addrs: [MaybeUninit<u64>; N],
    pub(super) lens: [MaybeUninit<u32>; N],
    pub(super) bufs: [MaybeUninit<Buf>; N],
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
