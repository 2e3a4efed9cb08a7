// SPDX-License-Identifier: GPL-2.0

//! The interface: [`Registration`] (creation, registration, removal) and
//! [`NetDev`], what callbacks and the driver's interrupt paths get: the
//! carrier, the TX queues with their byte queue limits, the NAPI contexts.

use super::*;
use crate::kext::irq::IrqNumber;
use core::mem::ManuallyDrop;
use kernel::device::{Bound, Device};

/// An interface, borrowed for `'a`: from a callback (for its duration) or
/// from [`Registration::dev`] (while the registration is borrowed), so it
/// cannot outlive the `net_device`.
///
/// # Invariants
///
/// `0` is a `struct rvirtio_net` made by [`Registration::new`] and not
/// freed for `'a`.
#[derive(Clone, Copy)]
pub struct NetDev<'a>(NonNull<RawNet>, PhantomData<&'a RawNet>);

// SAFETY: the shim's functions on the interface are safe from any thread
// (the kernel's own locking), and it lives for `'a`.
unsafe impl Send for NetDev<'_> {}
// SAFETY: as above.
unsafe impl Sync for NetDev<'_> {}

impl<'a> NetDev<'a> {
    /// # Safety
    ///
    /// `raw` is an interface made by [`Registration::new`] that is not
    /// freed for `'a`.
    pub(super) unsafe fn from_raw(raw: NonNull<RawNet>) -> Self {
        // INVARIANT: as the caller promises.
        Self(raw, PhantomData)
    }

    fn raw(&self) -> *mut RawNet {
        self.0.as_ptr()
    }

    /// Sets the carrier (link up or down). From any context; ignored
    /// unless the interface is registered (not yet, or being removed).
    pub fn set_carrier(&self, on: bool) {
        // SAFETY: a live interface (type invariant).
        unsafe { rvirtio_net_set_carrier(self.raw(), on) }
    }

    /// Whether the carrier is on.
    pub fn carrier_ok(&self) -> bool {
        // SAFETY: a live interface.
        unsafe { rvirtio_net_carrier_ok(self.raw()) }
    }

    /// The MTU in force.
    pub fn mtu(&self) -> u32 {
        // SAFETY: a live interface.
        unsafe { rvirtio_net_mtu(self.raw()) }
    }

    /// The promiscuous and all-multicast flags (`IFF_PROMISC`,
    /// `IFF_ALLMULTI`); consistent under RTNL, as in
    /// [`NetDeviceOps::set_rx_mode`].
    pub fn rx_flags(&self) -> RxFlags {
        // SAFETY: a live interface.
        let f = unsafe { rvirtio_net_rx_flags(self.raw()) };
        RxFlags {
            promisc: f & RX_PROMISC != 0,
            allmulti: f & RX_ALLMULTI != 0,
        }
    }

    /// Copies the secondary unicast and the multicast addresses into `uc`
    /// and `mc`, as many as fit (one snapshot, under the address list
    /// lock); returns how many there are of each, which may be more.
    pub fn addr_lists(
        &self,
        uc: &mut [[u8; ETH_ALEN]],
        mc: &mut [[u8; ETH_ALEN]],
    ) -> (usize, usize) {
        let (mut uc_n, mut mc_n) = (0u32, 0u32);
        let uc_max = u32::try_from(uc.len()).unwrap_or(u32::MAX);
        let mc_max = u32::try_from(mc.len()).unwrap_or(u32::MAX);
        // SAFETY: a live interface; the shim writes at most `uc_max` and
        // `mc_max` addresses of `ETH_ALEN` bytes into the two arrays, and
        // the counts into the two integers.
        unsafe {
            rvirtio_net_addr_lists(
                self.raw(),
                uc.as_mut_ptr().cast(),
                uc_max,
                &mut uc_n,
                mc.as_mut_ptr().cast(),
                mc_max,
                &mut mc_n,
            )
        };
        (uc_n as usize, mc_n as usize)
    }

    /// Asks for the peers to be notified (`netdev_notify_peers`) from a
    /// work item, which then calls [`NetDeviceOps::announce`]. From any
    /// context; ignored unless registered.
    pub fn request_announce(&self) {
        // SAFETY: a live interface.
        unsafe { rvirtio_net_request_announce(self.raw()) }
    }

