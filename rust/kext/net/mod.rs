// SPDX-License-Identifier: GPL-2.0

//! Network devices: a `net_device` with driver-private data, its
//! `net_device_ops` ([`NetDeviceOps`]) and `ethtool_ops`
//! ([`EthtoolOps`]), NAPI, sk_buffs, TX queues with byte queue limits, and
//! the carrier: what the 7.2 kernel crate lacks (it has PHY support only,
//! and `linux/netdevice.h` is not in its bindings). A C shim
//! (`rust/helpers/net.c`) owns the `net_device` and forwards its callbacks
//! here; a module that uses this includes both (`#[path] mod net;` and
//! `#include "rust/helpers/net.c"` in its `helpers.c`).
//!
//! Every structure mirrored between the shim and this module, and the
//! kernel values it uses (drop reasons, duplex), are checked against the C
//! compiler's view ([`check_abi`], run before an interface is made).
//!
//! Lifetimes: a [`Registration`] owns the interface and the driver's
//! data; every callback gets the data as `&T` and the interface as a
//! [`NetDev`] borrowed for the call. Unregistering ends every
//! `net_device_ops` and `ethtool_ops` callback (the kernel closes the
//! interface, which disables NAPI, and waits for its callers); the data is
//! dropped after that, and the `net_device` freed last. Packets and
//! receive fragments ([`Skb`], [`RxFrag`]) are owned values: a mapped one
//! ([`TxSkb`], [`MappedRxFrag`]) is unmapped before the CPU can reach its
//! bytes or free it.
//!
//! C headers: [`include/linux/netdevice.h`](srctree/include/linux/netdevice.h),
//! [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h),
//! [`include/linux/ethtool.h`](srctree/include/linux/ethtool.h)
//!
//! Layout, one facet per file: this file has the driver's interface (the
//! two traits and what they exchange); `device` the interface
//! ([`Registration`], [`NetDev`]: registration, carrier, TX queues, BQL);
//! `napi` the NAPI contexts; `skb` packets and receive fragments;
//! `callbacks` the trampolines the shim calls; `abi` the shim's ABI
//! version and the layout checks; `ffi` the C declarations.

mod abi;
mod callbacks;
mod device;
mod ffi;
mod napi;
mod skb;

pub use abi::*;
pub use device::*;
use ffi::*;
pub use napi::*;
pub use skb::*;

use crate::virtio::net::wire::{ETH_ALEN, HDR_LEN_MAX};
use core::{
    marker::PhantomData,
    mem::{offset_of, size_of},
    ptr::NonNull,
};
use kernel::{bindings, prelude::*};

/// Interface statistics (`ndo_get_stats64`); the shim's `struct
/// rvirtio_net_stats`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Received packets dropped (no memory, invalid).
    pub rx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Receive length errors (a packet the device described wrongly).
    pub rx_length_errors: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets dropped before the device.
    pub tx_dropped: u64,
    /// Transmit errors.
    pub tx_errors: u64,
}

/// `EOPNOTSUPP` (not among the kernel crate's error codes), what an
/// operation a driver does not implement returns to `ethtool`.
pub fn eopnotsupp() -> Error {
    // CAST: a small errno.
    Error::from_errno((bindings::EOPNOTSUPP as i32).wrapping_neg())
}

/// The number of online CPUs (`num_online_cpus`).
pub fn online_cpus() -> u32 {
    // SAFETY: reads a counter; no arguments.
    unsafe { rvirtio_net_online_cpus() }
}

/// `DUPLEX_HALF`.
pub const DUPLEX_HALF: u8 = 0;
/// `DUPLEX_FULL`.
pub const DUPLEX_FULL: u8 = 1;
/// `DUPLEX_UNKNOWN`.
pub const DUPLEX_UNKNOWN: u8 = 0xff;
/// `SPEED_UNKNOWN` (as `u32`).
pub const SPEED_UNKNOWN: u32 = u32::MAX;

/// Link settings for ethtool; the shim's `struct rvirtio_net_link`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Speed in Mb/s, or [`SPEED_UNKNOWN`].
    pub speed: u32,
    /// [`DUPLEX_HALF`], [`DUPLEX_FULL`] or [`DUPLEX_UNKNOWN`].
    pub duplex: u8,
}

/// Ring sizes for `ethtool -g`; the shim's `struct rvirtio_net_rings`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rings {
    /// Largest receive ring.
    pub rx_max: u32,
    /// Receive ring in use.
    pub rx: u32,
    /// Largest transmit ring.
    pub tx_max: u32,
    /// Transmit ring in use.
    pub tx: u32,
}

/// Queue pairs for `ethtool -l`; the shim's `struct rvirtio_net_channels`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channels {
    /// Most combined channels (queue pairs).
    pub max_combined: u32,
    /// Combined channels in use.
    pub combined: u32,
}

/// Offload flags of an interface (a subset of `netdev_features_t`, mapped
/// by the shim).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offloads(u32);

