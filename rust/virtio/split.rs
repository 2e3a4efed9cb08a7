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
//!    element it covers ([`SplitQueue::get_used`]).
//! 4. `virt_mb()` between re-enabling notifications (`avail.flags` or
//!    `used_event` store) and re-reading `used.idx` ([`SplitQueue::poll`],
//!    [`SplitQueue::enable_cb_delayed`]) (spec §2.7.14).
//! 5. `virt_mb()` after moving `used_event` forward in
//!    [`SplitQueue::get_used`] while notifications are enabled with
//!    `VIRTIO_F_EVENT_IDX`, so the store is visible before the next
//!    `used.idx` load (Linux's `virtio_store_mb()` in
//!    `virtqueue_get_buf_ctx_split()`).

use super::{
    layout::{
        LayoutError,
        SplitLayout,
        DESC_SIZE, //
    },
    platform::{
        AllocError,
        DmaRegion,
        Platform, //
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

/// Driver-private state of one descriptor.
enum Slot<T, I> {
    /// On the free list.
    Free,
    /// Part of an in-flight chain, not its head.
    Member,
    /// Head of an in-flight chain.
    Head(Head<T, I>),
}

/// What the driver remembers about an in-flight buffer.
struct Head<T, I> {
    token: T,
    /// Descriptors of the main table the chain occupies (1 if indirect).
    descs: u16,
    /// Device-writable bytes (at most 2^32).
    writable: u64,
    /// The indirect table, if any.
    indirect: Option<I>,
}

/// Position while writing a direct chain.
struct ChainCursor {
    /// Descriptor to write next.
    idx: u16,
    /// Descriptors written so far.
    k: u16,
}

/// Largest total size of a descriptor chain (spec §2.7.5.1: "Drivers MUST
/// NOT add a descriptor chain longer than 2^32 bytes in total").
const MAX_CHAIN_BYTES: u64 = 1 << 32;

/// A split virtqueue (driver side).
///
/// `P` provides memory, barriers and storage; `T` is the per-buffer token.
pub struct SplitQueue<P: Platform, T> {
    platform: P,
    ring: P::Region,
    layout: SplitLayout,
    opts: QueueOptions,
    mask: u16,
    /// Shadow of each descriptor's `next`: the free list and chain links.
    next: P::Slice<u16>,
    slots: P::Slice<Slot<T, P::IndirectTable>>,
    free_head: u16,
    num_free: u16,
    /// Shadow of `avail.idx` (the next index to publish).
    avail_idx: u16,
    /// Next used index to consume.
    last_used: u16,
    /// Buffers added since the last `prepare_kick()`.
    num_added: u32,
    /// Buffers in flight (exposed and not yet used or detached).
    in_flight: u16,
    /// Shadow of `avail.flags`; `VIRTQ_AVAIL_F_NO_INTERRUPT` also records
    /// "callbacks disabled" with `VIRTIO_F_EVENT_IDX`.
    avail_flags: u16,
    broken: bool,
    detached: bool,
    detach_cursor: u16,
}

/// Converts between CPU order and the ring's byte order.
///
/// The ring is little-endian (modern) or guest-native (legacy), see
/// [`ByteOrder::for_interface`]. Bytes only need swapping for a modern
/// ring on a big-endian CPU. `cfg!` decides the CPU side at compile time,
/// so on little-endian CPUs every conversion compiles to nothing.
#[derive(Clone, Copy)]
struct Swap(bool);

impl Swap {
    #[inline(always)]
    fn new(legacy: bool) -> Self {
        Self(ByteOrder::for_interface(legacy) != ByteOrder::NATIVE)
    }

    #[inline(always)]
    fn on(self) -> bool {
        cfg!(target_endian = "big") && self.0
    }

    #[inline(always)]
    fn u16(self, v: u16) -> u16 {
        if self.on() {
            v.swap_bytes()
        } else {
            v
        }
    }

    #[inline(always)]
    fn u32(self, v: u32) -> u32 {
        if self.on() {
            v.swap_bytes()
        } else {
            v
        }
    }

    #[inline(always)]
    fn u64(self, v: u64) -> u64 {
        if self.on() {
            v.swap_bytes()
        } else {
            v
        }
    }
}

/// Writes one descriptor at byte offset `off` of `mem`.
#[inline(always)]
fn write_desc<R: DmaRegion>(mem: &R, swap: Swap, off: usize, buf: &Buf, flags: u16, next: u16) {
    mem.write_desc(
        off,
        swap.u64(buf.addr),
        swap.u32(buf.len),
        swap.u16(flags),
        swap.u16(next),
    );
}

/// Zeroes bytes `0..len` of `mem` (`len` even, as every ring size is).
fn zero_region<R: DmaRegion>(mem: &R, len: usize) {
    let mut off = 0usize;
    while off.saturating_add(4) <= len {
        mem.write_u32(off, 0);
        off = off.wrapping_add(4);
    }
    if off.saturating_add(2) <= len {
        mem.write_u16(off, 0);
    }
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
        if ring.len() < layout.total_size() {
            return Err(CreateError::RegionTooSmall);
        }
        // CAST: the alignment is a power of two no larger than the region.
        let align = core::cmp::max(super::layout::DESC_ALIGN, layout.used_align()) as u64;
        if ring.dma_addr() & align.wrapping_sub(1) != 0 {
            return Err(CreateError::Misaligned);
        }
        let n = usize::from(size);
        let next = platform.alloc_slice(n, |i| {
            // CAST: `i < n <= 32768` (`n` a power of two); the last entry
            // wraps to 0, and its value is never followed because walks
            // are bounded by counts.
            (i.wrapping_add(1) & n.wrapping_sub(1)) as u16
        })?;
        let slots = platform.alloc_slice(n, |_| Slot::Free)?;
        if next.len() != n || slots.len() != n {
            return Err(CreateError::Alloc);
        }
        let mut opts = opts;
        opts.max_indirect = core::cmp::min(opts.max_indirect, size);
        let mut q = Self {
            platform,
            ring,
            layout,
            opts,
            mask: size.wrapping_sub(1),
            next,
            slots,
            free_head: 0,
            num_free: size,
            avail_idx: opts.start_idx,
            last_used: opts.start_idx,
            num_added: 0,
            in_flight: 0,
            avail_flags: 0,
            broken: false,
            detached: false,
            detach_cursor: 0,
        };
        q.init_memory();
        Ok(q)
    }

    /// Clears the ring and writes the initial indices.
    fn init_memory(&mut self) {
        zero_region(&self.ring, self.layout.total_size());
        let start = self.swap().u16(self.opts.start_idx);
        if self.opts.start_idx != 0 {
            // The device owns `used.idx` once the queue is live; before
            // that the driver sets up the whole ring (spec §2.7.8.2 makes
            // the driver initialise the used ring's flags too).
            self.ring.write_u16(self.layout.avail_idx(), start);
            self.ring.write_u16(self.layout.used_idx(), start);
            self.ring.write_u16(self.layout.used_event(), start);
            self.ring.write_u16(self.layout.avail_event(), start);
        }
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
        self.in_flight
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
    fn swap(&self) -> Swap {
        Swap::new(self.opts.legacy)
    }

    #[inline(always)]
    fn check_usable(&self) -> Result<(), RingError> {
        if !(self.broken | self.detached) {
            Ok(())
        } else if self.broken {
            Err(RingError::Broken)
        } else {
            Err(RingError::Detached)
        }
    }

    /// Marks the queue broken and returns `e`.
    fn violation(&mut self, e: RingError) -> RingError {
        self.broken = true;
        e
    }

    #[inline(always)]
    fn read16(&self, off: usize) -> u16 {
        self.swap().u16(self.ring.read_u16(off))
    }

    #[inline(always)]
    fn write16(&self, off: usize, v: u16) {
        self.ring.write_u16(off, self.swap().u16(v));
    }

    #[inline(always)]
    fn next_of(&self, i: u16) -> Result<u16, RingError> {
        self.next
            .get(usize::from(i))
            .copied()
            .ok_or(RingError::Internal)
    }

    fn set_slot(&mut self, i: u16, s: Slot<T, P::IndirectTable>) -> Result<(), RingError> {
        match self.slots.get_mut(usize::from(i)) {
            Some(slot) => {
                *slot = s;
                Ok(())
            }
            None => Err(RingError::Internal),
        }
    }

    /// Reads `used.idx` and checks it against the buffers in flight.
    fn read_used_idx(&mut self) -> Result<u16, RingError> {
        let used_idx = self.read16(self.layout.used_idx());
        if used_idx.wrapping_sub(self.last_used) > self.in_flight {
            let e = RingError::IdxJump {
                used_idx,
                last_used: self.last_used,
                in_flight: self.in_flight,
            };
            return Err(self.violation(e));
        }
        Ok(used_idx)
    }

    /// Adds the entry for `head` to the available ring and publishes it.
    #[inline(always)]
    fn publish(&mut self, head: u16) {
        let slot = self.avail_idx & self.mask;
        self.write16(self.layout.avail_ring(slot), head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        // ORDERING (1): the descriptors and the ring entry must be visible
        // to the device before the new index exposes them.
        self.platform.virt_wmb();
        self.write16(self.layout.avail_idx(), self.avail_idx);
        self.num_added = self.num_added.saturating_add(1);
        // Cannot exceed the queue size: each buffer in flight holds at
        // least one descriptor.
        self.in_flight = self.in_flight.wrapping_add(1);
    }

    /// Writes `segs` as the next descriptors of a direct chain of `n`,
    /// following the free list from `cur`.
    #[inline(always)]
    fn write_direct(
        &mut self,
        segs: &[Buf],
        wflag: u16,
        n: u16,
        head: u16,
        cur: &mut ChainCursor,
    ) -> Result<(), RingError> {
        for buf in segs {
            let next = self.next_of(cur.idx)?;
            cur.k = cur.k.wrapping_add(1);
            let (flags, link) = if cur.k == n {
                (wflag, 0)
            } else {
                (wflag | VIRTQ_DESC_F_NEXT, next)
            };
            write_desc(
                &self.ring,
                self.swap(),
                self.layout.desc(cur.idx),
                buf,
                flags,
                link,
            );
            if cur.idx != head {
                self.set_slot(cur.idx, Slot::Member)?;
            }
            cur.idx = next;
        }
        Ok(())
    }

    fn add_direct(
        &mut self,
        out: &[Buf],
        inb: &[Buf],
        n: u16,
        writable: u64,
        token: T,
    ) -> Result<(), AddError<T>> {
        let head = self.free_head;
        let mut cur = ChainCursor { idx: head, k: 0 };
        let r = self
            .write_direct(out, 0, n, head, &mut cur)
            .and_then(|()| self.write_direct(inb, VIRTQ_DESC_F_WRITE, n, head, &mut cur));
        if let Err(error) = r {
            self.broken = true;
            return Err(AddError { error, token });
        }
        let idx = cur.idx;
        // `idx` is now the shadow `next` of the chain's last descriptor:
        // the rest of the free list.
        self.free_head = idx;
        self.num_free = self.num_free.wrapping_sub(n);
        match self.slots.get_mut(usize::from(head)) {
            Some(slot) => {
                *slot = Slot::Head(Head {
                    token,
                    descs: n,
                    writable,
                    indirect: None,
                });
            }
            None => {
                self.broken = true;
                return Err(AddError {
                    error: RingError::Internal,
                    token,
                });
            }
        }
        self.publish(head);
        Ok(())
    }

    fn add_indirect(
        &mut self,
        out: &[Buf],
        inb: &[Buf],
        n: u16,
        writable: u64,
        table: P::IndirectTable,
        token: T,
    ) -> Result<(), AddError<T>> {
        let mut k: u16 = 0;
        for (segs, wflag) in [(out, 0u16), (inb, VIRTQ_DESC_F_WRITE)] {
            for buf in segs {
                let i = k;
                k = k.wrapping_add(1);
                let (flags, link) = if k == n {
                    (wflag, 0)
                } else {
                    (wflag | VIRTQ_DESC_F_NEXT, k)
                };
                write_desc(
                    &table,
                    self.swap(),
                    usize::from(i).wrapping_mul(DESC_SIZE),
                    buf,
                    flags,
                    link,
                );
            }
        }
        let head = self.free_head;
        let next = match self.next_of(head) {
            Ok(v) => v,
            Err(error) => {
                self.platform.free_indirect(table);
                self.broken = true;
                return Err(AddError { error, token });
            }
        };
        // CAST: `n <= 32768`, so `n * 16 <= 2^19` fits a `u32`.
        let table_len = u32::from(n).wrapping_mul(DESC_SIZE as u32);
        let desc = Buf::new(table.dma_addr(), table_len);
        write_desc(
            &self.ring,
            self.swap(),
            self.layout.desc(head),
            &desc,
            VIRTQ_DESC_F_INDIRECT,
            0,
        );
        self.free_head = next;
        self.num_free = self.num_free.wrapping_sub(1);
        match self.slots.get_mut(usize::from(head)) {
            Some(slot) => {
                *slot = Slot::Head(Head {
                    token,
                    descs: 1,
                    writable,
                    indirect: Some(table),
                });
            }
            None => {
                self.platform.free_indirect(table);
                self.broken = true;
                return Err(AddError {
                    error: RingError::Internal,
                    token,
                });
            }
        }
        self.publish(head);
        Ok(())
    }

    /// Validates a used element and takes back its buffer.
    fn complete(&mut self, id: u32, len: u32) -> Result<(T, u32), RingError> {
        let i = match u16::try_from(id) {
            Ok(i) if i <= self.mask => i,
            _ => return Err(self.violation(RingError::BadId { id })),
        };
        let len = match self.slots.get(usize::from(i)) {
            Some(Slot::Head(h)) => {
                if u64::from(len) <= h.writable {
                    len
                } else {
                    match self.opts.len_policy {
                        // CAST: `writable < len <= u32::MAX` here.
                        LenPolicy::Clamp => h.writable as u32,
                        LenPolicy::Reject => {
                            let max = u32::try_from(h.writable).unwrap_or(u32::MAX);
                            return Err(self.violation(RingError::BadLen { id, len, max }));
                        }
                    }
                }
            }
            Some(Slot::Member) => return Err(self.violation(RingError::NotHead { id })),
            Some(Slot::Free) => return Err(self.violation(RingError::NotInFlight { id })),
            None => return Err(self.violation(RingError::Internal)),
        };
        let token = self.free_chain(i)?;
        Ok((token, len))
    }

    /// Returns the chain headed by `head` (a `Slot::Head`) to the free
    /// list and gives back its token.
    fn free_chain(&mut self, head: u16) -> Result<T, RingError> {
        let slot = match self.slots.get_mut(usize::from(head)) {
            Some(s) => core::mem::replace(s, Slot::Free),
            None => return Err(self.violation(RingError::Internal)),
        };
        let h = match slot {
            Slot::Head(h) => h,
            other => {
                // Put back what was there; callers only pass heads.
                let _ = self.set_slot(head, other);
                return Err(self.violation(RingError::Internal));
            }
        };
        // Walk the chain with the driver's own links and length.
        let mut last = head;
        let mut steps = h.descs.wrapping_sub(1);
        while steps > 0 {
            steps = steps.wrapping_sub(1);
            last = match self.next_of(last) {
                Ok(v) => v,
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            };
            if self.set_slot(last, Slot::Free).is_err() {
                self.broken = true;
                return Err(RingError::Internal);
            }
        }
        match self.next.get_mut(usize::from(last)) {
            Some(n) => *n = self.free_head,
            None => {
                self.broken = true;
                return Err(RingError::Internal);
            }
        }
        self.free_head = head;
        self.num_free = self.num_free.wrapping_add(h.descs);
        self.in_flight = self.in_flight.wrapping_sub(1);
        if let Some(t) = h.indirect {
            self.platform.free_indirect(t);
        }
        Ok(h.token)
    }

    /// Checks the driver bookkeeping for consistency (O(size)): the free
    /// list holds exactly the free descriptors, every in-flight chain has
    /// the recorded number of member descriptors, and free plus used
    /// descriptors add up to the queue size. For tests, fuzzing and
    /// debug assertions.
    pub fn check_invariants(&self) -> bool {
        let size = usize::from(self.layout.size());
        let mut free = 0usize;
        let mut heads = 0usize;
        let mut members = 0usize;
        let mut chain_members = 0usize;
        for i in 0..size {
            match self.slots.get(i) {
                // Counters are bounded by `size`: no wrap.
                Some(Slot::Free) => free = free.wrapping_add(1),
                Some(Slot::Member) => members = members.wrapping_add(1),
                Some(Slot::Head(h)) => {
                    heads = heads.wrapping_add(1);
                    chain_members =
                        chain_members.wrapping_add(usize::from(h.descs.wrapping_sub(1)));
                    // Every link of the chain must be a member.
                    let mut cur = match u16::try_from(i) {
                        Ok(c) => c,
                        Err(_) => return false,
                    };
                    for _ in 1..h.descs {
                        cur = match self.next.get(usize::from(cur)) {
                            Some(n) => *n,
                            None => return false,
                        };
                        if !matches!(self.slots.get(usize::from(cur)), Some(Slot::Member)) {
                            return false;
                        }
                    }
                    if h.indirect.is_some() && h.descs != 1 {
                        return false;
                    }
                }
                None => return false,
            }
        }
        if free != usize::from(self.num_free) || members != chain_members {
            return false;
        }
        if free.wrapping_add(members).wrapping_add(heads) != size
            || heads != usize::from(self.in_flight)
        {
            return false;
        }
        // The free list reaches `num_free` free descriptors.
        let mut cur = self.free_head;
        for _ in 0..self.num_free {
            if !matches!(self.slots.get(usize::from(cur)), Some(Slot::Free)) {
                return false;
            }
            cur = match self.next.get(usize::from(cur)) {
                Some(n) => *n,
                None => return false,
            };
        }
        // Outside teardown, buffers in flight are exactly the published
        // and not yet consumed ones.
        self.detached || self.avail_idx.wrapping_sub(self.last_used) == self.in_flight
    }
}

impl<P: Platform, T> Virtqueue for SplitQueue<P, T> {
    type Token = T;

    fn size(&self) -> u16 {
        self.layout.size()
    }

    fn num_free(&self) -> u16 {
        self.num_free
    }

    fn add(&mut self, out: &[Buf], inb: &[Buf], token: T) -> Result<(), AddError<T>> {
        if let Err(error) = self.check_usable() {
            return Err(AddError { error, token });
        }
        let total = out.len().saturating_add(inb.len());
        if total == 0 {
            return Err(AddError {
                error: RingError::EmptyChain,
                token,
            });
        }
        let n = match u16::try_from(total) {
            Ok(n) if n <= self.layout.size() => n,
            _ => {
                return Err(AddError {
                    error: RingError::ChainTooLong,
                    token,
                })
            }
        };
        // At most 32768 elements of at most 2^32 - 1 bytes: no overflow.
        let readable: u64 = out
            .iter()
            .fold(0u64, |a, b| a.saturating_add(u64::from(b.len)));
        let writable: u64 = inb
            .iter()
            .fold(0u64, |a, b| a.saturating_add(u64::from(b.len)));
        if readable.saturating_add(writable) > MAX_CHAIN_BYTES {
            return Err(AddError {
                error: RingError::ChainTooLarge,
                token,
            });
        }
        if self.num_free == 0 {
            return Err(AddError {
                error: RingError::NoSpace,
                token,
            });
        }
        // Like Linux: go indirect for any multi-element buffer when
        // negotiated, fall back to direct descriptors if no table.
        if self.opts.indirect && n > 1 && n <= self.opts.max_indirect {
            if let Some(table) = self.platform.alloc_indirect(n) {
                if table.len() >= usize::from(n).wrapping_mul(DESC_SIZE)
                    && table.dma_addr() & 0xf == 0
                {
                    return self.add_indirect(out, inb, n, writable, table, token);
                }
                self.platform.free_indirect(table);
            }
        }
        if self.num_free < n {
            return Err(AddError {
                error: RingError::NoSpace,
                token,
            });
        }
        self.add_direct(out, inb, n, writable, token)
    }

    fn prepare_kick(&mut self) -> Result<bool, RingError> {
        self.check_usable()?;
        // ORDERING (2): publish `avail.idx` before reading the device's
        // suppression state, or a notification can be lost.
        self.platform.virt_mb();
        let new = self.avail_idx;
        let added = self.num_added;
        self.num_added = 0;
        if added > u32::from(u16::MAX) {
            // The 16-bit window cannot represent this many; notifying
            // gratuitously is always allowed (spec §2.7.13.4).
            return Ok(true);
        }
        // CAST: `added <= u16::MAX` checked above.
        let old = new.wrapping_sub(added as u16);
        if self.opts.event_idx {
            let event = self.read16(self.layout.avail_event());
            Ok(vring_need_event(event, new, old))
        } else {
            Ok(self.read16(self.layout.used_flags()) & VIRTQ_USED_F_NO_NOTIFY == 0)
        }
    }

    fn notification_data(&self) -> NotifyData {
        NotifyData {
            next_off: self.avail_idx & 0x7fff,
            next_wrap: self.avail_idx & 0x8000 != 0,
        }
    }

    fn more_used(&mut self) -> Result<bool, RingError> {
        self.check_usable()?;
        Ok(self.read_used_idx()? != self.last_used)
    }

    fn get_used(&mut self) -> Result<Option<Used<T>>, RingError> {
        self.check_usable()?;
        let used_idx = self.read_used_idx()?;
        if used_idx == self.last_used {
            return Ok(None);
        }
        // ORDERING (3): the used element must not be read before the index
        // that covers it.
        self.platform.virt_rmb();
        let slot = self.last_used & self.mask;
        let id = self
            .swap()
            .u32(self.ring.read_u32(self.layout.used_elem_id(slot)));
        let len = self
            .swap()
            .u32(self.ring.read_u32(self.layout.used_elem_len(slot)));
        let (token, len) = self.complete(id, len)?;
        self.last_used = self.last_used.wrapping_add(1);
        if self.opts.event_idx && self.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT == 0 {
            // Ask for a notification for the next entry.
            self.write16(self.layout.used_event(), self.last_used);
            // ORDERING (5): make `used_event` visible before the next
            // `used.idx` load.
            self.platform.virt_mb();
        }
        Ok(Some(Used { token, len }))
    }

    fn disable_cb(&mut self) {
        if self.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT != 0 {
            return;
        }
        self.avail_flags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
        if self.opts.event_idx {
            // `avail.flags` must stay 0 with EVENT_IDX (spec §2.7.7.1). Move
            // the event as far away as possible: the device only notifies
            // once `used.idx` crosses it, 2^16 - 1 buffers from now.
            self.write16(self.layout.used_event(), self.last_used.wrapping_sub(1));
        } else {
            self.write16(self.layout.avail_flags(), self.avail_flags);
        }
    }

    fn enable_cb_prepare(&mut self) -> Result<u32, RingError> {
        self.check_usable()?;
        if self.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT != 0 {
            self.avail_flags &= !VIRTQ_AVAIL_F_NO_INTERRUPT;
            if !self.opts.event_idx {
                self.write16(self.layout.avail_flags(), self.avail_flags);
            }
        }
        if self.opts.event_idx {
            self.write16(self.layout.used_event(), self.last_used);
        }
        Ok(u32::from(self.last_used))
    }

    fn poll(&mut self, opaque: u32) -> Result<bool, RingError> {
        self.check_usable()?;
        // ORDERING (4): the re-enable store must be visible before reading
        // `used.idx`, or a buffer used in between raises no notification
        // and is not seen here either.
        self.platform.virt_mb();
        let used_idx = self.read_used_idx()?;
        // CAST: the opaque value is a `u16` index widened by
        // `enable_cb_prepare()`.
        Ok(used_idx != opaque as u16)
    }

    fn enable_cb_delayed(&mut self) -> Result<bool, RingError> {
        self.check_usable()?;
        if self.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT != 0 {
            self.avail_flags &= !VIRTQ_AVAIL_F_NO_INTERRUPT;
            if !self.opts.event_idx {
                self.write16(self.layout.avail_flags(), self.avail_flags);
            }
        }
        let bufs = if self.opts.event_idx {
            // 3/4 of the buffers in flight, as Linux does.
            let pending = u32::from(self.avail_idx.wrapping_sub(self.last_used));
            // CAST: `pending * 3 / 4 < pending <= u16::MAX`.
            let bufs = (pending.wrapping_mul(3) / 4) as u16;
            self.write16(self.layout.used_event(), self.last_used.wrapping_add(bufs));
            bufs
        } else {
            0
        };
        // ORDERING (4): as in `poll()`.
        self.platform.virt_mb();
        let used_idx = self.read_used_idx()?;
        Ok(used_idx.wrapping_sub(self.last_used) <= bufs)
    }

    fn detach_unused(&mut self) -> Option<T> {
        self.detached = true;
        while self.detach_cursor < self.layout.size() {
            let i = self.detach_cursor;
            if matches!(self.slots.get(usize::from(i)), Some(Slot::Head(_))) {
                if let Ok(token) = self.free_chain(i) {
                    return Some(token);
                }
            }
            self.detach_cursor = self.detach_cursor.wrapping_add(1);
        }
        None
    }

    fn reinit(&mut self) -> Result<(), RingError> {
        if self.in_flight != 0 || self.num_free != self.layout.size() {
            return Err(RingError::Busy);
        }
        let size = self.layout.size();
        for (i, n) in self.next.iter_mut().enumerate() {
            // CAST: `i < size <= 32768`.
            *n = (i.wrapping_add(1) & usize::from(size).wrapping_sub(1)) as u16;
        }
        for s in self.slots.iter_mut() {
            *s = Slot::Free;
        }
        self.free_head = 0;
        self.avail_idx = self.opts.start_idx;
        self.last_used = self.opts.start_idx;
        self.num_added = 0;
        self.avail_flags = 0;
        self.broken = false;
        self.detached = false;
        self.detach_cursor = 0;
        self.init_memory();
        Ok(())
    }

    fn is_broken(&self) -> bool {
        self.broken
    }

    fn mark_broken(&mut self) {
        self.broken = true;
    }

    fn config(&self) -> QueueConfig {
        let base = self.ring.dma_addr();
        // CAST: offsets are below the region length, a `usize` that fits
        // a `u64` on every supported platform.
        let at = |off: usize| base.wrapping_add(off as u64);
        QueueConfig {
            size: self.layout.size(),
            desc: at(self.layout.desc_offset()),
            driver: at(self.layout.avail_offset()),
            device: at(self.layout.used_offset()),
            legacy_align: if self.opts.legacy {
                u32::try_from(self.layout.used_align()).unwrap_or(0)
            } else {
                0
            },
        }
    }
}
