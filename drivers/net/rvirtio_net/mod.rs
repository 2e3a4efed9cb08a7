// SPDX-License-Identifier: GPL-2.0

//! The driver's state behind the interface: [`Nic`] (the device: its
//! queue pairs, the control queue, the link, and the interface callbacks)
//! and [`Net`] (one queue pair: its queues, receive refill and counters,
//! with the negotiated protocol it needs). Receive is in `rx`, transmit in
//! `tx`, the control queue (and multiqueue's VQ_PAIRS_SET) in `ctrlq`.

mod ctrlq;
pub mod features;
mod rx;
mod tx;

use crate::{
    kext::{dma::DmaDevice, irq::IrqNumber},
    kvirtio::{
        config::DeviceConfig,
        queue::{Queue, QueueInfo},
        status::DeviceStatus,
    },
    net::{
        Channels,
        EthtoolOps,
        Link,
        MappedRxFrag,
        NapiKind,
        NapiPoll,
        NetDev,
        NetDeviceOps,
        Offloads,
        Rings,
        Rtnl,
        Skb,
        StatName,
        Stats,
        TxSkb,
        Xmit,
        DUPLEX_FULL,
        DUPLEX_HALF,
        DUPLEX_UNKNOWN,
        SPEED_UNKNOWN, //
    },
    virtio::{
        features::Features,
        net::{
            self as vnet, pair_cpus,
            wire::{
                config as cfg,
                ctrl,
                feature as f,
                ETH_ALEN, //
            },
            Config, Duplex, PktLenAvg, RxMode, RxOffloads, TxOffloads,
        },
        wire::ByteOrder,
    },
};
use core::fmt::Write;
use kernel::{
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
    },
};

/// What a queue's buffer is: a receive fragment or a packet being sent.
pub enum Token {
    /// A receive buffer.
    Rx(MappedRxFrag),
    /// A big-packet receive buffer: its pages, in order.
    RxBig(KVec<MappedRxFrag>),
    /// A packet to send.
    Tx(TxSkb),
    /// A control command.
    Ctrl(ctrlq::CtrlBuf),
}

pub use ctrlq::Ctrl;
pub use rx::rx_indirect;

/// Counters of one direction of a queue pair (single writer: its NAPI
/// poll, or the transmit path under the queue's transmit lock).
pub struct DirStats {
    packets: Atomic<u64>,
    bytes: Atomic<u64>,
    drops: Atomic<u64>,
    errors: Atomic<u64>,
}

impl DirStats {
    fn new() -> Self {
        Self {
            packets: Atomic::new(0),
            bytes: Atomic::new(0),
            drops: Atomic::new(0),
            errors: Atomic::new(0),
        }
    }