impl Offloads {
    /// None.
    pub const NONE: Self = Self(0);
    /// `NETIF_F_SG`: scatter-gather transmit.
    pub const SG: Self = Self(1);
    /// `NETIF_F_HW_CSUM`: the device completes partial checksums.
    pub const HW_CSUM: Self = Self(2);
    /// `NETIF_F_TSO`.
    pub const TSO: Self = Self(4);
    /// `NETIF_F_TSO6`.
    pub const TSO6: Self = Self(8);
    /// `NETIF_F_TSO_ECN`.
    pub const TSO_ECN: Self = Self(16);
    /// `NETIF_F_RXCSUM`: receive checksum offload.
    pub const RXCSUM: Self = Self(32);
    /// `NETIF_F_GRO_HW`: the device coalesces received segments.
    pub const GRO_HW: Self = Self(64);
    /// `NETIF_F_HW_VLAN_CTAG_FILTER`: the driver filters VLANs
    /// ([`NetDeviceOps::vlan_rx_add_vid`]).
    pub const VLAN_FILTER: Self = Self(128);
    /// `NETIF_F_GSO_UDP_L4`: the device segments UDP (USO).
    pub const GSO_UDP_L4: Self = Self(256);

    /// Both sets.
    pub const fn with(self, o: Self) -> Self {
        Self(self.0 | o.0)
    }

    /// Whether all of `o` is set.
    pub const fn contains(self, o: Self) -> bool {
        self.0 & o.0 == o.0
    }

    fn bits(self) -> u32 {
        self.0
    }
}

/// The receive mode flags of an interface ([`NetDev::rx_flags`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxFlags {
    /// `IFF_PROMISC`: receive every frame.
    pub promisc: bool,
    /// `IFF_ALLMULTI`: receive every multicast frame.
    pub allmulti: bool,
}

/// [`NetDev::rx_flags`]' bits from the shim (checked by [`check_abi`]).
const RX_PROMISC: u32 = 1;
const RX_ALLMULTI: u32 = 2;

/// The kind of a NAPI context: a receive or a transmit queue's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NapiKind {
    /// Receive: polls received packets, with the budget.
    Rx,
    /// Transmit: reclaims completed packets.
    Tx,
}

/// Proof that the caller holds RTNL in process context, for the calls
/// that need it or sleep ([`Napi::enable`], [`Napi::disable`],
/// [`NetDev::set_real_num_queues`]). Only the trampolines make one, for
/// the callbacks the kernel calls under RTNL (`open`, `stop`,
/// `set_channels`), and it cannot leave the callback (borrowed, neither
/// `Send` nor `Clone`). It proves process context when it was made;
/// taking a spinlock inside the callback is still up to the driver (the
/// shim's `might_sleep` catches that under `CONFIG_DEBUG_ATOMIC_SLEEP`).
pub struct Rtnl<'a>(PhantomData<(&'a (), *mut ())>);

impl Rtnl<'_> {
    /// # Safety
    ///
    /// The caller holds RTNL, in process context, for the value's life.
    pub(super) unsafe fn new() -> Self {
        Self(PhantomData)
    }
}

/// What `start_xmit` did with a packet.
pub enum Xmit {
    /// Taken: queued, or dropped and counted.
    Ok,
    /// Not taken: the stack requeues it (`NETDEV_TX_BUSY`; the driver
    /// should have stopped the queue before it was full).
    Busy(Skb),
}

