// SPDX-License-Identifier: GPL-2.0

//! A virtqueue of a live device, shared by the driver's paths and its
//! interrupt handler, and what a driver asks of one ([`QueueSpec`]).
//!
//! The ring is the core's split ring on the kernel platform, under an
//! irqsave spinlock; the doorbell is the transport's notify, rung after
//! the lock is released. A device that breaks the ring rules fails the
//! device (FAILED), and the queue refuses further work.

use super::{
    errno,
    platform::{DeviceView, KernelPlatform},
    stats::{LockedCounts, QueueStats, StatsSnapshot},
    transport::{DeviceTransport, Doorbell},
};
use crate::{
    kext::sync::{SpinLockIrq, SpinLockIrqGuard},
    virtio::{
        init::set_failed,
        queue::{Buf, NotifyData, RingError, Used, Virtqueue},
        split::SplitQueue,
        wire::ByteOrder,
    },
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// What a driver asks of one queue.
#[derive(Clone, Copy, Debug)]
pub struct QueueSpec {
    /// The largest size to use (the device's maximum may be smaller).
    pub max_size: u16,
    /// Largest indirect table (0: no indirect descriptors).
    pub max_indirect: u16,
    /// Whether the driver wants used buffer interrupts for this queue
    /// ([`Driver::queue_interrupt`](super::driver::Driver::queue_interrupt)).
    /// A queue without gets no interrupt vector and asks the device for no
    /// notifications; the driver polls it (a transmit or control queue,
    /// say).
    pub callback: bool,
}

impl QueueSpec {
    /// A queue of at most `max_size` entries, with interrupts and without
    /// indirect descriptors.
    pub const fn new(max_size: u16) -> Self {
        Self {
            max_size,
            max_indirect: 0,
            callback: true,
        }
    }

    /// A queue index the driver does not use (`max_size` 0): not set up,
    /// no ring, no interrupt, and no entry in what
    /// [`Setup::find_queues`](super::driver::Setup::find_queues) returns;
    /// the later queues keep their indices (a network device's control
    /// queue after queue pairs the driver leaves unused, say).
    pub const UNUSED: Self = Self {
        max_size: 0,
        max_indirect: 0,
        callback: false,
    };

    /// Whether this is [`QueueSpec::UNUSED`].
    pub const fn is_unused(&self) -> bool {
        self.max_size == 0
    }
}

impl Default for QueueSpec {
    fn default() -> Self {
        Self::new(256)
    }
}

/// What the queue's lock guards: the ring, and the counters that change
/// with it.
struct Locked<T> {
    ring: SplitQueue<KernelPlatform, T>,
    counts: LockedCounts,
}

impl<T> core::ops::Deref for Locked<T> {
    type Target = SplitQueue<KernelPlatform, T>;

    #[inline(always)]
    fn deref(&self) -> &Self::Target {
        &self.ring
    }
}

impl<T> core::ops::DerefMut for Locked<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.ring
    }
}

/// A look at the device's used index without the queue's lock, for the
/// handlers of interrupts that serve several queues
/// ([`QueueInfo::more_used`]), as the C core's `vring_interrupt()` reads
/// it. Only a hint: every buffer is still taken under the lock, with the
/// ring's checks and barriers.
pub(crate) struct UsedPeek {
    /// The queue's ring memory.
    view: DeviceView,
    /// Where `used.idx` is in it.
    used_idx: usize,
    /// The ring's byte order (legacy: the guest's).
    order: ByteOrder,
    /// The ring's `last_used` as of the latest time buffers were taken
    /// (stored under the lock). It only moves forward, so a stale value
    /// makes the hint say "look" when there is nothing, never the reverse.
    seen: Atomic<u32>,
}

// SAFETY: the view only makes volatile loads of one device-written index
// of ring memory that the queue owns (see `Queue::new`), which is what
// any context may do at any time; `seen` is atomic.
unsafe impl Send for UsedPeek {}
// SAFETY: as above.
unsafe impl Sync for UsedPeek {}

