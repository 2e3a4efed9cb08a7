// SPDX-License-Identifier: GPL-2.0

//! The control queue (`VIRTIO_NET_F_CTRL_VQ`, §5.1.6.5): one command at a
//! time, each waiting for the device with a bound, asleep.
//!
//! A command is its class and command bytes and its data (encoded by the
//! core, [`vnet::ctrl_header`] and friends) in one device-readable
//! buffer, then a device-writable ack byte. The caller sleeps until the
//! control queue's used-buffer interrupt wakes it, at most
//! [`CTRL_TIMEOUT_MS`]; the C driver spins on the ring instead. A device
//! that does not answer in time gives `ETIMEDOUT`; its buffers stay owned
//! by the queue (the token) until the device uses them, which a later
//! command reaps and discards by sequence number, or until the reset at
//! removal hands them back: nothing the device may still write is freed.

use super::*;
use crate::{
    kext::{
        dma::MappedBuffer,
        sync::SpinLockIrq, //
    },
    net::Offloads,
    new_spinlock_irq,
    virtio::{
        features::Feature,
        net::{ctrl_ack_ok, ctrl_header},
        queue::Buf,
    },
};
use kernel::{
    dma::DataDirection,
    new_condvar, new_mutex,
    sync::{
        CondVar,
        CondVarTimeoutResult,
        Mutex, //
    },
    time::msecs_to_jiffies,
};

/// How long a command waits for the device.
pub(super) const CTRL_TIMEOUT_MS: u32 = 2000;

/// A command with the device: its buffers, owned by the queue until used.
pub struct CtrlBuf {
    seq: u64,
    _out: MappedBuffer,
    ack: MappedBuffer,
}

/// The control queue and its command lock.
#[pin_data]
pub struct Ctrl {
    q: Arc<Queue<Token>>,
    dma: DmaDevice,
    /// Serialises commands; holds the sequence number of the next one.
    #[pin]
    cmd: Mutex<u64>,
    /// Interrupts seen (taken by the interrupt before it wakes `done`, so
    /// a waiter that checked the ring under it cannot miss the wake-up).
    #[pin]
    irq: SpinLockIrq<u64>,
    #[pin]
    done: CondVar,
    /// Commands that timed out.
    timeouts: Atomic<u64>,
    /// The receive offloads the device has (GUEST_OFFLOADS_SET bits;
    /// written under RTNL).
    guest_offloads: Atomic<u64>,
}