/// The driver's `net_device_ops`. Every method runs with the interface
/// alive; `open`, `stop`, `set_rx_mode`, `set_mac_address`, `change_mtu`
/// and the VLAN methods hold RTNL and may sleep (`set_rx_mode` runs from
/// the shim's work item, as the kernel's `ndo_set_rx_mode` is atomic);
/// `start_xmit` runs in the transmit path (softirq or process, with the
/// queue's transmit lock) and may not sleep.
pub trait NetDeviceOps: Send + Sync + 'static {
    /// The interface goes up (RTNL held).
    fn open(&self, dev: NetDev<'_>, rtnl: &Rtnl<'_>) -> Result;
    /// The interface goes down (RTNL held).
    fn stop(&self, dev: NetDev<'_>, rtnl: &Rtnl<'_>) -> Result;
    /// Sends `skb` on transmit queue `queue`; with `more` the stack has
    /// more packets for the queue right away (the device may be notified
    /// later).
    fn start_xmit(&self, dev: NetDev<'_>, skb: Skb, queue: u32, more: bool) -> Xmit;
    /// The receive filters changed (promiscuous, allmulti, address
    /// lists: [`NetDev::rx_flags`], [`NetDev::addr_lists`]); deferred to
    /// process context, under RTNL.
    fn set_rx_mode(&self, _dev: NetDev<'_>) {}
    /// The address is changing to `mac` (already validated); on success
    /// the shim commits it.
    fn set_mac_address(&self, _dev: NetDev<'_>, _mac: &[u8; ETH_ALEN]) -> Result {
        Ok(())
    }
    /// The MTU is changing to `mtu` (within the interface's range); on
    /// success the shim sets it.
    fn change_mtu(&self, _dev: NetDev<'_>, _mtu: u32) -> Result {
        Ok(())
    }
    /// Fills the interface statistics.
    fn get_stats64(&self, stats: &mut Stats);
    /// VLAN `vid` is added to the receive filter.
    fn vlan_rx_add_vid(&self, _dev: NetDev<'_>, _vid: u16) -> Result {
        Ok(())
    }
    /// VLAN `vid` is removed from the receive filter.
    fn vlan_rx_kill_vid(&self, _dev: NetDev<'_>, _vid: u16) -> Result {
        Ok(())
    }
    /// The offloads are changing to `features` (`ethtool -K`; already
    /// within the switchable set, GRO_HW only with RXCSUM); on success the
    /// interface takes them.
    fn set_features(&self, _dev: NetDev<'_>, _features: Offloads) -> Result {
        Ok(())
    }
    /// The peers were notified after [`NetDev::request_announce`]
    /// (gratuitous ARP and unsolicited neighbour advertisements sent);
    /// under RTNL, may sleep.
    fn announce(&self, _dev: NetDev<'_>) {}
    /// Transmit queue `queue` made no progress for the watchdog's time
    /// (the queue stopped and nothing completed); atomic context.
    fn tx_timeout(&self, _dev: NetDev<'_>, _queue: u32) {}
    /// NAPI poll of queue pair `queue`'s receive or transmit context, in
    /// softirq: at most `budget` packets (receive); returns the work done.
    fn poll(
        &self,
        dev: NetDev<'_>,
        napi: NapiPoll<'_>,
        queue: u32,
        kind: NapiKind,
        budget: u32,
    ) -> u32;
}

/// The driver's `ethtool_ops` (the shim adds `get_link`, `-i`'s driver
/// name and bus information). Called under RTNL.
pub trait EthtoolOps: Send + Sync + 'static {
    /// Link speed and duplex (`ethtool IFACE`; the shim adds port
    /// `PORT_OTHER` and no autonegotiation).
    fn link(&self) -> Link {
        Link {
            speed: SPEED_UNKNOWN,
            duplex: DUPLEX_UNKNOWN,
        }
    }
    /// `ethtool -s speed N duplex D`: the link settings to report change to
    /// `link` (a valid speed and duplex, checked by the shim, which
    /// refuses any other change).
    fn set_link(&self, _link: Link) -> Result {
        Err(eopnotsupp())
    }
    /// Ring sizes (`ethtool -g`).
    fn rings(&self) -> Rings;
    /// Queue pairs (`ethtool -l`).
    fn channels(&self) -> Channels;
    /// `ethtool -L combined N`: use `combined` queue pairs (the shim
    /// checks `1..=max_combined` of [`EthtoolOps::channels`]); an error
    /// reaches `ethtool`.
    fn set_channels(&self, _dev: NetDev<'_>, _rtnl: &Rtnl<'_>, _combined: u32) -> Result {
        Err(eopnotsupp())
    }
    /// How many counters `ethtool -S` shows.
    fn stats_count(&self) -> u32 {
        0
    }
    /// The name of counter `i` (at most [`STAT_NAME_LEN`]` - 1` bytes are
    /// kept).
    fn stat_name(&self, _i: u32, _name: &mut StatName<'_>) {}
    /// The values of the counters, in order (`values` has
    /// [`EthtoolOps::stats_count`] entries, or fewer).
    fn stats(&self, _values: &mut [u64]) {}
}

/// The length of an `ethtool -S` counter name, its NUL included
/// (`ETH_GSTRING_LEN`).
pub const STAT_NAME_LEN: usize = 32;

/// The name of an `ethtool -S` counter being written: formatted text,
/// cut at [`STAT_NAME_LEN`]` - 1` bytes.
pub struct StatName<'a> {
    buf: &'a mut [u8; STAT_NAME_LEN],
    len: usize,
}

impl<'a> StatName<'a> {
    pub(super) fn new(buf: &'a mut [u8; STAT_NAME_LEN]) -> Self {
        Self { buf, len: 0 }
    }
}

impl core::fmt::Write for StatName<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            // Room for the NUL, which the buffer's zeroes provide.
            if self.len.saturating_add(1) >= STAT_NAME_LEN {
                break;
            }
            if let Some(d) = self.buf.get_mut(self.len) {
                *d = b;
                self.len = self.len.saturating_add(1);
            }
        }
        Ok(())
    }
}

/// Why a packet was dropped (`enum skb_drop_reason`, checked by
/// [`check_abi`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum DropReason {
    /// `SKB_DROP_REASON_NOT_SPECIFIED`.
    NotSpecified = 2,
    /// `SKB_DROP_REASON_PKT_TOO_SMALL`.
    PktTooSmall = 9,
    /// `SKB_DROP_REASON_DEV_HDR`: the device's header is invalid.
    DevHdr = 76,
    /// `SKB_DROP_REASON_NOMEM`.
    NoMem = 79,
}