    /// The hardware address.
    pub fn mac(&self) -> [u8; ETH_ALEN] {
        let mut mac = [0u8; ETH_ALEN];
        // SAFETY: a live interface; `mac` holds `ETH_ALEN` bytes.
        unsafe { rvirtio_net_mac(self.raw(), mac.as_mut_ptr()) };
        mac
    }

    /// The NAPI context of queue pair `queue`'s receive or transmit queue,
    /// `None` past the interface's pairs.
    pub fn napi(&self, queue: u32, kind: NapiKind) -> Option<Napi<'a>> {
        let i = queue
            .checked_mul(2)?
            .checked_add(u32::from(kind == NapiKind::Tx))?;
        // SAFETY: a live interface; the shim checks `i`.
        let p = NonNull::new(unsafe { rvirtio_net_napi(self.raw(), i) })?;
        // SAFETY: the context lives as long as the interface, `'a`.
        Some(unsafe { Napi::from_raw(p) })
    }

    /// Sets the number of queue pairs in use (at most the allocated ones):
    /// the stack transmits on, and expects receive from, that many.
    pub fn set_real_num_queues(&self, _rtnl: &Rtnl<'_>, pairs: u32) -> Result {
        // SAFETY: a live interface; RTNL is held (`_rtnl`); the shim checks
        // `pairs`.
        kernel::error::to_result(unsafe {
            rvirtio_net_set_real_num_queues(self.raw(), pairs, true)
        })
    }

    /// Places queue pair `pair` on the online CPUs of rank `first` to
    /// `first + count - 1` (wrapping; the core's `pair_cpus` computes
    /// them): its interrupts `irqs` are steered there and XPS sends from
    /// them on transmit queue `pair`. Sleeps.
    pub fn set_pair_affinity(
        &self,
        pair: u32,
        first: u32,
        count: u32,
        irqs: &[IrqNumber],
    ) -> Result {
        let mut nums = [0u32; 2];
        let n = irqs.len().min(nums.len());
        for (d, s) in nums.iter_mut().zip(irqs.iter()) {
            *d = s.get();
        }
        // CAST: at most 2.
        let n = n as u32;
        // SAFETY: a live interface; `nums` holds `n` interrupt numbers of
        // this device (`IrqNumber`'s invariant), read for the call; the
        // shim checks `pair`.
        kernel::error::to_result(unsafe {
            rvirtio_net_set_pair_affinity(self.raw(), pair, first, count, nums.as_ptr(), n)
        })
    }

    /// Transmit queue `queue`, `None` past the interface's queues.
    pub fn txq(&self, queue: u32) -> Option<TxQueue<'a>> {
        // SAFETY: a live interface; any `queue` is checked.
        if !unsafe { rvirtio_net_txq_valid(self.raw(), queue) } {
            return None;
        }
        // INVARIANT: `queue` is one of the interface's transmit queues.
        Some(TxQueue { dev: *self, queue })
    }
}

/// One transmit queue of an interface: its state (stopped or running) and
/// its byte queue limits.
///
/// # Invariants
///
/// `queue` is below the interface's number of transmit queues.
#[derive(Clone, Copy)]
pub struct TxQueue<'a> {
    dev: NetDev<'a>,
    queue: u32,
}

impl<'a> TxQueue<'a> {
    /// Stops the queue (the stack sends nothing more on it), with a full
    /// barrier after: a check of the ring that follows sees every
    /// completion that ran before a waker saw the queue running, so the
    /// caller can re-check for room and [`TxQueue::start`] it.
    pub fn stop(&self) {
        // SAFETY: a live interface and a valid queue (type invariants).
        unsafe { rvirtio_net_txq_stop(self.dev.raw(), self.queue) }
    }

    /// Starts a stopped queue from the transmit path.
    pub fn start(&self) {
        // SAFETY: as above.
        unsafe { rvirtio_net_txq_start(self.dev.raw(), self.queue) }
    }

    /// Wakes a stopped queue (from completion): the stack resumes sending.
    pub fn wake(&self) {
        // SAFETY: as above.
        unsafe { rvirtio_net_txq_wake(self.dev.raw(), self.queue) }
    }

    /// Whether the queue is stopped.
    pub fn is_stopped(&self) -> bool {
        // SAFETY: as above.
        unsafe { rvirtio_net_txq_stopped(self.dev.raw(), self.queue) }
    }