    fn add(c: &Atomic<u64>, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    fn packet(&self, bytes: u64) {
        Self::add(&self.packets, 1);
        Self::add(&self.bytes, bytes);
    }

    fn drop_one(&self) {
        Self::add(&self.drops, 1);
    }

    fn error(&self) {
        Self::add(&self.errors, 1);
    }
}

/// One queue pair's state (receive queue `2 * pair`, transmit queue
/// `2 * pair + 1`), with what its paths need of the negotiated protocol.
pub struct Net {
    /// The pair's index.
    pair: u32,
    /// Its receive queue.
    pub rx: Arc<Queue<Token>>,
    /// Its transmit queue.
    pub tx: Arc<Queue<Token>>,
    dma: DmaDevice,
    /// The negotiated features.
    negotiated: Features,
    order: ByteOrder,
    mode: RxMode,
    hdr_len: usize,
    /// The receive ring's refill.
    pub(crate) refill: Arc<rx::Refill>,
    rx_offloads: RxOffloads,
    tx_offloads: TxOffloads,
    rx_stats: DirStats,
    tx_stats: DirStats,
    /// Packets the device described wrongly (dropped).
    rx_length_errors: Atomic<u64>,
    /// Transmit watchdog timeouts of the transmit queue.
    tx_timeouts: Atomic<u64>,
    /// To fail the device.
    status: Arc<DeviceStatus>,
    /// The driver failed the device (too many invalid packets on a
    /// receive queue): shared by every pair.
    failed: Arc<Atomic<bool>>,
}

/// What every pair of a device shares, for [`Net::new`].
pub struct PairCommon {
    /// DMA for buffers.
    pub dma: DmaDevice,
    /// To fail the device.
    pub status: Arc<DeviceStatus>,
    /// The negotiated features.
    pub negotiated: Features,
    /// The device's byte order.
    pub order: ByteOrder,
    /// The receive mode.
    pub mode: RxMode,
    /// The MTU receive buffers are sized for.
    pub mtu: u16,
    /// Set when the device is failed.
    pub failed: Arc<Atomic<bool>>,
}

impl Net {
    /// The state of pair `pair` with these queues.
    pub fn new(
        pair: u32,
        rx: Arc<Queue<Token>>,
        tx: Arc<Queue<Token>>,
        c: &PairCommon,
    ) -> Result<Self> {
        let hdr_len = vnet::header_len(c.negotiated);
        let rx_buf_len = u32::try_from(vnet::rx_buf_len(
            c.mode,
            hdr_len,
            c.mtu,
            vnet::guest_gso(c.negotiated),
        ))
        .map_err(|_| EINVAL)?;
        let merge_min = vnet::mergeable_min_len(hdr_len, c.mtu, rx.size());
        let refill = rx::Refill::new(
            rx.clone(),
            c.dma.clone(),
            c.mode,
            hdr_len,
            rx_buf_len,
            merge_min,
        )?;
        Ok(Self {
            pair,
            rx,
            tx,
            dma: c.dma.clone(),
            negotiated: c.negotiated,
            order: c.order,
            mode: c.mode,
            hdr_len,
            refill,
            rx_offloads: RxOffloads::negotiated(c.negotiated),
            tx_offloads: TxOffloads::negotiated(c.negotiated),
            rx_stats: DirStats::new(),
            tx_stats: DirStats::new(),
            rx_length_errors: Atomic::new(0),
            tx_timeouts: Atomic::new(0),
            status: c.status.clone(),
            failed: c.failed.clone(),
        })
    }

    /// The receive mode.
    pub fn rx_mode(&self) -> RxMode {
        self.mode
    }

    /// The header length.
    pub fn hdr_len(&self) -> usize {
        self.hdr_len
    }

    /// Pages of a big-packet receive buffer (0 in the other modes).
    pub fn rx_big_pages(&self) -> usize {
        if self.mode == RxMode::Big {
            self.refill.pages()
        } else {
            0
        }
    }

    /// Receive buffers with the device.
    pub fn rx_posted(&self) -> u16 {
        self.rx.size().saturating_sub(self.rx.num_free())
    }

    /// Fails the device after repeated protocol violations: FAILED set,
    /// nothing more received on any pair (the carrier goes down at the
    /// next link update, and stays down).
    fn fail(&self) {
        pr_err!(
            "rvirtio_net: {} invalid packets on receive queue {}: failing the device\n",
            rx::MAX_INVALID,
            self.pair
        );
        self.failed.store(true, Relaxed);
        self.status.fail();
    }

    /// Schedules this pair's `kind` poll (its interrupts off while it
    /// runs), unless it is already scheduled or disabled.
    fn schedule(&self, dev: NetDev<'_>, kind: NapiKind) {
        let q = match kind {
            NapiKind::Rx => &self.rx,
            NapiKind::Tx => &self.tx,
        };
        if let Some(napi) = dev.napi(self.pair, kind) {
            napi.schedule(|| q.disable_cb());
        }
    }

    /// The pair's queue of `kind`.
    pub fn queue(&self, kind: NapiKind) -> &Queue<Token> {
        match kind {
            NapiKind::Rx => &self.rx,
            NapiKind::Tx => &self.tx,
        }
    }

