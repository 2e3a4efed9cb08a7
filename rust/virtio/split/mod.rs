// SPDX-License-Identifier: GPL-2.0

//! The split virtqueue, driver side.
//!
//! C version: [`drivers/virtio/virtio_ring.c`](srctree/drivers/virtio/virtio_ring.c)
//! (`virtqueue_add_split()`, `virtqueue_get_buf_ctx_split()`, ...).
//!
//! # Trust model
//!
//! The device is not trusted. The driver never reads back anything it
//! wrote to shared memory (descriptors, available ring): it keeps private
//! shadows of the free list, of each chain's links and of each buffer's
//! writable size. The only device-written values it reads are `used.idx`,
//! the used elements, `used.flags` and `avail_event`, and each is checked
//! before use:
//!
//! - `used.idx` may not move past the buffers in flight
//!   ([`RingError::IdxJump`]);
//! - a used `id` must be below the queue size ([`RingError::BadId`]), be
//!   the head of a chain ([`RingError::NotHead`]) that is in flight
//!   ([`RingError::NotInFlight`]);
//! - a used `len` may not exceed the chain's device-writable bytes
//!   ([`RingError::BadLen`], or clamped with [`LenPolicy::Clamp`]);
//! - `used.flags` and `avail_event` only decide whether to notify, which
//!   is always safe to get wrong in either direction.
//!
//! A violation marks the queue broken. No loop runs on a device-supplied
//! count: chain walks use the driver's own recorded lengths.
//!
//! # Memory ordering
//!
//! Five points, each one [`Barriers`](super::platform::Barriers) call:
//!
//! 1. `virt_wmb()` before publishing `avail.idx` ([`SplitQueue::add`]):
//!    descriptors and the ring entry must be visible before the index
//!    exposes them (spec §2.7.13.3.1).
//! 2. `virt_mb()` between publishing `avail.idx` and reading `avail_event`
//!    or `used.flags` ([`SplitQueue::prepare_kick`]): otherwise the load can
//!    pass the store, the device can go idle in between, and a needed
//!    notification is lost (spec §2.7.13.4.1).
//! 3. `virt_rmb()` after reading `used.idx` and before reading the used
//!    elements it covers ([`SplitQueue::get_used`]). Every `used.idx` load
//!    is followed by the barrier, which orders it before every later load,
//!    so the elements it covers can be read by later calls without another
//!    one. `get_used` reads `used.idx` only once the entries its last value
//!    covered are consumed.
//! 4. `virt_mb()` between re-enabling notifications (`avail.flags` or
//!    `used_event` store) and re-reading `used.idx` ([`SplitQueue::poll`],
//!    [`SplitQueue::enable_cb_delayed`]) (spec §2.7.14).
//! 5. `virt_mb()` between moving `used_event` to `last_used` while
//!    notifications are enabled with `VIRTIO_F_EVENT_IDX` and the
//!    `used.idx` load of [`SplitQueue::get_used`] or
//!    [`SplitQueue::more_used`] that follows (`poll` and
//!    `enable_cb_delayed` have their own, point 4). Linux's
//!    `virtqueue_get_buf_ctx_split()` moves the event after every buffer
//!    and issues the barrier right after the store (`virtio_store_mb()`);
//!    the core moves it to `last_used` just before the load and, if the
//!    load shows new entries, to the index it read right after (no barrier:
//!    the next such load has one), so a store and a barrier cost once per
//!    `used.idx` read rather than once per buffer. The device is then asked
//!    for a notification at the first entry the driver does not know of,
//!    which is never later than the entry Linux's per-buffer event asks
//!    for, and the same once the driver has taken every known entry
//!    (`poll` and an `enable_cb_delayed` that finds buffers pending move
//!    it after their load too).

use super::{
    layout::{
        LayoutError,
        SplitLayout,
        DESC_SIZE, //
    },
    platform::{
        AllocError,
        DmaRegion,
        Platform,
        RawRegion, //
    },
    queue::{
        vring_need_event,
        AddError,
        Buf,
        LenPolicy,
        NotifyData,
        QueueConfig,
        QueueOptions,
        RingError,
        Used,
        Virtqueue, //
    },
    spec::{
        VIRTQ_AVAIL_F_NO_INTERRUPT,
        VIRTQ_DESC_F_INDIRECT,
        VIRTQ_DESC_F_NEXT,
        VIRTQ_DESC_F_WRITE,
        VIRTQ_USED_F_NO_NOTIFY, //
    },
    wire::ByteOrder,
};