impl Ctrl {
    /// The control state of queue `q`, the device's receive offloads
    /// being `guest_offloads` (all negotiated ones, after the reset).
    pub fn new(q: Arc<Queue<Token>>, dma: DmaDevice, guest_offloads: u64) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                q,
                dma,
                cmd <- new_mutex!(0, "rvirtio_net::Ctrl::cmd"),
                irq <- new_spinlock_irq!(0, "rvirtio_net::Ctrl::irq"),
                done <- new_condvar!("rvirtio_net::Ctrl::done"),
                timeouts: Atomic::new(0),
                guest_offloads: Atomic::new(guest_offloads),
            }),
            GFP_KERNEL,
        )
    }

    /// The control queue's used-buffer interrupt (hardirq).
    pub fn interrupt(&self) {
        let mut n = self.irq.lock();
        *n = n.wrapping_add(1);
        drop(n);
        self.done.notify_all();
    }

    /// Commands that timed out.
    pub fn timeouts(&self) -> u64 {
        self.timeouts.load(Relaxed)
    }

    /// Sends command `command` of `class` with `data`, and waits for the
    /// device's ack (process context, may sleep).
    ///
    /// # Errors
    ///
    /// `EIO` when the device refuses the command (or the queue is broken),
    /// `ETIMEDOUT` when it does not answer in [`CTRL_TIMEOUT_MS`],
    /// `EINTR` on a signal while waiting, `ENOSPC` when earlier unanswered
    /// commands fill the queue, `ENOMEM` and mapping errors.
    pub fn command(&self, class: u8, command: u8, data: &[u8]) -> Result {
        let mut seq = self.cmd.lock();
        let this = *seq;
        *seq = seq.wrapping_add(1);
        let mut out = KVec::with_capacity(data.len().saturating_add(2), GFP_KERNEL)?;
        out.extend_from_slice(&ctrl_header(class, command), GFP_KERNEL)?;
        out.extend_from_slice(data, GFP_KERNEL)?;
        let mut ack = KVec::new();
        // Anything but ACK_OK until the device writes it.
        ack.push(ctrl::ACK_ERR, GFP_KERNEL)?;
        let out = MappedBuffer::map(&self.dma, out, DataDirection::ToDevice).map_err(|(e, _)| e)?;
        let ack =
            MappedBuffer::map(&self.dma, ack, DataDirection::FromDevice).map_err(|(e, _)| e)?;
        let bufs = (
            [Buf::new(
                out.dma_addr(),
                u32::try_from(out.len()).map_err(|_| EINVAL)?,
            )],
            [Buf::new(ack.dma_addr(), 1)],
        );
        let token = Token::Ctrl(CtrlBuf {
            seq: this,
            _out: out,
            ack,
        });
        self.q
            .add_and_kick(&bufs.0, &bufs.1, token)
            .map_err(|(e, _)| e)?;
        let mut left = msecs_to_jiffies(CTRL_TIMEOUT_MS);
        let mut irq = self.irq.lock();
        loop {
            // Reap: ours, or a late answer to a command that timed out.
            while let Some(u) = self.q.get_used().map_err(|_| EIO)? {
                if let Token::Ctrl(b) = u.token {
                    if b.seq == this {
                        drop(irq);
                        let ack = b.ack.unmap();
                        return match ack.first() {
                            Some(&a) if u.len >= 1 && ctrl_ack_ok(a) => Ok(()),
                            _ => Err(EIO),
                        };
                    }
                }
            }
            match self.done.wait_interruptible_timeout(&mut irq, left) {
                CondVarTimeoutResult::Woken { jiffies } => left = jiffies,
                CondVarTimeoutResult::Timeout => {
                    self.timeouts.fetch_add(1, Relaxed);
                    return Err(ETIMEDOUT);
                }
                CondVarTimeoutResult::Signal { .. } => return Err(EINTR),
            }
        }
    }
}

/// Most addresses of each MAC_TABLE_SET table; past it the device is put
/// in promiscuous (unicast) or all-multicast (multicast) mode instead.
pub(super) const MAC_TABLE_MAX: usize = 64;

impl Nic {
    fn ctrl_if(&self, feature: Feature) -> Option<&Ctrl> {
        self.ctrl
            .as_deref()
            .filter(|_| self.negotiated.contains(feature))
    }

    /// VQ_PAIRS_SET to `pairs` (with MQ, §5.1.6.5.5): the device uses
    /// that many pairs once it answers. The device's refusal reaches
    /// `ethtool -L`. Without MQ only one pair exists: nothing to send.
    pub(super) fn ctrl_vq_pairs(&self, pairs: u32) -> Result {
        let Some(c) = self.ctrl_if(f::MQ) else {
            return if pairs == 1 { Ok(()) } else { Err(EINVAL) };
        };
        let pairs = u16::try_from(pairs).map_err(|_| EINVAL)?;
        let data =
            vnet::ctrl_vq_pairs(pairs, self.dev_max_pairs, self.order).map_err(|_| EINVAL)?;
        c.command(ctrl::CLASS_MQ, ctrl::MQ_VQ_PAIRS_SET, &data)
    }

    /// MAC_ADDR_SET (with CTRL_MAC_ADDR); nothing without it.
    pub(super) fn ctrl_mac_addr(&self, mac: &[u8; ETH_ALEN]) -> Result {
        match self.ctrl_if(f::CTRL_MAC_ADDR) {
            Some(c) => c.command(ctrl::CLASS_MAC, ctrl::MAC_ADDR_SET, mac),
            None => Ok(()),
        }
    }

