// SPDX-License-Identifier: GPL-2.0

//! rvirtio_net: the virtio network device (virtio 1.4 §5.1) as a Linux
//! network interface, on the project's netdev layer (`rust/kext/net`).
//!
//! Queue pairs (with `VIRTIO_NET_F_MQ`, one per online CPU up to the
//! device's `max_virtqueue_pairs`, changed with `ethtool -L`): receive
//! queue `2i` and transmit queue `2i + 1`, each with a NAPI context
//! scheduled from its interrupt, the pair's interrupts and XPS on the
//! pair's CPUs. Receive buffers are page
//! fragments: with `VIRTIO_NET_F_MRG_RXBUF` a packet spans `num_buffers`
//! of them, sized by the moving average of packet lengths (the C driver's
//! EWMA); without it each holds a whole frame (small buffers). Every field
//! the device supplies (used length, `num_buffers`, the header's flags,
//! GSO type and size, `hdr_len`, checksum start and offset) is checked by
//! the core (`virtio::net`) before the kernel sees the packet; a bad
//! packet is dropped and counted. Transmit maps the header (in the skb's
//! control buffer), the linear part and every fragment as one
//! device-readable chain (indirect where the ring offers it), with
//! byte queue limits; completions are reclaimed in the transmit NAPI
//! poll. Offloads (checksum both ways, TSO4/6 with ECN, UFO and USO both ways) follow
//! the negotiated features. The link comes from `status` (with
//! `VIRTIO_NET_F_STATUS`) on every configuration interrupt; the address
//! from the configuration (`VIRTIO_NET_F_MAC`) or random; the MTU from
//! the device (`VIRTIO_NET_F_MTU`).
//!
//! With `VIRTIO_NET_F_CTRL_VQ` a control queue carries, one at a time and
//! each waited for asleep with a bound, the receive mode (promiscuous,
//! allmulti) and MAC table, MAC_ADDR_SET, the VLAN filter, the receive
//! offloads (`ethtool -K rx`/`rx-gro-hw`: GUEST_OFFLOADS_SET) and the
//! acknowledgement of an announcement (GUEST_ANNOUNCE: the peers are
//! notified first).
//!
//! Without `VIRTIO_NET_F_MRG_RXBUF` but with a receive GSO offload (or an
//! MTU above 1500), a receive buffer is a chain of pages large enough for
//! a whole packet (big-packet mode). UFO and USO are offloaded both ways
//! when negotiated.
//!
//! C version of this driver: `drivers/net/virtio_net.c`.

use kernel::{
    device::{
        Bound,
        Device, //
    },
    prelude::*,
    sync::{
        atomic::Atomic,
        Arc, //
    },
};

#[path = "../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../rust/kvirtio/mod.rs"]
pub mod kvirtio;

#[path = "../../rust/kext/net/mod.rs"]
pub mod net;

pub mod rvirtio_net;

use kvirtio::{
    driver::{
        Driver,
        Setup, //
    },
    queue::QueueSpec,
};
use net::{
    Config as NetConfig,
    Registration, //
};
use rvirtio_net::{
    features::{
        self,
        offloads, //
    },
    Net,
    Nic,
    PairCommon,
    Token, //
};
use virtio::{
    features::DriverFeatures,
    net::{
        self as vnet,
        wire::{
            config as cfg,
            feature as f,
            ETH_ALEN, //
        },
        RawConfig, RxMode, RxOffloads, TxOffloads,
    },
    spec::DeviceId,
    wire::ByteOrder,
};

crate::module_virtio_driver! {
    type: RvirtioNet,
    name: "rvirtio_net",
    authors: ["rvirtio developers"],
    description: "virtio network device, in Rust",
    license: "GPL",
    params: {
        force_legacy: u32 {
            default: 0,
            description: "Use the legacy interface of transitional devices (0: modern first)",
        },
    },
}

/// The driver.
pub struct RvirtioNet;

/// Largest ring the driver asks for.
const RING_MAX: u16 = 1024;

/// Largest control ring (one command at a time, plus any that timed out).
const CTRL_RING_MAX: u16 = 64;