    /// Ends a poll that did less than its budget: interrupts back on, and
    /// the poll scheduled again when buffers were used meanwhile.
    fn complete(&self, poll: &NapiPoll<'_>, q: &Queue<Token>, work: u32) {
        if !poll.complete_done(work) {
            return;
        }
        // A broken queue fails here: the device is failed, nothing to poll.
        if let Ok(opaque) = q.enable_cb_prepare() {
            if q.poll(opaque).unwrap_or(false) {
                poll.napi().schedule(|| q.disable_cb());
            }
        }
    }
}

/// The device's state behind the interface: its queue pairs (those the
/// driver allocated: at most one per online CPU, up to the device's
/// `max_virtqueue_pairs`), the control queue, the link.
pub struct Nic {
    /// The queue pairs allocated, by index.
    pub pairs: KVec<Net>,
    /// The interrupts of each pair (receive, transmit), when each queue has
    /// its own vector: placed on the pair's CPUs.
    irqs: KVec<KVec<IrqNumber>>,
    /// Queue pairs in use (`ethtool -L`; written under RTNL, or before
    /// registration).
    curr: Atomic<u32>,
    /// The device's `max_virtqueue_pairs` (1 without MQ).
    dev_max_pairs: u16,
    config: Arc<DeviceConfig>,
    negotiated: Features,
    order: ByteOrder,
    rx_offloads: RxOffloads,
    /// Speed and duplex reported (from the configuration, or `ethtool -s`).
    speed: Atomic<u32>,
    /// `DUPLEX_*`, widened.
    duplex: Atomic<u32>,
    /// The driver failed the device.
    failed: Arc<Atomic<bool>>,
    /// The control queue, with CTRL_VQ.
    pub ctrl: Option<Arc<Ctrl>>,
}

impl Nic {
    /// The device's state: `pairs` allocated (with their interrupts
    /// `irqs`), the control queue `ctrl`, one pair in use until
    /// [`Nic::start_pairs`].
    pub fn new(
        pairs: KVec<Net>,
        irqs: KVec<KVec<IrqNumber>>,
        dev_max_pairs: u16,
        config: Arc<DeviceConfig>,
        common: &PairCommon,
        dev_config: Config,
        ctrl: Option<Arc<Queue<Token>>>,
    ) -> Result<Self> {
        let rx_offloads = RxOffloads::negotiated(common.negotiated);
        let ctrl = match ctrl {
            Some(q) => Some(Ctrl::new(q, common.dma.clone(), rx_offloads.to_bits())?),
            None => None,
        };
        Ok(Self {
            pairs,
            irqs,
            curr: Atomic::new(1),
            dev_max_pairs,
            config,
            negotiated: common.negotiated,
            order: common.order,
            rx_offloads,
            speed: Atomic::new(dev_config.speed.unwrap_or(SPEED_UNKNOWN)),
            duplex: Atomic::new(u32::from(match dev_config.duplex {
                Duplex::Half => DUPLEX_HALF,
                Duplex::Full => DUPLEX_FULL,
                Duplex::Unknown => DUPLEX_UNKNOWN,
            })),
            failed: common.failed.clone(),
            ctrl,
        })
    }

    /// Queue pair 0 (there is always one).
    pub fn pair0(&self) -> Option<&Net> {
        self.pairs.first()
    }

    /// Queue pairs in use.
    pub fn curr_pairs(&self) -> u32 {
        self.curr.load(Relaxed)
    }

    /// Queue pairs allocated.
    fn max_pairs(&self) -> u32 {
        u32::try_from(self.pairs.len()).unwrap_or(u32::MAX)
    }

    /// Before registration: the device is told to use every allocated
    /// pair (VQ_PAIRS_SET, §5.1.6.5.5; it starts with one), and the
    /// interface's queue count follows; on a refusal one pair stays in
    /// use. Returns the pairs in use.
    pub fn start_pairs(&self, set_real: impl FnOnce(u32) -> Result) -> u32 {
        let want = self.max_pairs();
        let n = if want > 1 {
            match self.ctrl_vq_pairs(want) {
                Ok(()) => want,
                Err(e) => {
                    pr_warn!(
                        "rvirtio_net: VQ_PAIRS_SET {} failed ({:?}): one queue pair\n",
                        want,
                        e
                    );
                    1
                }
            }
        } else {
            1
        };
        let n = match set_real(n) {
            Ok(()) => n,
            Err(_) => 1,
        };
        self.curr.store(n, Relaxed);
        n
    }