    /// GUEST_OFFLOADS_SET for the interface's `features` (with
    /// CTRL_GUEST_OFFLOADS): receive checksums with RXCSUM, receive GSO
    /// with GRO_HW too. The device's refusal reaches `ethtool -K`.
    pub(super) fn ctrl_offloads(&self, features: Offloads) -> Result {
        let Some(c) = self.ctrl_if(f::CTRL_GUEST_OFFLOADS) else {
            return Ok(());
        };
        let o = self.rx_offloads.narrowed(
            features.contains(Offloads::RXCSUM),
            features.contains(Offloads::GRO_HW),
        );
        // Another switch changed (TSO, say): nothing to tell the device.
        if o.to_bits() == c.guest_offloads.load(Relaxed) {
            return Ok(());
        }
        c.command(
            ctrl::CLASS_GUEST_OFFLOADS,
            ctrl::GUEST_OFFLOADS_SET,
            &vnet::ctrl_offloads(o, self.order),
        )?;
        c.guest_offloads.store(o.to_bits(), Relaxed);
        Ok(())
    }

    /// ANNOUNCE_ACK after the peers were notified (GUEST_ANNOUNCE).
    pub(super) fn ctrl_announce_ack(&self) {
        let Some(c) = self.ctrl_if(f::GUEST_ANNOUNCE) else {
            return;
        };
        if let Err(e) = c.command(ctrl::CLASS_ANNOUNCE, ctrl::ANNOUNCE_ACK, &[]) {
            pr_warn!("rvirtio_net: announce ack failed: {:?}\n", e);
        }
    }

    /// VLAN ADD or DEL of `vid` (with CTRL_VLAN; the interface only filters
    /// VLANs then).
    pub(super) fn ctrl_vlan(&self, command: u8, vid: u16) -> Result {
        let Some(c) = self.ctrl_if(f::CTRL_VLAN) else {
            return Ok(());
        };
        let data = vnet::ctrl_vlan(vid, self.order).map_err(|_| EINVAL)?;
        c.command(ctrl::CLASS_VLAN, command, &data)
    }

    /// Promiscuous and all-multicast mode and the MAC table from the
    /// interface (with CTRL_RX; RTNL held). A refusal is logged, as the
    /// kernel's `set_rx_mode` has no caller to report to.
    pub(super) fn ctrl_rx_mode(&self, dev: NetDev<'_>) {
        let Some(c) = self.ctrl_if(f::CTRL_RX) else {
            return;
        };
        let mut uc = KVec::new();
        let mut mc = KVec::new();
        if uc
            .extend_from_slice(&[[0u8; ETH_ALEN]; MAC_TABLE_MAX], GFP_KERNEL)
            .is_err()
            || mc
                .extend_from_slice(&[[0u8; ETH_ALEN]; MAC_TABLE_MAX], GFP_KERNEL)
                .is_err()
        {
            return;
        }
        let flags = dev.rx_flags();
        let (uc_n, mc_n) = dev.addr_lists(&mut uc, &mut mc);
        let promisc = flags.promisc || uc_n > MAC_TABLE_MAX;
        let allmulti = flags.allmulti || mc_n > MAC_TABLE_MAX;
        for (cmd, on, name) in [
            (ctrl::RX_PROMISC, promisc, "promiscuous"),
            (ctrl::RX_ALLMULTI, allmulti, "allmulti"),
        ] {
            if let Err(e) = c.command(ctrl::CLASS_RX, cmd, &vnet::ctrl_rx_mode(on)) {
                pr_warn!(
                    "rvirtio_net: {} mode {} failed: {:?}\n",
                    name,
                    if on { "on" } else { "off" },
                    e
                );
            }
        }
        let uc = uc.get(..uc_n.min(MAC_TABLE_MAX)).unwrap_or(&[]);
        let mc = mc.get(..mc_n.min(MAC_TABLE_MAX)).unwrap_or(&[]);
        let Some(len) = vnet::mac_table_len(uc.len(), mc.len()) else {
            return;
        };
        let mut data = KVec::new();
        if data.extend_from_slice(&[0u8; 8], GFP_KERNEL).is_err()
            || data.resize(len, 0, GFP_KERNEL).is_err()
        {
            return;
        }
        let r = vnet::ctrl_mac_table(uc, mc, self.order, &mut data)
            .map_err(|_| EINVAL)
            .and_then(|n| {
                c.command(
                    ctrl::CLASS_MAC,
                    ctrl::MAC_TABLE_SET,
                    data.get(..n).unwrap_or(&[]),
                )
            });
        if let Err(e) = r {
            pr_warn!(
                "rvirtio_net: MAC table ({} unicast, {} multicast) failed: {:?}\n",
                uc.len(),
                mc.len(),
                e
            );
        }
    }
}
