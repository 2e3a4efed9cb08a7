// SPDX-License-Identifier: GPL-2.0

//! The shim's ABI version and the layout checks of every structure and
//! value mirrored between `rust/helpers/net.c` and Rust.

use super::*;
use crate::kext::c_layout::{
    check_shim,
    shim_mismatches,
    Expect, //
};

/// The version of the shim's ABI these declarations were written for; it
/// must equal `RVIRTIO_NET_SHIM_ABI` in `rust/helpers/net.c`.
pub const SHIM_ABI: u32 = 6;

/// A structure (its size), field (its offset) or constant (its value) of
/// the shim that this module mirrors, as `rvirtio_net_c_layout` measures
/// it. The discriminants are the positions in `RVIRTIO_NET_C_FIELDS` of
/// `rust/helpers/net.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CField {
    /// `sizeof(struct rvirtio_net_stats)`.
    Stats = 0,
    /// `rx_packets`.
    StatsRxPackets,
    /// `rx_bytes`.
    StatsRxBytes,
    /// `rx_dropped`.
    StatsRxDropped,
    /// `rx_errors`.
    StatsRxErrors,
    /// `rx_length_errors`.
    StatsRxLengthErrors,
    /// `tx_packets`.
    StatsTxPackets,
    /// `tx_bytes`.
    StatsTxBytes,
    /// `tx_dropped`.
    StatsTxDropped,
    /// `tx_errors`.
    StatsTxErrors,
    /// `sizeof(struct rvirtio_net_link)`.
    Link,
    /// `speed`.
    LinkSpeed,
    /// `duplex`.
    LinkDuplex,
    /// `sizeof(struct rvirtio_net_rings)`.
    Rings,
    /// `rx_max`.
    RingsRxMax,
    /// `rx`.
    RingsRx,
    /// `tx_max`.
    RingsTxMax,
    /// `tx`.
    RingsTx,
    /// `sizeof(struct rvirtio_net_channels)`.
    Channels,
    /// `max_combined`.
    ChannelsMaxCombined,
    /// `combined`.
    ChannelsCombined,
    /// `sizeof(struct rvirtio_skb_tx)`.
    TxInfo,
    /// `len`.
    TxInfoLen,
    /// `headlen`.
    TxInfoHeadlen,
    /// `nr_frags`.
    TxInfoNrFrags,
    /// `csum_partial`.
    TxInfoCsumPartial,
    /// `csum_start`.
    TxInfoCsumStart,
    /// `csum_offset`.
    TxInfoCsumOffset,
    /// `gso`.
    TxInfoGso,
    /// `gso_size`.
    TxInfoGsoSize,
    /// `sizeof(struct rvirtio_net_cb)`.
    Cb,
    /// `open`.
    CbOpen,
    /// `stop`.
    CbStop,
    /// `start_xmit`.
    CbStartXmit,
    /// `set_rx_mode`.
    CbSetRxMode,
    /// `set_mac_address`.
    CbSetMacAddress,
    /// `change_mtu`.
    CbChangeMtu,
    /// `get_stats64`.
    CbGetStats64,
    /// `vlan_rx_add_vid`.
    CbVlanRxAddVid,
    /// `vlan_rx_kill_vid`.
    CbVlanRxKillVid,
    /// `tx_timeout`.
    CbTxTimeout,
    /// `poll`.
    CbPoll,
    /// `get_link`.
    CbGetLink,
    /// `get_rings`.
    CbGetRings,
    /// `get_channels`.
    CbGetChannels,
    /// `stats_count`.
    CbStatsCount,
    /// `stats_name`.
    CbStatsName,
    /// `stats_values`.
    CbStatsValues,
    /// `set_features`.
    CbSetFeatures,
    /// `announce`.
    CbAnnounce,
    /// `set_channels`.
    CbSetChannels,
    /// `set_link`.
    CbSetLink,
    /// `sizeof_field(struct sk_buff, cb)`: the control buffer, at least
    /// the largest virtio-net header.
    SkbCbSize,
    /// `MAX_SKB_FRAGS` (a configuration value: read at run time, see
    /// [`max_skb_frags`]).
    MaxSkbFrags,
    /// `SKB_DROP_REASON_NOT_SPECIFIED`.
    DropNotSpecified,
    /// `SKB_DROP_REASON_NOMEM`.
    DropNomem,
    /// `SKB_DROP_REASON_PKT_TOO_SMALL`.
    DropPktTooSmall,
    /// `SKB_DROP_REASON_DEV_HDR`.
    DropDevHdr,
    /// `DUPLEX_HALF`.
    DuplexHalf,
    /// `DUPLEX_FULL`.
    DuplexFull,
    /// `DUPLEX_UNKNOWN`.
    DuplexUnknown,
    /// `ETH_GSTRING_LEN`: the length of an ethtool statistic's name.
    GstringLen,
    /// `RVIRTIO_NET_RX_PROMISC`: [`NetDev::rx_flags`]' promiscuous bit.
    RxPromisc,
    /// `RVIRTIO_NET_RX_ALLMULTI`: its all-multicast bit.
    RxAllmulti,
    /// `RVIRTIO_NETIF_RXCSUM`: [`Offloads::RXCSUM`].
    NetifRxcsum,
    /// `RVIRTIO_NETIF_GRO_HW`: [`Offloads::GRO_HW`].
    NetifGroHw,
    /// `RVIRTIO_NETIF_VLAN_FILTER`: [`Offloads::VLAN_FILTER`].
    NetifVlanFilter,
    /// `RVIRTIO_NETIF_GSO_UDP_L4`: [`Offloads::GSO_UDP_L4`].
    NetifGsoUdpL4,
}