    /// Places the pairs in use on the CPUs (interrupts and XPS), as the C
    /// driver's `virtnet_set_affinity`: a failure is logged (the
    /// interface works without).
    pub fn set_affinity(&self, dev: NetDev<'_>) {
        let curr = self.curr_pairs();
        let cpus = crate::net::online_cpus();
        for (i, irqs) in (0u32..curr).zip(self.irqs.iter()) {
            let Some((first, count)) = pair_cpus(cpus, curr, i) else {
                continue;
            };
            if let Err(e) = dev.set_pair_affinity(i, first, count, irqs) {
                pr_warn!("rvirtio_net: queue pair {} affinity: {:?}\n", i, e);
            }
        }
    }

    /// Sets the carrier from `status` (§5.1.4.2): with STATUS its LINK_UP
    /// bit, else up. A device whose configuration cannot be read, or that
    /// the driver failed, is down. With GUEST_ANNOUNCE and the ANNOUNCE
    /// bit, asks for the peers to be notified (then acknowledged,
    /// §5.1.6.5.4).
    pub fn update_link(&self, dev: NetDev<'_>) {
        let mut announce = false;
        let up = if self.failed.load(Relaxed) {
            false
        } else if self.negotiated.contains(f::STATUS) {
            match self.config.read_u16(cfg::STATUS) {
                Ok(s) => {
                    announce = vnet::announce_requested(self.negotiated, s);
                    vnet::link_up(self.negotiated, s)
                }
                Err(_) => false,
            }
        } else {
            true
        };
        if up != dev.carrier_ok() {
            dev.set_carrier(up);
        }
        if announce {
            dev.request_announce();
        }
    }

    /// The interrupt of virtqueue `queue`: the control queue wakes its
    /// waiter, a pair's queue schedules its poll.
    pub fn queue_interrupt(&self, dev: NetDev<'_>, queue: u16) {
        if vnet::vq::ctrl(self.dev_max_pairs) == Some(queue) {
            if let Some(c) = &self.ctrl {
                c.interrupt();
            }
            return;
        }
        let kind = if queue % 2 == 0 {
            NapiKind::Rx
        } else {
            NapiKind::Tx
        };
        if let Some(p) = self.pairs.get(usize::from(queue / 2)) {
            p.schedule(dev, kind);
        }
    }
}

impl NetDeviceOps for Nic {
    fn open(&self, dev: NetDev<'_>, rtnl: &Rtnl<'_>) -> Result {
        // Every allocated pair runs (those above the count in use stay
        // idle: the device uses none of them, the stack sends on none).
        for p in self.pairs.iter() {
            for kind in [NapiKind::Rx, NapiKind::Tx] {
                if let Some(napi) = dev.napi(p.pair, kind) {
                    napi.enable(rtnl);
                }
            }
            if let Some(txq) = dev.txq(p.pair) {
                if p.tx_has_room() {
                    txq.start();
                }
            }
            // Packets that arrived while down, completions, the refill.
            p.schedule(dev, NapiKind::Rx);
            p.schedule(dev, NapiKind::Tx);
        }
        Ok(())
    }

    fn stop(&self, dev: NetDev<'_>, rtnl: &Rtnl<'_>) -> Result {
        for p in self.pairs.iter() {
            for kind in [NapiKind::Rx, NapiKind::Tx] {
                if let Some(napi) = dev.napi(p.pair, kind) {
                    napi.disable(rtnl);
                }
            }
        }
        Ok(())
    }

    fn start_xmit(&self, dev: NetDev<'_>, skb: Skb, queue: u32, more: bool) -> Xmit {
        match self.pairs.get(queue as usize) {
            Some(p) => p.xmit(dev, skb, queue, more),
            None => {
                skb.drop_with(crate::net::DropReason::NotSpecified);
                if let Some(p) = self.pair0() {
                    p.tx_stats.drop_one();
                }
                Xmit::Ok
            }
        }
    }

