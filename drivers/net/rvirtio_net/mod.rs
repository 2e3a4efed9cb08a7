// SPDX-License-Identifier: GPL-2.0

//! The driver's state behind the interface ([`Net`]): the queue pair, the
//! negotiated protocol, the statistics, and the interface callbacks.
//! Receive is in `rx`, transmit in `tx`.

mod ctrlq;
pub mod features;
mod rx;
mod tx;

use crate::{
    kext::dma::DmaDevice,
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
            self as vnet,
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

/// The driver's state of one device.
pub struct Net {
    /// Receive queue 0.
    pub rx: Arc<Queue<Token>>,
    /// Transmit queue 0.
    pub tx: Arc<Queue<Token>>,
    dma: DmaDevice,
    config: Arc<DeviceConfig>,
    negotiated: Features,
    order: ByteOrder,
    mode: RxMode,
    hdr_len: usize,
    /// The receive ring's refill.
    pub(crate) refill: Arc<rx::Refill>,
    rx_offloads: RxOffloads,
    tx_offloads: TxOffloads,
    /// Speed and duplex from the configuration.
    dev_config: Config,
    rx_stats: DirStats,
    tx_stats: DirStats,
    /// Packets the device described wrongly (dropped).
    rx_length_errors: Atomic<u64>,
    /// To fail the device.
    status: Arc<DeviceStatus>,
    /// The driver failed the device (too many invalid packets).
    failed: Atomic<bool>,
    /// The control queue, with CTRL_VQ.
    pub ctrl: Option<Arc<Ctrl>>,
}

impl Net {
    /// The state for a device with these queues and negotiated features.
    #[expect(clippy::too_many_arguments, reason = "one constructor, called once")]
    pub fn new(
        rx: Arc<Queue<Token>>,
        tx: Arc<Queue<Token>>,
        dma: DmaDevice,
        config: Arc<DeviceConfig>,
        status: Arc<DeviceStatus>,
        negotiated: Features,
        order: ByteOrder,
        mode: RxMode,
        mtu: u16,
        dev_config: Config,
        ctrl: Option<Arc<Queue<Token>>>,
    ) -> Result<impl PinInit<Self, Error>> {
        let hdr_len = vnet::header_len(negotiated);
        let rx_buf_len = u32::try_from(vnet::rx_buf_len(
            mode,
            hdr_len,
            mtu,
            vnet::guest_gso(negotiated),
        ))
        .map_err(|_| EINVAL)?;
        let merge_min = vnet::mergeable_min_len(hdr_len, mtu, rx.size());
        let refill = rx::Refill::new(
            rx.clone(),
            dma.clone(),
            mode,
            hdr_len,
            rx_buf_len,
            merge_min,
        )?;
        let rx_offloads = RxOffloads::negotiated(negotiated);
        let ctrl = match ctrl {
            Some(q) => Some(Ctrl::new(q, dma.clone(), rx_offloads.to_bits())?),
            None => None,
        };
        let tx_offloads = TxOffloads::negotiated(negotiated);
        Ok(try_init!(Self {
            rx,
            tx,
            dma,
            config,
            negotiated,
            order,
            mode,
            hdr_len,
            refill,
            rx_offloads,
            tx_offloads,
            dev_config,
            rx_stats: DirStats::new(),
            tx_stats: DirStats::new(),
            rx_length_errors: Atomic::new(0),
            status,
            failed: Atomic::new(false),
            ctrl,
        }? Error))
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
    /// nothing more received (the carrier goes down at the next link
    /// update, and stays down).
    fn fail(&self) {
        pr_err!(
            "rvirtio_net: {} invalid packets: failing the device\n",
            rx::MAX_INVALID
        );
        self.failed.store(true, Relaxed);
        self.status.fail();
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

    /// Schedules queue pair 0's `kind` poll (its interrupts off while it
    /// runs), unless it is already scheduled or disabled.
    fn schedule(&self, dev: NetDev<'_>, kind: NapiKind) {
        let q = match kind {
            NapiKind::Rx => &self.rx,
            NapiKind::Tx => &self.tx,
        };
        if let Some(napi) = dev.napi(0, kind) {
            napi.schedule(|| q.disable_cb());
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

impl NetDeviceOps for Net {
    fn open(&self, dev: NetDev<'_>) -> Result {
        for kind in [NapiKind::Rx, NapiKind::Tx] {
            if let Some(napi) = dev.napi(0, kind) {
                napi.enable();
            }
        }
        if let Some(txq) = dev.txq(0) {
            if self.tx_has_room() {
                txq.start();
            }
        }
        // Packets that arrived while down, completions, and the refill.
        self.schedule(dev, NapiKind::Rx);
        self.schedule(dev, NapiKind::Tx);
        Ok(())
    }

    fn stop(&self, dev: NetDev<'_>) -> Result {
        for kind in [NapiKind::Rx, NapiKind::Tx] {
            if let Some(napi) = dev.napi(0, kind) {
                napi.disable();
            }
        }
        Ok(())
    }

    fn start_xmit(&self, dev: NetDev<'_>, skb: Skb, queue: u32, more: bool) -> Xmit {
        self.xmit(dev, skb, queue, more)
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
        s.rx_packets = self.rx_stats.packets.load(Relaxed);
        s.rx_bytes = self.rx_stats.bytes.load(Relaxed);
        s.rx_dropped = self.rx_stats.drops.load(Relaxed);
        s.rx_errors = self.rx_stats.errors.load(Relaxed);
        s.rx_length_errors = self.rx_length_errors.load(Relaxed);
        s.tx_packets = self.tx_stats.packets.load(Relaxed);
        s.tx_bytes = self.tx_stats.bytes.load(Relaxed);
        s.tx_dropped = self.tx_stats.drops.load(Relaxed);
        s.tx_errors = self.tx_stats.errors.load(Relaxed);
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
        pr_warn!(
            "rvirtio_net: transmit queue {} timed out ({} free descriptors)\n",
            queue,
            self.tx.num_free()
        );
        self.schedule(dev, NapiKind::Tx);
    }

    fn poll(
        &self,
        dev: NetDev<'_>,
        poll: NapiPoll<'_>,
        queue: u32,
        kind: NapiKind,
        budget: u32,
    ) -> u32 {
        if queue != 0 {
            return 0;
        }
        match kind {
            NapiKind::Rx => {
                let done = self.poll_rx(&poll, budget);
                if self.failed.load(Relaxed) && dev.carrier_ok() {
                    dev.set_carrier(false);
                }
                done
            }
            NapiKind::Tx => self.poll_tx(dev, &poll, budget),
        }
    }
}

impl EthtoolOps for Net {
    fn link(&self) -> Link {
        Link {
            speed: self.dev_config.speed.unwrap_or(SPEED_UNKNOWN),
            duplex: match self.dev_config.duplex {
                Duplex::Half => DUPLEX_HALF,
                Duplex::Full => DUPLEX_FULL,
                Duplex::Unknown => DUPLEX_UNKNOWN,
            },
        }
    }

    fn rings(&self) -> Rings {
        Rings {
            rx_max: u32::from(self.rx.size()),
            rx: u32::from(self.rx.size()),
            tx_max: u32::from(self.tx.size()),
            tx: u32::from(self.tx.size()),
        }
    }

    fn channels(&self) -> Channels {
        Channels {
            max_combined: 1,
            combined: 1,
        }
    }

    fn stats_count(&self) -> u32 {
        // CAST: a short constant list.
        STAT_NAMES.len() as u32
    }

    fn stat_name(&self, i: u32, name: &mut StatName<'_>) {
        if let Some(s) = STAT_NAMES.get(i as usize) {
            let _ = name.write_str(s);
        }
    }

    fn stats(&self, values: &mut [u64]) {
        let (rq, tq) = (self.rx.stats(), self.tx.stats());
        let all = [
            self.rx_stats.packets.load(Relaxed),
            self.rx_stats.bytes.load(Relaxed),
            self.rx_stats.drops.load(Relaxed),
            self.rx_length_errors.load(Relaxed),
            rq.kicks(),
            rq.interrupts(),
            self.tx_stats.packets.load(Relaxed),
            self.tx_stats.bytes.load(Relaxed),
            self.tx_stats.drops.load(Relaxed),
            tq.kicks(),
            tq.interrupts(),
        ];
        for (v, a) in values.iter_mut().zip(all) {
            *v = a;
        }
    }
}

/// The `ethtool -S` counters, in the order [`EthtoolOps::stats`] gives
/// them: per queue, packets, bytes, drops (invalid packets among them, for
/// receive), kicks (notifications) and interrupts.
const STAT_NAMES: [&str; 11] = [
    "rx0_packets",
    "rx0_bytes",
    "rx0_drops",
    "rx0_invalid",
    "rx0_kicks",
    "rx0_interrupts",
    "tx0_packets",
    "tx0_bytes",
    "tx0_drops",
    "tx0_kicks",
    "tx0_interrupts",
];