/// The size, offset or value C gives `field`, or `None` when the linked
/// shim does not know it (an ABI mismatch).
pub fn c_layout(field: CField) -> Option<usize> {
    // SAFETY: `rvirtio_net_c_layout` is a pure function of its argument and
    // accepts any value (unknown ids return -1).
    let v = unsafe { rvirtio_net_c_layout(field as u32) };
    usize::try_from(v).ok()
}

/// `MAX_SKB_FRAGS` of the running kernel (0 if the shim does not say).
pub fn max_skb_frags() -> usize {
    c_layout(CField::MaxSkbFrags).unwrap_or(0)
}

/// Every `(C field, Rust value)` pair that must agree. For
/// [`CField::SkbCbSize`] the Rust value is the least C must give.
pub fn layout() -> [(CField, usize); 67] {
    use CField as F;
    [
        (F::Stats, size_of::<Stats>()),
        (F::StatsRxPackets, offset_of!(Stats, rx_packets)),
        (F::StatsRxBytes, offset_of!(Stats, rx_bytes)),
        (F::StatsRxDropped, offset_of!(Stats, rx_dropped)),
        (F::StatsRxErrors, offset_of!(Stats, rx_errors)),
        (F::StatsRxLengthErrors, offset_of!(Stats, rx_length_errors)),
        (F::StatsTxPackets, offset_of!(Stats, tx_packets)),
        (F::StatsTxBytes, offset_of!(Stats, tx_bytes)),
        (F::StatsTxDropped, offset_of!(Stats, tx_dropped)),
        (F::StatsTxErrors, offset_of!(Stats, tx_errors)),
        (F::Link, size_of::<Link>()),
        (F::LinkSpeed, offset_of!(Link, speed)),
        (F::LinkDuplex, offset_of!(Link, duplex)),
        (F::Rings, size_of::<Rings>()),
        (F::RingsRxMax, offset_of!(Rings, rx_max)),
        (F::RingsRx, offset_of!(Rings, rx)),
        (F::RingsTxMax, offset_of!(Rings, tx_max)),
        (F::RingsTx, offset_of!(Rings, tx)),
        (F::Channels, size_of::<Channels>()),
        (F::ChannelsMaxCombined, offset_of!(Channels, max_combined)),
        (F::ChannelsCombined, offset_of!(Channels, combined)),
        (F::TxInfo, size_of::<RawTxInfo>()),
        (F::TxInfoLen, offset_of!(RawTxInfo, len)),
        (F::TxInfoHeadlen, offset_of!(RawTxInfo, headlen)),
        (F::TxInfoNrFrags, offset_of!(RawTxInfo, nr_frags)),
        (F::TxInfoCsumPartial, offset_of!(RawTxInfo, csum_partial)),
        (F::TxInfoCsumStart, offset_of!(RawTxInfo, csum_start)),
        (F::TxInfoCsumOffset, offset_of!(RawTxInfo, csum_offset)),
        (F::TxInfoGso, offset_of!(RawTxInfo, gso)),
        (F::TxInfoGsoSize, offset_of!(RawTxInfo, gso_size)),
        (F::Cb, size_of::<Callbacks>()),
        (F::CbOpen, offset_of!(Callbacks, open)),
        (F::CbStop, offset_of!(Callbacks, stop)),
        (F::CbStartXmit, offset_of!(Callbacks, start_xmit)),
        (F::CbSetRxMode, offset_of!(Callbacks, set_rx_mode)),
        (F::CbSetMacAddress, offset_of!(Callbacks, set_mac_address)),
        (F::CbChangeMtu, offset_of!(Callbacks, change_mtu)),
        (F::CbGetStats64, offset_of!(Callbacks, get_stats64)),
        (F::CbVlanRxAddVid, offset_of!(Callbacks, vlan_rx_add_vid)),
        (F::CbVlanRxKillVid, offset_of!(Callbacks, vlan_rx_kill_vid)),
        (F::CbTxTimeout, offset_of!(Callbacks, tx_timeout)),
        (F::CbPoll, offset_of!(Callbacks, poll)),
        (F::CbGetLink, offset_of!(Callbacks, get_link)),
        (F::CbGetRings, offset_of!(Callbacks, get_rings)),
        (F::CbGetChannels, offset_of!(Callbacks, get_channels)),
        (F::CbStatsCount, offset_of!(Callbacks, stats_count)),
        (F::CbStatsName, offset_of!(Callbacks, stats_name)),
        (F::CbStatsValues, offset_of!(Callbacks, stats_values)),
        (F::CbSetFeatures, offset_of!(Callbacks, set_features)),
        (F::CbAnnounce, offset_of!(Callbacks, announce)),
        (F::CbSetChannels, offset_of!(Callbacks, set_channels)),
        (F::CbSetLink, offset_of!(Callbacks, set_link)),
        (F::SkbCbSize, HDR_LEN_MAX),
        (F::DropNotSpecified, DropReason::NotSpecified as usize),
        (F::DropNomem, DropReason::NoMem as usize),
        (F::DropPktTooSmall, DropReason::PktTooSmall as usize),
        (F::DropDevHdr, DropReason::DevHdr as usize),
        (F::DuplexHalf, usize::from(DUPLEX_HALF)),
        (F::DuplexFull, usize::from(DUPLEX_FULL)),
        (F::DuplexUnknown, usize::from(DUPLEX_UNKNOWN)),
        (F::GstringLen, STAT_NAME_LEN),
        (F::RxPromisc, RX_PROMISC as usize),
        (F::RxAllmulti, RX_ALLMULTI as usize),
        (F::NetifRxcsum, Offloads::RXCSUM.bits() as usize),
        (F::NetifGroHw, Offloads::GRO_HW.bits() as usize),
        (F::NetifVlanFilter, Offloads::VLAN_FILTER.bits() as usize),
        (F::NetifGsoUdpL4, Offloads::GSO_UDP_L4.bits() as usize),
    ]
}

/// The entries of [`layout`] where C and Rust disagree (or C does not know
/// the field), each logged, and counted.
pub fn layout_mismatches() -> usize {
    shim_mismatches("net", layout(), c_layout, |f| match f {
        CField::SkbCbSize => Expect::AtLeast,
        _ => Expect::Equal,
    })
}

/// Checks that the linked C helpers and netdev shim implement the ABI
/// these declarations expect, that every mirrored structure and value
/// has C's layout, and that `MAX_SKB_FRAGS` is known; logs what does not.
/// [`Registration::new`] runs it, so a module with a mismatched shim makes
/// no interface.
///
/// # Errors
///
/// `EINVAL` on any mismatch.
pub fn check_abi() -> Result {
    // SAFETY: `rvirtio_net_abi` takes no arguments and has no side effects.
    let abi = unsafe { rvirtio_net_abi() };
    check_shim("net", abi, SHIM_ABI, || {
        layout_mismatches().saturating_add(usize::from(max_skb_frags() == 0))
    })
}