mod add;
mod check;
mod ring;
mod virtqueue;

use ring::*;

/// Why a [`SplitQueue`] could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateError {
    /// The layout is invalid.
    Layout(LayoutError),
    /// The ring memory is smaller than the layout needs.
    RegionTooSmall,
    /// The ring memory's bus address is not aligned as the layout needs
    /// (16 bytes, or the legacy queue alignment).
    Misaligned,
    /// The platform could not allocate the bookkeeping.
    Alloc,
}

impl From<LayoutError> for CreateError {
    fn from(e: LayoutError) -> Self {
        Self::Layout(e)
    }
}

impl From<AllocError> for CreateError {
    fn from(_: AllocError) -> Self {
        Self::Alloc
    }
}

/// [`Desc::state`] of a descriptor on the free list (no token). It is
/// also the state of the head of a one-descriptor buffer (with a token),
/// so that neither taking a free descriptor for such a buffer nor freeing
/// it again writes the state: the token tells them apart.
const FREE: u16 = 1;
/// [`Desc::state`] of a descriptor inside an in-flight chain, not its head
/// (no token).
const MEMBER: u16 = u16::MAX;
// The state of a descriptor with a token (a head) is the number of
// main-table descriptors of its buffer, at most the queue size: 1 for a
// buffer in an indirect table, or a single direct descriptor.
const _: () = assert!(super::spec::MAX_QUEUE_SIZE < MEMBER);

/// Driver-private state of one descriptor: 8 bytes and the token, so one
/// bounds check covers all a used element needs.
struct Desc<T> {
    /// Shadow of the descriptor's `next`: the free list and chain links.
    next: u16,
    /// With a token (a head): the number of main-table descriptors of its
    /// buffer (1 for an indirect buffer). Without: [`FREE`] or [`MEMBER`].
    state: u16,
    /// For the head of a one-descriptor buffer (`state` 1): its
    /// device-writable bytes plus one, wrapping (0 for `u32::MAX` bytes),
    /// so that one comparison, `len < limit`, accepts a valid used length
    /// on the inline path. 0 for the head of a chain. For the first member
    /// of a chain: the chain's device-writable bytes, capped at
    /// `u32::MAX` (a chain holds at most 2^32 bytes, and a used length is
    /// a `u32`, so the cap changes no comparison with one). Left as it was
    /// when the descriptor is freed: a descriptor that heads nothing has no
    /// token, which the inline path checks next, so a stale limit only
    /// sends it to the out-of-line path.
    limit: u32,
    /// For a head, and only for a head: the buffer's token.
    token: Option<T>,
}

impl<T> Desc<T> {
    /// A free descriptor whose free-list successor is `next`.
    const fn free(next: u16) -> Self {
        Self {
            next,
            state: FREE,
            limit: 0,
            token: None,
        }
    }

    /// `limit` for the head of a one-descriptor buffer of `writable`
    /// device-writable bytes.
    #[inline(always)]
    const fn one_limit(writable: u32) -> u32 {
        writable.wrapping_add(1)
    }

    /// Main-table descriptors of the buffer this descriptor heads, or
    /// `None` if it is no head.
    #[inline(always)]
    fn head_descs(&self) -> Option<u16> {
        self.token.as_ref().map(|_| self.state)
    }
}

/// Largest total size of a descriptor chain (spec §2.7.5.1: "Drivers MUST
/// NOT add a descriptor chain longer than 2^32 bytes in total").
const MAX_CHAIN_BYTES: u64 = 1 << 32;

/// What `get_used_slow()` found: a used buffer's token and length, or an
/// error.
struct Slow<T> {
    token: Option<T>,
    len: u32,
    error: Option<RingError>,
}

impl<T> Slow<T> {
    /// The `get_used()` result this stands for.
    #[inline(always)]
    fn into_result(self) -> Result<Option<Used<T>>, RingError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.token.map(|token| Used {
                token,
                len: self.len,
            })),
        }
    }
}

/// What `refresh_used()` found: one byte, returned in a register.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// `used.idx` shows no new entry.
    Empty,
    /// `used.idx` shows new entries, now known used.
    Found,
    /// An error, in [`SplitQueue::fault`].
    Fault,
}

/// [`SplitQueue::stop`] bit: broken by a violation or `mark_broken()`.
const STOP_BROKEN: u8 = 1;
/// [`SplitQueue::stop`] bit: torn down by `detach_unused()`.
const STOP_DETACHED: u8 = 2;