    /// Takes the queue's transmit lock, which the stack holds around
    /// `start_xmit`: a NAPI poll reclaiming completions under it is
    /// serialised with the transmit path (its BQL accounting and its
    /// stop and wake decisions). Only from a poll (`_poll`). `None`, and
    /// a warning, when this CPU holds it already (a second guard, or a
    /// poll run from inside `start_xmit`): taking it again would
    /// deadlock.
    pub fn lock(&self, _poll: &NapiPoll<'_>) -> Option<TxQueueGuard<'a>> {
        // SAFETY: a live interface and a valid queue (type invariants); the
        // shim refuses a lock this CPU holds.
        if !unsafe { rvirtio_net_txq_lock(self.dev.raw(), self.queue) } {
            return None;
        }
        Some(TxQueueGuard(*self))
    }

    /// BQL: `bytes` were queued to the device. Under the queue's transmit
    /// lock (in `start_xmit`, where the stack holds it, or under a
    /// [`TxQueueGuard`]); refused, with a warning, without it. Returns
    /// whether it was counted.
    pub fn sent(&self, bytes: u32) -> bool {
        // SAFETY: as above; the shim checks the lock.
        unsafe { rvirtio_net_txq_sent(self.dev.raw(), self.queue, bytes) }
    }

    /// BQL: `pkts` packets of `bytes` bytes completed. Under the queue's
    /// transmit lock (checked, as for [`TxQueue::sent`]), so completions
    /// are serialised with each other and with `sent`. At most the bytes
    /// in flight are reported (the kernel `BUG`s on more): more is
    /// clamped, with a warning once. Returns the bytes reported.
    pub fn completed(&self, pkts: u32, bytes: u32) -> u32 {
        // SAFETY: as above.
        unsafe { rvirtio_net_txq_completed(self.dev.raw(), self.queue, pkts, bytes) }
    }

    /// Microseconds since the queue last started a transmission (for
    /// [`NetDeviceOps::tx_timeout`]'s report).
    pub fn stalled_us(&self) -> u32 {
        // SAFETY: as above.
        unsafe { rvirtio_net_txq_stalled_us(self.dev.raw(), self.queue) }
    }
}

/// A transmit queue's lock, held ([`TxQueue::lock`]); released when
/// dropped.
pub struct TxQueueGuard<'a>(TxQueue<'a>);

impl<'a> core::ops::Deref for TxQueueGuard<'a> {
    type Target = TxQueue<'a>;

    fn deref(&self) -> &TxQueue<'a> {
        &self.0
    }
}

impl Drop for TxQueueGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: taken by `TxQueue::lock`, released once here.
        unsafe { rvirtio_net_txq_unlock(self.0.dev.raw(), self.0.queue) }
    }
}

/// How an interface starts: queue pairs, offloads, MTU range and address.
pub struct Config<'a> {
    /// Queue pairs allocated (the most the interface may use).
    pub max_pairs: u32,
    /// Queue pairs used at first.
    pub pairs: u32,
    /// Offloads the user may switch (`ethtool -K`).
    pub hw_offloads: Offloads,
    /// Offloads on.
    pub offloads: Offloads,
    /// Smallest MTU.
    pub min_mtu: u32,
    /// Largest MTU.
    pub max_mtu: u32,
    /// MTU at first.
    pub mtu: u32,
    /// The address, or `None` for a random one.
    pub mac: Option<[u8; ETH_ALEN]>,
    /// The version `ethtool -i` shows (empty: the kernel's release).
    pub version: &'a CStr,
}

/// An interface (named `eth%d`) and the driver's data behind its
/// callbacks. Unregistered, its NAPI contexts deleted, the data dropped
/// and the `net_device` freed, in that order, when dropped.
///
/// # Invariants
///
/// `raw` is a `struct rvirtio_net` from `rvirtio_net_alloc` whose driver
/// pointer is the address of `*ops`, and whose callbacks are those of
/// `T`; `ops` is dropped only in `drop`.
pub struct Registration<T: NetDeviceOps + EthtoolOps> {
    raw: NonNull<RawNet>,
    ops: ManuallyDrop<Pin<KBox<T>>>,
}

// SAFETY: the interface is reached only through the shim, which locks as
// it needs; `T` is `Send + Sync`.
unsafe impl<T: NetDeviceOps + EthtoolOps> Send for Registration<T> {}
// SAFETY: as above.
unsafe impl<T: NetDeviceOps + EthtoolOps> Sync for Registration<T> {}

