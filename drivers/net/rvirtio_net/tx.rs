// SPDX-License-Identifier: GPL-2.0

//! Transmit: a packet becomes the header (from the core's [`tx_header`])
//! and the packet's parts as one device-readable chain; completions are
//! reclaimed in the transmit NAPI poll, with byte queue limits.

use super::*;
use crate::{
    net::{
        max_skb_frags,
        DropReason, //
    },
    virtio::{
        features::Feature,
        net::{
            tx_header,
            wire::HDR_LEN_MAX,
            TxMeta, //
        },
        queue::Buf,
    },
};

/// Most elements of a packet: header, linear part and the fragments
/// (`MAX_SKB_FRAGS` is at most 45).
const MAX_BUFS: usize = 48;

impl Net {
    /// Descriptors a packet may need when the ring cannot use an indirect
    /// table: the header, the linear part and every fragment.
    fn tx_need(&self) -> u16 {
        u16::try_from(max_skb_frags().saturating_add(2)).unwrap_or(u16::MAX)
    }

    /// Whether the device takes the header and data in one element
    /// (VERSION_1, or ANY_LAYOUT on a legacy interface).
    fn any_layout(&self) -> bool {
        self.negotiated.contains(Feature::VERSION_1)
            || self.negotiated.contains(Feature::ANY_LAYOUT)
    }

    /// Whether the ring has room for any packet.
    pub(super) fn tx_has_room(&self) -> bool {
        self.tx.num_free() >= self.tx_need()
    }

    /// Queues one packet on transmit queue `queue`.
    pub(super) fn xmit(&self, dev: NetDev<'_>, skb: Skb, queue: u32, more: bool) -> Xmit {
        let Some(txq) = dev.txq(queue).filter(|_| queue == self.pair) else {
            skb.drop_with(DropReason::NotSpecified);
            self.tx_stats.drop_one();
            return Xmit::Ok;
        };
        let mtu = u16::try_from(dev.mtu()).unwrap_or(u16::MAX);
        match self.queue_skb(skb, vnet::max_frame(mtu)) {
            Some(len) => {
                let _ = txq.sent(len);
            }
            None => self.tx_stats.drop_one(),
        }
        if !self.tx_has_room() {
            txq.stop();
            // A completion may have made room between the check and the
            // stop (it saw the queue running and did not wake it).
            if self.tx_has_room() {
                txq.start();
            } else if !self.tx.enable_cb_delayed().unwrap_or(true) {
                // Completions are already pending: reclaim them now.
                self.schedule(dev, NapiKind::Tx);
            }
        }
        if !more || txq.is_stopped() {
            let _ = self.tx.kick();
        }
        Xmit::Ok
    }

    /// Maps `skb` with its header and adds it to the ring; returns its
    /// length, or `None` when it was dropped.
    fn queue_skb(&self, skb: Skb, max_frame: usize) -> Option<u32> {
        let info = skb.tx_info();
        let gso = match info.gso {
            None if !info.gso_unknown => None,
            Some(g) => match u16::try_from(info.headlen) {
                Ok(hdr_len) => Some((g, hdr_len)),
                Err(_) => {
                    skb.drop_with(DropReason::NotSpecified);
                    return None;
                }
            },
            None => {
                skb.drop_with(DropReason::NotSpecified);
                return None;
            }
        };
        let meta = TxMeta {
            csum: info.csum,
            gso,
            // CAST: a `u32` fits `usize`.
            len: info.len as usize,
        };
        let Ok(h) = tx_header(&meta, self.tx_offloads, max_frame) else {
            skb.drop_with(DropReason::NotSpecified);
            return None;
        };
        let mut hb = [0u8; HDR_LEN_MAX];
        let hbytes = match h.encode(&mut hb, self.hdr_len, self.order) {
            Some(()) => hb.get(..self.hdr_len)?,
            None => {
                skb.drop_with(DropReason::NotSpecified);
                return None;
            }
        };
        let t = match TxSkb::map(skb, &self.dma, hbytes, self.any_layout()) {
            Ok(t) => t,
            Err((_, skb)) => {
                skb.drop_with(DropReason::NoMem);
                return None;
            }
        };
        let mut bufs = [Buf::new(0, 0); MAX_BUFS];
        let b = t.bufs(&mut bufs)?;
        let len = t.len();
        // The queue was stopped before it could fill: a failure is a
        // broken ring or no memory for the indirect table.
        self.tx.add(b, &[], Token::Tx(t)).ok()?;
        Some(len)
    }

    /// The transmit poll: reclaims every sent packet, reports them to BQL
    /// and wakes the queue when there is room.
    pub(super) fn poll_tx(&self, dev: NetDev<'_>, poll: &NapiPoll<'_>, budget: u32) -> u32 {
        let Some(txq) = dev.txq(self.pair) else {
            return 0;
        };
        // Under the transmit lock, as the C driver: BQL's sent and
        // completed counts never cross, and the wake below cannot race a
        // stop.
        let Some(txq) = txq.lock(poll) else {
            // Not reached: a poll never runs inside its queue's lock. The
            // poll still ends (else it would stay scheduled for good).
            self.complete(poll, &self.tx, 0);
            return 0;
        };
        let (mut pkts, mut bytes) = (0u32, 0u32);
        // Until empty, or broken (the device is failed).
        while let Ok(Some(u)) = self.tx.get_used() {
            if let Token::Tx(t) = u.token {
                pkts = pkts.saturating_add(1);
                bytes = bytes.saturating_add(t.len());
                self.tx_stats.packet(u64::from(t.len()));
                t.complete(poll, budget);
            }
        }
        if pkts != 0 {
            let _ = txq.completed(pkts, bytes);
        }
        if txq.is_stopped() && self.tx_has_room() {
            txq.wake();
        }
        drop(txq);
        self.complete(poll, &self.tx, 0);
        0
    }
}