/// A split virtqueue (driver side).
///
/// `P` provides memory, barriers and storage; `T` is the per-buffer token.
pub struct SplitQueue<P: Platform, T> {
    platform: P,
    ring: RingMem<P::Region>,
    layout: SplitLayout,
    opts: QueueOptions,
    /// Per descriptor: the free list, chain links and in-flight buffers.
    descs: P::Slice<Desc<T>>,
    /// The indirect table each descriptor keeps once it has headed an
    /// indirect buffer, reused by every later indirect buffer it heads
    /// (empty without `VIRTIO_F_INDIRECT_DESC`). Returned to the platform
    /// by `reinit()` and at the end of `detach_unused()`.
    tables: P::Slice<Option<P::IndirectTable>>,
    free_head: u16,
    num_free: u16,
    /// Shadow of `avail.idx` (the next index to publish).
    avail_idx: u16,
    /// Next used index to consume.
    last_used: u16,
    /// Buffers added since the last `prepare_kick()` (64 bits never wrap).
    num_added: u64,
    /// The last `used.idx` read and validated: entries from `last_used`
    /// up to it are known to be used, without reading `used.idx` again.
    /// Equal to `last_used` whenever `stop` is set, so `get_used()` can
    /// take such an entry without checking `stop`.
    used_seen: u16,
    /// Shadow of `avail.flags`; `VIRTQ_AVAIL_F_NO_INTERRUPT` also records
    /// "callbacks disabled" with `VIRTIO_F_EVENT_IDX`.
    avail_flags: u16,
    /// `used_event` is moved around each `used.idx` load of `get_used()`
    /// and `more_used()` (to `last_used` before, to the index read after):
    /// `VIRTIO_F_EVENT_IDX` with callbacks enabled.
    rearm: bool,
    /// [`STOP_BROKEN`] and [`STOP_DETACHED`]; 0 while usable.
    stop: u8,
    /// The error of the last `refresh_used()` that failed.
    fault: RingError,
    detach_cursor: u16,
}

/// The free list of a fresh queue of `n` descriptors: `i` links to `i + 1`.
fn initial_next(i: usize, n: usize) -> u16 {
    // CAST: `i < n <= 32768` (`n` a power of two); the last entry wraps to
    // 0, and its value is never followed because walks are bounded by
    // counts.
    (i.wrapping_add(1) & n.wrapping_sub(1)) as u16
}

impl<P: Platform, T> SplitQueue<P, T> {
    /// Creates a queue in `ring`, laid out as `layout`.
    ///
    /// `ring` must be at least [`SplitLayout::total_size`] bytes, and its
    /// bus address aligned to 16 and to the layout's used ring alignment.
    /// The memory is cleared (the spec requires a zeroed legacy ring and a
    /// zero `used.flags`). `opts.max_indirect` is capped at the queue size.
    ///
    /// The queue must then be programmed into the transport (see
    /// [`Virtqueue::config`]) before `DRIVER_OK`.
    pub fn new(
        mut platform: P,
        ring: P::Region,
        layout: SplitLayout,
        opts: QueueOptions,
    ) -> Result<Self, CreateError> {
        let size = layout.size();
        // CAST: the alignment is a power of two no larger than the region.
        let align = core::cmp::max(super::layout::DESC_ALIGN, layout.used_align()) as u64;
        if ring.len() >= layout.total_size() && ring.dma_addr() & align.wrapping_sub(1) != 0 {
            return Err(CreateError::Misaligned);
        }
        let ring = RingMem::new(ring, &layout, opts.legacy).ok_or(CreateError::RegionTooSmall)?;
        let n = usize::from(size);
        let descs = platform.alloc_slice(n, |i| Desc::free(initial_next(i, n)))?;
        let tables = platform.alloc_slice(if opts.indirect { n } else { 0 }, |_| None)?;
        if descs.len() != n || tables.len() != if opts.indirect { n } else { 0 } {
            return Err(CreateError::Alloc);
        }
        let mut opts = opts;
        opts.max_indirect = core::cmp::min(opts.max_indirect, size);
        let mut q = Self {
            platform,
            ring,
            layout,
            opts,
            descs,
            tables,
            free_head: 0,
            num_free: size,
            avail_idx: opts.start_idx,
            last_used: opts.start_idx,
            num_added: 0,
            used_seen: opts.start_idx,
            avail_flags: 0,
            rearm: opts.event_idx,
            stop: 0,
            fault: RingError::Internal,
            detach_cursor: 0,
        };
        q.init_memory();
        Ok(q)
    }