impl UsedPeek {
    /// A peek at `used.idx` at offset `used_idx` of `view`, in `order`.
    ///
    /// # Safety
    ///
    /// `view` must be the memory of the ring of the queue this is given to
    /// (which then owns that memory for as long as it holds this).
    pub(crate) unsafe fn new(view: DeviceView, used_idx: usize, order: ByteOrder) -> Self {
        Self {
            view,
            used_idx,
            order,
            seen: Atomic::new(0),
        }
    }
}

/// A virtqueue of a live device, shared by the driver's paths and its
/// interrupt handler (an irqsave spinlock guards the ring).
#[pin_data]
pub struct Queue<T> {
    #[pin]
    vq: SpinLockIrq<Locked<T>>,
    transport: Arc<DeviceTransport>,
    doorbell: Doorbell,
    index: u16,
    stats: QueueStats,
    /// The ring's memory, which `vq` owns (dropped with it); `None` when
    /// the queue has an interrupt of its own, whose handler does not ask
    /// [`QueueInfo::more_used`] (then nothing is recorded per drain).
    peek: Option<UsedPeek>,
}

impl<T: Send> Queue<T> {
    /// A queue around a programmed ring: queue `index` of the device behind
    /// `transport`, notified through `doorbell`; `peek` looks at its ring's
    /// memory, for a queue whose interrupt serves other queues too.
    pub(crate) fn new(
        vq: SplitQueue<KernelPlatform, T>,
        transport: Arc<DeviceTransport>,
        doorbell: Doorbell,
        index: u16,
        peek: Option<UsedPeek>,
    ) -> impl PinInit<Self, Error> {
        if let Some(p) = &peek {
            p.seen.store(u32::from(vq.last_used_idx()), Relaxed);
        }
        let locked = Locked {
            ring: vq,
            counts: LockedCounts::default(),
        };
        try_pin_init!(Self {
            vq <- crate::new_spinlock_irq!(locked, "rvirtio_queue"),
            transport,
            doorbell,
            index,
            stats: QueueStats::new(),
            peek,
        }? Error)
    }

    /// [`QueueInfo::more_used`] under the lock, for a queue without a peek
    /// (not asked by its handler). Out of line, so the peek stays a leaf.
    #[cold]
    #[inline(never)]
    fn more_used_locked(&self) -> bool {
        self.vq.lock().more_used().unwrap_or(true)
    }

    /// Records where the driver now is in the used ring, for
    /// [`QueueInfo::more_used`]; under the lock, after buffers were taken.
    #[inline]
    fn note_used(&self, vq: &Locked<T>) {
        if let Some(p) = &self.peek {
            p.seen.store(u32::from(vq.ring.last_used_idx()), Relaxed);
        }
    }

    /// The queue's index on the device.
    pub fn index(&self) -> u16 {
        self.index
    }

    /// Number of entries.
    pub fn size(&self) -> u16 {
        self.vq.lock().size()
    }

    /// Maps a ring error; one that means the device broke the ring rules
    /// fails the device.
    fn violation(&self, e: RingError) -> Error {
        if errno::is_violation(e) {
            self.stats.violation();
            set_failed(&*self.transport);
        }
        errno::ring(e)
    }

    /// Exposes a buffer (device-readable `out`, then device-writable
    /// `inb`) without notifying the device. On failure the token comes
    /// back with the error.
    pub fn add(&self, out: &[Buf], inb: &[Buf], token: T) -> Result<(), (Error, T)> {
        let mut vq = self.vq.lock();
        let r = vq.add(out, inb, token);
        if r.is_ok() {
            vq.counts.added();
        }
        drop(vq);
        r.map_err(|e| (self.violation(e.error), e.token))
    }

    /// Notifies the device of added buffers, unless it asked not to be.
    pub fn kick(&self) -> Result {
        let kick = {
            let mut vq = self.vq.lock();
            self.prepare_kick(&mut vq)?
        };
        self.notify(kick)
    }