    fn set_mac_address(&self, _dev: NetDev<'_>, mac: &[u8; ETH_ALEN]) -> Result {
        // With CTRL_MAC_ADDR the device is told first, and a refusal keeps
        // the old address. Without it the device is not told (as the C
        // driver on a modern device): the address changes for the stack.
        self.ctrl_mac_addr(mac)
    }

    fn change_mtu(&self, _dev: NetDev<'_>, _mtu: u32) -> Result {
        // The interface's range already holds the MTU to what the receive
        // buffers take (small mode: the MTU at probe).
        Ok(())
    }

    fn get_stats64(&self, s: &mut Stats) {
        for p in self.pairs.iter() {
            let add = |t: &mut u64, c: &Atomic<u64>| *t = t.wrapping_add(c.load(Relaxed));
            add(&mut s.rx_packets, &p.rx_stats.packets);
            add(&mut s.rx_bytes, &p.rx_stats.bytes);
            add(&mut s.rx_dropped, &p.rx_stats.drops);
            add(&mut s.rx_errors, &p.rx_stats.errors);
            add(&mut s.rx_length_errors, &p.rx_length_errors);
            add(&mut s.tx_packets, &p.tx_stats.packets);
            add(&mut s.tx_bytes, &p.tx_stats.bytes);
            add(&mut s.tx_dropped, &p.tx_stats.drops);
            add(&mut s.tx_errors, &p.tx_stats.errors);
        }
    }

    fn set_rx_mode(&self, dev: NetDev<'_>) {
        self.ctrl_rx_mode(dev);
    }

    fn set_features(&self, dev: NetDev<'_>, features: Offloads) -> Result {
        let _ = dev;
        self.ctrl_offloads(features)
    }

    fn announce(&self, _dev: NetDev<'_>) {
        self.ctrl_announce_ack();
    }

    fn vlan_rx_add_vid(&self, _dev: NetDev<'_>, vid: u16) -> Result {
        self.ctrl_vlan(ctrl::VLAN_ADD, vid)
    }

    fn vlan_rx_kill_vid(&self, _dev: NetDev<'_>, vid: u16) -> Result {
        self.ctrl_vlan(ctrl::VLAN_DEL, vid)
    }

    fn tx_timeout(&self, dev: NetDev<'_>, queue: u32) {
        // As the C driver's virtnet_tx_timeout: counted (ethtool -S
        // txN_timeouts) and logged; the stack's watchdog goes on.
        let Some(p) = self.pairs.get(queue as usize) else {
            return;
        };
        p.tx_timeouts.fetch_add(1, Relaxed);
        pr_err!(
            "rvirtio_net: TX timeout on queue {} (virtqueue {}, {} free descriptors), {} usecs ago\n",
            queue,
            p.tx.index(),
            p.tx.num_free(),
            dev.txq(queue).map_or(0, |t| t.stalled_us())
        );
        // Reclaim whatever completed meanwhile.
        p.schedule(dev, NapiKind::Tx);
    }

    fn poll(
        &self,
        dev: NetDev<'_>,
        poll: NapiPoll<'_>,
        queue: u32,
        kind: NapiKind,
        budget: u32,
    ) -> u32 {
        let Some(p) = self.pairs.get(queue as usize) else {
            return 0;
        };
        match kind {
            NapiKind::Rx => {
                let done = p.poll_rx(&poll, budget);
                if self.failed.load(Relaxed) && dev.carrier_ok() {
                    dev.set_carrier(false);
                }
                done
            }
            NapiKind::Tx => p.poll_tx(dev, &poll, budget),
        }
    }
}

impl EthtoolOps for Nic {
    fn link(&self) -> Link {
        Link {
            speed: self.speed.load(Relaxed),
            duplex: u8::try_from(self.duplex.load(Relaxed)).unwrap_or(DUPLEX_UNKNOWN),
        }
    }

    fn set_link(&self, link: Link) -> Result {
        // As the C driver: the reported values change (the shim checked
        // them), the device is not told.
        self.speed.store(link.speed, Relaxed);
        self.duplex.store(u32::from(link.duplex), Relaxed);
        Ok(())
    }