    /// Clears the ring and writes the initial indices.
    fn init_memory(&mut self) {
        self.ring
            .init(self.layout.total_size(), self.opts.start_idx);
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The layout.
    pub fn layout(&self) -> &SplitLayout {
        &self.layout
    }

    /// The options in effect (`max_indirect` capped at the queue size).
    pub fn options(&self) -> &QueueOptions {
        &self.opts
    }

    /// Buffers in flight.
    pub fn in_flight(&self) -> u16 {
        // Every published buffer is in flight until `get_used()` or
        // `detach_unused()` moves `last_used` past it.
        self.avail_idx.wrapping_sub(self.last_used)
    }

    /// The driver's shadow of `avail.idx`.
    pub fn avail_idx(&self) -> u16 {
        self.avail_idx
    }

    /// The next used index the driver will consume.
    pub fn last_used_idx(&self) -> u16 {
        self.last_used
    }

    #[inline(always)]
    fn check_usable(&self) -> Result<(), RingError> {
        if self.stop == 0 {
            Ok(())
        } else {
            Err(self.stop_error())
        }
    }

    #[cold]
    fn stop_error(&self) -> RingError {
        if self.stop & STOP_BROKEN != 0 {
            RingError::Broken
        } else {
            RingError::Detached
        }
    }

    /// Sets a [`SplitQueue::stop`] bit. Also forgets the used entries
    /// known from the last `used.idx` load: `get_used()` takes those
    /// without checking `stop`.
    #[cold]
    fn stop_with(&mut self, bit: u8) {
        self.stop |= bit;
        self.used_seen = self.last_used;
    }

    /// Marks the queue broken and returns `e`.
    #[cold]
    fn violation(&mut self, e: RingError) -> RingError {
        self.stop_with(STOP_BROKEN);
        e
    }

    /// Marks the queue broken after an internal inconsistency and gives
    /// `token` back.
    #[cold]
    fn internal_add(&mut self, token: T) -> AddError<T> {
        self.stop_with(STOP_BROKEN);
        AddError {
            error: RingError::Internal,
            token,
        }
    }

    /// Reads `used.idx`, checks it against the buffers in flight and
    /// remembers it.
    #[inline(always)]
    fn read_used_idx(&mut self) -> Result<u16, RingError> {
        let used_idx = self.ring.used_idx();
        if used_idx.wrapping_sub(self.last_used) > self.in_flight() {
            return Err(self.idx_jump(used_idx));
        }
        // ORDERING (3): the used elements this index covers, read by this
        // or a later `get_used()`, must not be read before it.
        self.platform.virt_rmb();
        self.used_seen = used_idx;
        Ok(used_idx)
    }

    /// [`Self::read_used_idx`] for `get_used()` and `more_used()`, after
    /// the usability check; moves `used_event` while notifications are on.
    #[inline(always)]
    fn fetch_used_idx(&mut self) -> Result<u16, RingError> {
        self.check_usable()?;
        if !self.rearm {
            return self.read_used_idx();
        }
        // Ask for a notification when the entry at `last_used` is used (it
        // may be already: the load below tells).
        self.ring.set_used_event(self.last_used);
        // ORDERING (5): the new event must be visible to the device before
        // this load; otherwise the device can miss the event and the
        // driver the new entry.
        self.platform.virt_mb();
        let used_idx = self.read_used_idx()?;
        self.event_after_known(used_idx);
        Ok(used_idx)
    }

    /// After a `used.idx` load that showed entries up to `used_idx`, while
    /// `used_event` follows the driver: asks for a notification at the
    /// first entry after them. `get_used()` takes known entries without
    /// moving the event, so this is what makes a driver that takes them
    /// all and stops (no `get_used()` that finds nothing after) hear of the
    /// next one, as Linux's per-buffer event does. No barrier: the next
    /// `used.idx` load of `get_used()` or `more_used()` has one (ORDERING
    /// (5)).
    #[inline(always)]
    fn event_after_known(&mut self, used_idx: u16) {
        if self.rearm && used_idx != self.last_used {
            self.ring.set_used_event(used_idx);
        }
    }

    /// The used element at index `idx` (`id`, `len`), in CPU order.
    #[inline(always)]
    fn read_used_elem(&self, idx: u16) -> (u32, u32) {
        self.ring.used_elem(idx)
    }

    /// Reads `used.idx` once the entries known used are consumed (see
    /// [`Self::fetch_used_idx`]): `true` if it shows new entries.
    #[inline(always)]
    fn refresh(&mut self) -> Result<bool, RingError> {
        Ok(self.fetch_used_idx()? != self.last_used)
    }

    /// [`Self::refresh`], out of line, for [`Virtqueue::get_used`].
    ///
    /// It returns one byte and keeps an error in [`SplitQueue::fault`], so
    /// nothing crosses the call through memory.
    #[cold]
    #[inline(never)]
    fn refresh_used(&mut self) -> Refresh {
        match self.refresh() {
            Ok(false) => Refresh::Empty,
            Ok(true) => Refresh::Found,
            Err(e) => {
                self.fault = e;
                Refresh::Fault
            }
        }
    }

    /// The error of the last [`Refresh::Fault`].
    #[cold]
    fn fault(&self) -> RingError {
        self.fault
    }

    /// The out-of-line part of [`Virtqueue::get_used`] for a used entry the
    /// inline path does not take (a chain, a clamped length, a violation):
    /// [`Self::complete_slow`], with every check.
    ///
    /// It returns a [`Slow`], not `get_used()`'s `Result`: the caller
    /// rebuilds that from the fields, so the inline path's result stays in
    /// registers instead of going through the memory this call writes.
    #[cold]
    #[inline(never)]
    fn get_used_slow(&mut self, id: u32, len: u32) -> Slow<T> {
        match self.complete_slow(id, len) {
            Ok((token, len)) => {
                self.last_used = self.last_used.wrapping_add(1);
                Slow {
                    token: Some(token),
                    len,
                    error: None,
                }
            }
            Err(error) => Slow {
                token: None,
                len: 0,
                error: Some(error),
            },
        }
    }

    /// Takes the next used entry if it is known used (see
    /// [`SplitQueue::used_seen`]) and the inline completion
    /// ([`Self::complete_one`]) takes it; `None` changes nothing.
    #[inline(always)]
    fn take_known(&mut self) -> Option<Used<T>> {
        let last_used = self.last_used;
        // Entries before `used_seen` are known used, and the queue usable
        // (see `used_seen`); the barrier after the `used.idx` load that
        // showed them orders the element load (ORDERING (3)).
        if self.used_seen == last_used {
            return None;
        }
        let (id, len) = self.read_used_elem(last_used);
        let token = self.complete_one(id, len)?;
        self.last_used = last_used.wrapping_add(1);
        Some(Used { token, len })
    }

    /// The out-of-line part of [`Virtqueue::get_used_then`]: reads and
    /// checks `used.idx` once the entries known used are consumed (with
    /// [`Self::refresh`] inline), takes the next entry as the inline path
    /// does, and hands the result to `f`.
    ///
    /// Apart from error paths, its only call is the tail call of
    /// [`Self::get_used_slow_then`], so it keeps nothing across a call
    /// and needs no stack frame; `get_used_then()` reaches it by a tail
    /// call too, so a caller whose continuation needs registers (the C
    /// benchmark's `lenp` and `bufp`) saves none on the inline path.
    #[cold]
    #[inline(never)]
    fn get_used_cold<R>(&mut self, f: impl FnOnce(Result<Option<Used<T>>, RingError>) -> R) -> R {
        if self.used_seen == self.last_used {
            match self.refresh() {
                Ok(true) => {}
                Ok(false) => return f(Ok(None)),
                Err(e) => return f(Err(e)),
            }
        }
        // Now known used: `used_seen` was just moved past `last_used`, or
        // the inline path gave up on this entry, changing nothing (it is
        // read and checked again).
        match self.take_known() {
            Some(u) => f(Ok(Some(u))),
            None => self.get_used_slow_then(f),
        }
    }

    /// [`Self::get_used_slow`] for [`Virtqueue::get_used_then`]: the next
    /// entry, known used, that the inline completion does not take.
    #[cold]
    #[inline(never)]
    fn get_used_slow_then<R>(
        &mut self,
        f: impl FnOnce(Result<Option<Used<T>>, RingError>) -> R,
    ) -> R {
        let (id, len) = self.read_used_elem(self.last_used);
        f(self.get_used_slow(id, len).into_result())
    }

    #[cold]
    fn idx_jump(&mut self, used_idx: u16) -> RingError {
        let e = RingError::IdxJump {
            used_idx,
            last_used: self.last_used,
            in_flight: self.in_flight(),
        };
        self.violation(e)
    }

    /// The inline part of [`Self::complete`] for [`Virtqueue::get_used`]:
    /// the valid completion of a buffer that takes one main-table descriptor
    /// (direct, or in an indirect table, which stays with it), or `None`
    /// (nothing changed) for anything else.
    #[inline(always)]
    fn complete_one(&mut self, id: u32, len: u32) -> Option<T> {
        let free_head = self.free_head;
        // CAST: lossless, `usize` has at least 32 bits on every CPU Linux
        // supports (a wider `id` fails the range check of `get_mut`).
        let d = self.descs.get_mut(id as usize)?;
        // A one-descriptor head with a valid length, or a descriptor with
        // no token (see `Desc::limit`).
        if len >= d.limit {
            return None;
        }
        let token = d.token.take()?;
        // `d.state` stays `FREE` (1): free without its token.
        d.next = free_head;
        // CAST: `id < descs.len() <= 32768`.
        self.free_head = id as u16;
        self.num_free = self.num_free.wrapping_add(1);
        Some(token)
    }

    /// Completes a used element that [`Self::complete_one`] did not take:
    /// every check, chains, clamped lengths.
    #[inline(never)]
    fn complete_slow(&mut self, id: u32, len: u32) -> Result<(T, u32), RingError> {
        let i = match u16::try_from(id) {
            Ok(i) if i <= self.ring.mask() => i,
            _ => return Err(self.violation(RingError::BadId { id })),
        };
        let (descs, state, limit, first) = match self.descs.get(usize::from(i)) {
            Some(d) => (d.head_descs(), d.state, d.limit, d.next),
            None => return Err(self.violation(RingError::Internal)),
        };
        let writable = match descs {
            None if state == MEMBER => return Err(self.violation(RingError::NotHead { id })),
            None => return Err(self.violation(RingError::NotInFlight { id })),
            Some(1) => limit.wrapping_sub(1),
            Some(_) => match self.descs.get(usize::from(first)) {
                Some(m) => m.limit,
                None => return Err(self.violation(RingError::Internal)),
            },
        };
        let len = if len <= writable {
            len
        } else {
            match self.opts.len_policy {
                LenPolicy::Clamp => writable,
                LenPolicy::Reject => {
                    return Err(self.violation(RingError::BadLen {
                        id,
                        len,
                        max: writable,
                    }))
                }
            }
        };
        Ok((self.release(i)?, len))
    }

    /// Returns the buffer headed by `head` to the free list and gives back
    /// its token.
    fn release(&mut self, head: u16) -> Result<T, RingError> {
        let free_head = self.free_head;
        let Some(d) = self.descs.get_mut(usize::from(head)) else {
            return Err(self.violation(RingError::Internal));
        };
        let (Some(descs), Some(token)) = (d.head_descs(), d.token.take()) else {
            return Err(self.violation(RingError::Internal));
        };
        d.state = FREE;
        if descs == 1 {
            d.next = free_head;
        } else {
            let first = d.next;
            self.free_members(first, descs.wrapping_sub(1), free_head)?;
        }
        self.free_head = head;
        self.num_free = self.num_free.wrapping_add(descs);
        Ok(token)
    }

    /// Frees the `count` members of a chain from `first` on, walking the
    /// driver's own links, and links the last one to `free_head`.
    fn free_members(&mut self, first: u16, count: u16, free_head: u16) -> Result<(), RingError> {
        let mut cur = first;
        for k in 1..=count {
            let Some(m) = self.descs.get_mut(usize::from(cur)) else {
                return Err(self.violation(RingError::Internal));
            };
            m.state = FREE;
            if k == count {
                m.next = free_head;
            } else {
                cur = m.next;
            }
        }
        Ok(())
    }

    /// Gives every indirect table back to the platform (the device no
    /// longer owns any: reset, or nothing in flight).
    fn free_tables(&mut self) {
        for t in self.tables.iter_mut() {
            if let Some(t) = t.take() {
                self.platform.free_indirect(t);
            }
        }
    }

    /// Sets the callback state: `avail.flags` shadow, and whether
    /// `get_used()` keeps `used_event` at `last_used`.
    fn set_cb(&mut self, enabled: bool) {
        if enabled {
            self.avail_flags &= !VIRTQ_AVAIL_F_NO_INTERRUPT;
        } else {
            self.avail_flags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
        }
        self.rearm = enabled && self.opts.event_idx;
        if !self.opts.event_idx {
            self.ring.set_avail_flags(self.avail_flags);
        }
    }
}