    /// Whether the device wants a notification, and its value; under the
    /// lock. Inlined into its three callers (`kick`, `add_kick`, the end of
    /// a `Batch`).
    #[inline(always)]
    fn prepare_kick(&self, vq: &mut Locked<T>) -> Result<Option<NotifyData>> {
        let need = vq.ring.prepare_kick().map_err(|e| self.violation(e))?;
        if need {
            vq.counts.kicked();
        }
        Ok(need.then(|| vq.ring.notification_data()))
    }

    /// Rings the doorbell (outside the lock) if [`Queue::prepare_kick`] said
    /// so.
    #[inline(always)]
    fn notify(&self, kick: Option<NotifyData>) -> Result {
        match kick {
            Some(data) => self
                .transport
                .ring(&self.doorbell, data)
                .map_err(errno::transport),
            None => Ok(()),
        }
    }

    /// [`Queue::add`] then, if `kick`, [`Queue::kick`], in one hold of the
    /// lock (the doorbell is rung after it is released, as `kick` does).
    /// A failed notification cannot hand the token back once the buffer is
    /// in the ring: the device finds it at its next poll or the queue is
    /// torn down with it.
    pub fn add_kick(
        &self,
        out: &[Buf],
        inb: &[Buf],
        token: T,
        kick: bool,
    ) -> Result<(), (Error, T)> {
        let notify = {
            let mut vq = self.vq.lock();
            if let Err(e) = vq.add(out, inb, token) {
                drop(vq);
                return Err((self.violation(e.error), e.token));
            }
            vq.counts.added();
            if kick {
                self.prepare_kick(&mut vq).unwrap_or(None)
            } else {
                None
            }
        };
        let _ = self.notify(notify);
        Ok(())
    }