impl<T: NetDeviceOps + EthtoolOps> Registration<T> {
    /// Makes an interface under `parent` with the driver data `ops`, not
    /// registered yet (the NAPI contexts exist, disabled; the carrier is
    /// off).
    ///
    /// # Errors
    ///
    /// `EINVAL` for a shim of another ABI or a bad configuration,
    /// `ENOMEM`.
    pub fn new(
        parent: &Device<Bound>,
        cfg: &Config<'_>,
        ops: impl PinInit<T, Error>,
    ) -> Result<Self> {
        check_abi()?;
        if cfg.pairs == 0 || cfg.pairs > cfg.max_pairs || cfg.min_mtu > cfg.max_mtu {
            return Err(EINVAL);
        }
        if !(cfg.min_mtu..=cfg.max_mtu).contains(&cfg.mtu) {
            return Err(EINVAL);
        }
        let ops = KBox::pin_init(ops, GFP_KERNEL)?;
        let drv: *const T = &*ops;
        // SAFETY: `parent` is a bound device (the shim takes a reference
        // through the net_device's parent); the callbacks are `T`'s and
        // `drv` points to the `T` this registration keeps until after the
        // interface is freed; `version` is a valid C string (copied).
        let raw = unsafe {
            rvirtio_net_alloc(
                crate::kext::device::raw(parent),
                cfg.max_pairs,
                callbacks::vtable::<T>(),
                drv.cast_mut().cast(),
                cfg.version.as_char_ptr(),
            )
        };
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // INVARIANT: made with `ops`' address and `T`'s callbacks.
        let this = Self {
            raw,
            ops: ManuallyDrop::new(ops),
        };
        // SAFETY: a live, unregistered interface.
        unsafe {
            rvirtio_net_configure(
                raw.as_ptr(),
                cfg.hw_offloads.bits(),
                cfg.offloads.bits(),
                cfg.min_mtu,
                cfg.max_mtu,
                cfg.mtu,
            );
            match &cfg.mac {
                Some(mac) => rvirtio_net_set_mac(raw.as_ptr(), mac.as_ptr()),
                None => rvirtio_net_random_mac(raw.as_ptr()),
            }
        }
        this.set_real_num_queues(cfg.pairs)?;
        Ok(this)
    }

    /// The interface.
    pub fn dev(&self) -> NetDev<'_> {
        // SAFETY: the interface lives as long as `self` (type invariant).
        unsafe { NetDev::from_raw(self.raw) }
    }

    /// The driver's data.
    pub fn ops(&self) -> &T {
        &self.ops
    }

    /// Sets the number of queue pairs in use (at most the allocated ones)
    /// before registration (`EBUSY` after: then
    /// [`NetDev::set_real_num_queues`], under RTNL).
    pub fn set_real_num_queues(&self, pairs: u32) -> Result {
        // SAFETY: a live interface; the shim checks `pairs` and refuses a
        // registered interface.
        kernel::error::to_result(unsafe {
            rvirtio_net_set_real_num_queues(self.raw.as_ptr(), pairs, false)
        })
    }

    /// Registers the interface: the stack may call every callback from
    /// now on.
    pub fn register(&self) -> Result {
        // SAFETY: a live interface, registered at most once by the shim's
        // own check (register_netdev of a registered device fails).
        kernel::error::to_result(unsafe { rvirtio_net_register(self.raw.as_ptr()) })
    }

    /// Unregisters the interface (once; later calls do nothing): carrier
    /// changes stop, the interface is closed (NAPI disabled) and every
    /// callback has returned when this returns. Sleeps (RTNL).
    pub fn unregister(&self) {
        // SAFETY: a live interface; the shim unregisters at most once.
        unsafe { rvirtio_net_unregister(self.raw.as_ptr()) }
    }
}

impl<T: NetDeviceOps + EthtoolOps> Drop for Registration<T> {
    fn drop(&mut self) {
        self.unregister();
        // SAFETY: a live, unregistered interface: no poll runs after this.
        unsafe { rvirtio_net_quiesce(self.raw.as_ptr()) };
        // No callback runs any more: the data goes first (its buffers and
        // packets in flight with it), then the interface.
        // SAFETY: dropped once, here, and never used after (type
        // invariant).
        unsafe { ManuallyDrop::drop(&mut self.ops) };
        // SAFETY: unregistered, and nothing refers to it any more: the
        // NetDev handles borrowed `self`.
        unsafe { rvirtio_net_free(self.raw.as_ptr()) };
    }
}