    fn rings(&self) -> Rings {
        let (rx, tx) = self
            .pair0()
            .map_or((0, 0), |p| (u32::from(p.rx.size()), u32::from(p.tx.size())));
        Rings {
            rx_max: rx,
            rx,
            tx_max: tx,
            tx,
        }
    }

    fn channels(&self) -> Channels {
        Channels {
            max_combined: self.max_pairs(),
            combined: self.curr_pairs(),
        }
    }

    fn set_channels(&self, dev: NetDev<'_>, rtnl: &Rtnl<'_>, n: u32) -> Result {
        let old = self.curr_pairs();
        if n == old {
            return Ok(());
        }
        if n == 0 || n > self.max_pairs() {
            return Err(EINVAL);
        }
        if n < old {
            // The stack stops sending on the queues above first (and
            // waits for senders in flight), then the device is told.
            dev.set_real_num_queues(rtnl, n)?;
            if let Err(e) = self.ctrl_vq_pairs(n) {
                let _ = dev.set_real_num_queues(rtnl, old);
                return Err(e);
            }
        } else {
            // The device first: the stack must not send on a queue the
            // device does not serve yet.
            self.ctrl_vq_pairs(n)?;
            if let Err(e) = dev.set_real_num_queues(rtnl, n) {
                let _ = self.ctrl_vq_pairs(old);
                return Err(e);
            }
        }
        self.curr.store(n, Relaxed);
        self.set_affinity(dev);
        // Pairs leaving: their completions reclaimed (their receive
        // buffers stay posted, unused); pairs joining: refilled.
        for p in self.pairs.iter() {
            p.schedule(dev, NapiKind::Tx);
            p.schedule(dev, NapiKind::Rx);
        }
        Ok(())
    }

    fn stats_count(&self) -> u32 {
        // CAST: a short constant list, times the pairs (at most 0x8000).
        (STAT_NAMES.len() as u32).saturating_mul(self.max_pairs())
    }

    fn stat_name(&self, i: u32, name: &mut StatName<'_>) {
        // CAST: a short constant list.
        let per = STAT_NAMES.len() as u32;
        let (Some(pair), Some(k)) = (i.checked_div(per), i.checked_rem(per)) else {
            return;
        };
        if let Some((dir, s)) = STAT_NAMES.get(k as usize) {
            let _ = write!(name, "{}{}_{}", dir, pair, s);
        }
    }

    fn stats(&self, values: &mut [u64]) {
        for (p, vals) in self.pairs.iter().zip(values.chunks_mut(STAT_NAMES.len())) {
            let (rq, tq) = (p.rx.stats(), p.tx.stats());
            let all = [
                p.rx_stats.packets.load(Relaxed),
                p.rx_stats.bytes.load(Relaxed),
                p.rx_stats.drops.load(Relaxed),
                p.rx_length_errors.load(Relaxed),
                rq.kicks(),
                rq.interrupts(),
                p.tx_stats.packets.load(Relaxed),
                p.tx_stats.bytes.load(Relaxed),
                p.tx_stats.drops.load(Relaxed),
                tq.kicks(),
                tq.interrupts(),
                p.tx_timeouts.load(Relaxed),
            ];
            for (v, a) in vals.iter_mut().zip(all) {
                *v = a;
            }
        }
    }
}

/// The `ethtool -S` counters of pair N (`rxN_packets`, ...), in the
/// order [`EthtoolOps::stats`] gives them: per queue, packets, bytes,
/// drops (invalid packets among them, for receive), kicks (notifications)
/// and interrupts; and the transmit watchdog's timeouts.
const STAT_NAMES: [(&str, &str); 12] = [
    ("rx", "packets"),
    ("rx", "bytes"),
    ("rx", "drops"),
    ("rx", "invalid"),
    ("rx", "kicks"),
    ("rx", "interrupts"),
    ("tx", "packets"),
    ("tx", "bytes"),
    ("tx", "drops"),
    ("tx", "kicks"),
    ("tx", "interrupts"),
    ("tx", "timeouts"),
];