    /// Holds the queue's lock for adding several buffers
    /// ([`Batch::add`]); when the batch ends the device is notified once,
    /// if it wants to be and anything was added, after the lock is
    /// released. Interrupts are off while it lives: prepare buffers before,
    /// or keep it short.
    pub fn batch(&self) -> Batch<'_, T> {
        Batch {
            q: self,
            vq: Some(self.vq.lock()),
            notify: false,
        }
    }

    /// [`Queue::add`] then [`Queue::kick`].
    pub fn add_and_kick(&self, out: &[Buf], inb: &[Buf], token: T) -> Result<(), (Error, T)> {
        self.add_kick(out, inb, token, true)
    }

    /// Returns the next used buffer. A device that breaks the ring rules
    /// fails the device and gets `EIO`.
    pub fn get_used(&self) -> Result<Option<Used<T>>> {
        let mut vq = self.vq.lock();
        let r = vq.get_used();
        if let Ok(Some(_)) = r {
            vq.counts.used(1);
            self.note_used(&vq);
        }
        drop(vq);
        r.map_err(|e| self.violation(e))
    }

    /// Hands every used buffer to `f`, with interrupts re-enabled at the
    /// end and the race with a buffer used meanwhile closed. Bounded: after
    /// twice the queue size buffers it stops and returns `Ok(false)` (more
    /// may be pending: call again later); `Ok(true)` when drained.
    pub fn drain(&self, mut f: impl FnMut(T, u32)) -> Result<bool> {
        let budget = u32::from(self.size()).saturating_mul(2);
        let mut done = 0u32;
        loop {
            self.vq.lock().disable_cb();
            while let Some(u) = self.get_used()? {
                f(u.token, u.len);
                done = done.saturating_add(1);
                if done >= budget {
                    let _ = self.vq.lock().enable_cb();
                    return Ok(false);
                }
            }
            let mut vq = self.vq.lock();
            let r = vq.enable_cb();
            if let Ok(true) = r {
                if done == 0 {
                    vq.counts.spurious();
                }
            }
            drop(vq);
            if r.map_err(|e| self.violation(e))? {
                return Ok(true);
            }
        }
    }

    /// Like [`Queue::drain`], but holds the queue's lock across the whole
    /// loop (one lock round trip per interrupt instead of one per buffer,
    /// as the C driver does). `f` runs with the lock held and interrupts
    /// off: it must not sleep, and must not take a lock that is held while
    /// adding to this queue (that would invert the lock order).
    pub fn drain_locked(&self, mut f: impl FnMut(T, u32)) -> Result<bool> {
        let mut vq = self.vq.lock();
        let budget = u32::from(vq.size()).saturating_mul(2);
        let mut done = 0u32;
        loop {
            vq.disable_cb();
            loop {
                match vq.get_used() {
                    Ok(Some(u)) => {
                        f(u.token, u.len);
                        done = done.saturating_add(1);
                        if done >= budget {
                            let _ = vq.enable_cb();
                            vq.counts.used(u64::from(done));
                            self.note_used(&vq);
                            return Ok(false);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        vq.counts.used(u64::from(done));
                        self.note_used(&vq);
                        drop(vq);
                        return Err(self.violation(e));
                    }
                }
            }
            match vq.enable_cb() {
                Ok(true) => {
                    if done == 0 {
                        vq.counts.spurious();
                    } else {
                        vq.counts.used(u64::from(done));
                        self.note_used(&vq);
                    }
                    return Ok(true);
                }
                Ok(false) => continue,
                Err(e) => {
                    vq.counts.used(u64::from(done));
                    self.note_used(&vq);
                    drop(vq);
                    return Err(self.violation(e));
                }
            }
        }
    }

    /// Number of free descriptors.
    pub fn num_free(&self) -> u16 {
        self.vq.lock().num_free()
    }

    /// Whether the queue is broken.
    pub fn is_broken(&self) -> bool {
        self.vq.lock().is_broken()
    }

    /// Takes back a buffer still in flight, `None` when none is left. Only
    /// after the device was reset (spec §3.3.1: buffers of a live queue
    /// must not be reclaimed); dropping the queue does it too.
    pub fn detach_unused(&self) -> Option<T> {
        self.vq.lock().detach_unused()
    }

    /// Asks the device not to interrupt for used buffers (a hint: the
    /// handler may still run). For NAPI-style polling.
    pub fn disable_cb(&self) {
        self.vq.lock().disable_cb();
    }

    /// Re-enables used buffer interrupts and returns a value for
    /// [`Queue::poll`], without checking for pending buffers.
    pub fn enable_cb_prepare(&self) -> Result<u32> {
        let r = self.vq.lock().enable_cb_prepare();
        r.map_err(|e| self.violation(e))
    }

    /// Whether buffers were used since `opaque` was taken by
    /// [`Queue::enable_cb_prepare`] (closes the race with a re-enable).
    pub fn poll(&self, opaque: u32) -> Result<bool> {
        let r = self.vq.lock().poll(opaque);
        r.map_err(|e| self.violation(e))
    }

    /// Re-enables used buffer interrupts; `Ok(false)` when buffers are
    /// already pending (process them: no interrupt may come for them).
    pub fn enable_cb(&self) -> Result<bool> {
        let r = self.vq.lock().enable_cb();
        r.map_err(|e| self.violation(e))
    }

    /// Like [`Queue::enable_cb`], but with `VIRTIO_F_EVENT_IDX` asks for the
    /// interrupt only after most buffers in flight were used (transmit
    /// completions).
    pub fn enable_cb_delayed(&self) -> Result<bool> {
        let r = self.vq.lock().enable_cb_delayed();
        r.map_err(|e| self.violation(e))
    }
}

/// Buffers added to a queue in one hold of its lock, with one notification
/// at the end ([`Queue::batch`]).
pub struct Batch<'a, T: Send> {
    q: &'a Queue<T>,
    /// `Some` until the batch ends.
    vq: Option<SpinLockIrqGuard<'a, Locked<T>>>,
    /// Whether something was added (a notification is decided at the
    /// end).
    notify: bool,
}