/// Per-device driver data: the interface, which owns the driver's state.
pub struct NetData {
    reg: Registration<Nic>,
}

impl Driver for RvirtioNet {
    const DEVICE_ID: DeviceId = DeviceId::NET;
    const NAME: &'static CStr = c"rvirtio_net";
    const FEATURES: DriverFeatures<'static> = features::DRIVER;
    type Data = NetData;
    // The driver places each pair's interrupts on the pair's CPUs.
    const SPREAD_QUEUE_IRQS: bool = false;

    fn force_legacy() -> bool {
        *module_parameters::force_legacy.value() != 0
    }

    fn probe(setup: &mut Setup<'_>) -> Result<NetData> {
        let negotiated = setup.features();
        let has = |x| negotiated.contains(x);
        let (mac_f, mtu_f, sd_f, mq_f) =
            (has(f::MAC), has(f::MTU), has(f::SPEED_DUPLEX), has(f::MQ));
        let raw = setup.read_config(|r| {
            let mut mac = [0u8; ETH_ALEN];
            if mac_f {
                r.read_bytes(cfg::MAC, &mut mac)?;
            }
            Ok(RawConfig {
                mac,
                max_virtqueue_pairs: if mq_f {
                    r.read_u16(cfg::MAX_VIRTQUEUE_PAIRS)?
                } else {
                    1
                },
                mtu: if mtu_f { r.read_u16(cfg::MTU)? } else { 0 },
                speed: if sd_f { r.read_u32(cfg::SPEED)? } else { 0 },
                duplex: if sd_f { r.read_u8(cfg::DUPLEX)? } else { 0 },
            })
        })?;
        let (config, issues) = vnet::config(negotiated, &raw);
        for issue in issues.iter().flatten() {
            if issue.is_fatal() {
                // The control queue's index follows max_virtqueue_pairs.
                dev_err!(
                    setup.device(),
                    "invalid configuration: {:?} (1..=0x8000 with MQ)\n",
                    issue
                );
                return Err(EINVAL);
            }
            dev_warn!(
                setup.device(),
                "configuration value not used: {:?}\n",
                issue
            );
        }
        let mtu = config.mtu.unwrap_or(1500);
        let mode = vnet::rx_mode(negotiated, mtu);
        let max_frags =
            u16::try_from(net::max_skb_frags().saturating_add(2)).map_err(|_| EINVAL)?;
        // Big-packet buffers: one indirect table of their pages each.
        let rx_indirect = match mode {
            RxMode::Big => rvirtio_net::rx_indirect(negotiated, mtu)?,
            RxMode::Small | RxMode::Mergeable => 0,
        };
        let rx_spec = QueueSpec {
            max_size: RING_MAX,
            max_indirect: rx_indirect,
            callback: true,
        };
        let tx_spec = QueueSpec {
            max_size: RING_MAX,
            max_indirect: max_frags,
            callback: true,
        };
        // As many pairs as CPUs, up to the device's; the control queue
        // after all of the device's (§5.1.2), those not used left unset.
        let dev_max = config.max_pairs;
        let used = u16::try_from(net::online_cpus().clamp(1, u32::from(dev_max))).unwrap_or(1);
        let nspecs = if has(f::CTRL_VQ) {
            usize::from(vnet::vq::ctrl(dev_max).ok_or(EINVAL)?).saturating_add(1)
        } else {
            usize::from(used).saturating_mul(2)
        };
        let mut specs = KVec::with_capacity(nspecs, GFP_KERNEL)?;
        for i in 0..nspecs {
            let spec = match i {
                i if i >= usize::from(dev_max) * 2 => QueueSpec::new(CTRL_RING_MAX),
                i if i >= usize::from(used) * 2 => QueueSpec::UNUSED,
                i if i % 2 == 0 => rx_spec,
                _ => tx_spec,
            };
            specs.push(spec, GFP_KERNEL)?;
        }
        let mut queues = setup.find_queues::<Token>(&specs)?;
        let ctrl = if has(f::CTRL_VQ) {
            Some(queues.pop().ok_or(ENODEV)?)
        } else {
            None
        };
        let order = ByteOrder::for_interface(setup.is_legacy());
        let common = PairCommon {
            dma: setup.dma(),
            status: setup.device_status()?,
            negotiated,
            order,
            mode,
            mtu,
            failed: Arc::new(Atomic::new(false), GFP_KERNEL)?,
        };
        let mut pairs = KVec::with_capacity(usize::from(used), GFP_KERNEL)?;
        let mut irqs = KVec::with_capacity(usize::from(used), GFP_KERNEL)?;
        let mut it = queues.into_iter();
        for p in 0..used {
            let (Some(rx), Some(tx)) = (it.next(), it.next()) else {
                return Err(ENODEV);
            };
            let mut pi = KVec::new();
            for q in [rx.index(), tx.index()] {
                if let Some(irq) = setup.queue_irq(q) {
                    pi.push(irq, GFP_KERNEL)?;
                }
            }
            irqs.push(pi, GFP_KERNEL)?;
            pairs.push(Net::new(u32::from(p), rx, tx, &common)?, GFP_KERNEL)?;
        }
        let rx_off = RxOffloads::negotiated(negotiated);
        let tx_off = TxOffloads::negotiated(negotiated);
        let (hw, mut on) = offloads(rx_off, tx_off, has(f::CTRL_GUEST_OFFLOADS));
        if has(f::CTRL_VLAN) {
            on = on.with(net::Offloads::VLAN_FILTER);
        }
        let max_mtu = match (config.mtu, mode) {
            (Some(m), _) => m,
            // Big mode without the MTU feature: receive GSO, buffers of a
            // GSO packet.
            (None, RxMode::Mergeable | RxMode::Big) => u16::MAX
                .saturating_sub(vnet::ETH_HLEN as u16)
                .saturating_sub(vnet::VLAN_HLEN as u16),
            (None, _) => 1500,
        };
        let state = Nic::new(
            pairs,
            irqs,
            dev_max,
            setup.device_config()?,
            &common,
            config,
            ctrl,
        )?;
        let reg = Registration::new(
            setup.device(),
            &NetConfig {
                max_pairs: u32::from(used),
                pairs: 1,
                hw_offloads: hw,
                offloads: on,
                min_mtu: u32::from(vnet::MIN_MTU),
                max_mtu: u32::from(max_mtu),
                mtu: u32::from(mtu),
                mac: config.mac,
                version: c"",
            },
            Ok::<_, Error>(state),
        )?;
        Ok(NetData { reg })
    }