impl<T: Send> Batch<'_, T> {
    /// Exposes a buffer (device-readable `out`, then device-writable
    /// `inb`) without notifying the device yet. On failure the token comes
    /// back with the error (`ENOSPC`: the ring is full). Inlined, with the
    /// ring's add inside, so a batch loop pays no call per buffer.
    #[inline(always)]
    pub fn add(&mut self, out: &[Buf], inb: &[Buf], token: T) -> Result<(), (Error, T)> {
        let Some(vq) = self.vq.as_mut() else {
            return Err((EINVAL, token));
        };
        match vq.add(out, inb, token) {
            Ok(()) => {
                vq.counts.added();
                self.notify = true;
                Ok(())
            }
            // A ring error that is a violation fails the device (under the
            // lock, as `Queue::add` does after it).
            Err(e) => Err((self.q.violation(e.error), e.token)),
        }
    }
}

impl<T: Send> Drop for Batch<'_, T> {
    /// Decides the notification under the lock, then rings the doorbell
    /// after releasing it.
    #[inline(always)]
    fn drop(&mut self) {
        let Some(mut vq) = self.vq.take() else {
            return;
        };
        let kick = if self.notify {
            self.q.prepare_kick(&mut vq).unwrap_or(None)
        } else {
            None
        };
        drop(vq);
        let _ = self.q.notify(kick);
    }
}

/// What debugfs and the interrupt handlers know of a queue, whatever its
/// token type.
pub trait QueueInfo: Send + Sync {
    /// The queue's index on the device.
    fn index(&self) -> u16;
    /// Number of entries.
    fn size(&self) -> u16;
    /// The ring layout and the ring features in use.
    fn ring(&self) -> RingInfo;
    /// The queue's counters.
    fn stats(&self) -> StatsSnapshot;
    /// Counts an interrupt of the queue (in its handler).
    fn interrupted(&self);
    /// Whether the device has used buffers the driver has not taken back
    /// (or may have: the driver should look). For handlers that serve
    /// several queues, to skip the idle ones cheaply: without the queue's
    /// lock, as the C core's `vring_interrupt()` looks.
    fn more_used(&self) -> bool;
}

/// The ring of a queue, for debugfs.
#[derive(Clone, Copy, Debug)]
pub struct RingInfo {
    /// `"split"` (the packed ring comes later).
    pub layout: &'static str,
    /// Indirect descriptors in use.
    pub indirect: bool,
    /// `VIRTIO_F_EVENT_IDX` notification suppression in use.
    pub event_idx: bool,
    /// Free descriptors.
    pub free: u16,
    /// The queue is broken (the device broke the ring rules).
    pub broken: bool,
}

impl<T: Send> QueueInfo for Queue<T> {
    fn index(&self) -> u16 {
        self.index
    }

    fn size(&self) -> u16 {
        Queue::size(self)
    }

    fn ring(&self) -> RingInfo {
        let vq = self.vq.lock();
        let o = vq.options();
        RingInfo {
            layout: "split",
            indirect: o.indirect,
            event_idx: o.event_idx,
            free: vq.num_free(),
            broken: vq.is_broken(),
        }
    }

    fn stats(&self) -> StatsSnapshot {
        let counts = self.vq.lock().counts;
        StatsSnapshot::new(counts, &self.stats)
    }

    #[inline]
    fn interrupted(&self) {
        self.stats.interrupted();
    }

    /// `used.idx` against where the driver was when it last took buffers.
    /// A stale `seen` (buffers taken since) says yes: the handler then
    /// finds nothing. An index the device moves right after the load raises
    /// another interrupt (an idle queue has interrupts enabled), or is
    /// found by the drain running elsewhere, whose re-enable checks again.
    /// Without a peek (a queue with its own interrupt, not asked here),
    /// under the lock.
    #[inline]
    fn more_used(&self) -> bool {
        let Some(p) = &self.peek else {
            return self.more_used_locked();
        };
        let used = p.order.from_raw16(p.view.read_u16(p.used_idx));
        u32::from(used) != p.seen.load(Relaxed)
    }
}