    fn ready(data: &NetData, dev: &Device<Bound>) -> Result {
        let nic = data.reg.ops();
        // Receive buffers first: the device may deliver as soon as the
        // interface is up (on every pair, once told to use them).
        for p in nic.pairs.iter() {
            p.refill.fill();
        }
        let pairs = nic.start_pairs(|n| data.reg.set_real_num_queues(n));
        nic.set_affinity(data.reg.dev());
        data.reg.register()?;
        nic.update_link(data.reg.dev());
        if let Some(p) = nic.pair0() {
            if p.rx_mode() == RxMode::Big {
                dev_info!(
                    dev,
                    "{} receive buffers, mode Big ({} pages a buffer), header {} bytes, {} of {} queue pairs\n",
                    p.rx_posted(),
                    p.rx_big_pages(),
                    p.hdr_len(),
                    pairs,
                    nic.pairs.len()
                );
            } else {
                dev_info!(
                    dev,
                    "{} receive buffers, mode {:?}, header {} bytes, {} of {} queue pairs\n",
                    p.rx_posted(),
                    p.rx_mode(),
                    p.hdr_len(),
                    pairs,
                    nic.pairs.len()
                );
            }
        }
        Ok(())
    }

    fn queue_interrupt(data: &NetData, queue: u16) {
        data.reg.ops().queue_interrupt(data.reg.dev(), queue);
    }

    fn config_changed(data: &NetData) {
        data.reg.ops().update_link(data.reg.dev());
    }

    fn remove(data: &NetData) {
        // Every callback has returned after this; the buffers go back when
        // the data is dropped, after the device is reset.
        data.reg.unregister();
        for p in data.reg.ops().pairs.iter() {
            p.refill.stop();
        }
    }
}
