// SPDX-License-Identifier: GPL-2.0

//! The virtio-net protocol, without a kernel: which features the driver
//! accepts and their dependencies, the header length, the receive mode and
//! buffer sizes, the validation of every header field a device supplies,
//! the transmit header for a packet's offload state, mergeable-buffer
//! accounting, control commands and the configuration space. The device is
//! untrusted: every value it supplies is checked here before the kernel's
//! network stack sees it (the class of the `virtio_net_hdr_to_skb` CVEs).
//!
//! The wire format is in [`wire`]. Host tests are in `tests/net.rs`.
//!
//! Ref: virtio v1.4 §5.1; C version: `drivers/net/virtio_net.c`,
//! `include/linux/virtio_net.h`.

pub mod wire;

use super::{
    features::{
        Feature,
        FeatureDep,
        Features, //
    },
    wire::ByteOrder,
};
use wire::{
    ctrl,
    feature as f,
    flags,
    gso,
    Header,
    ETH_ALEN,
    HDR_LEN_HASH,
    HDR_LEN_LEGACY,
    HDR_LEN_MRG, //
};

/// The feature requirements of §5.1.3.1 among the bits this driver knows:
/// the driver never accepts a feature without its prerequisites.
pub const FEATURE_DEPS: [FeatureDep; 16] = [
    FeatureDep::new(f::GUEST_TSO4, Features::single(f::GUEST_CSUM)),
    FeatureDep::new(f::GUEST_TSO6, Features::single(f::GUEST_CSUM)),
    FeatureDep::new(f::GUEST_UFO, Features::single(f::GUEST_CSUM)),
    FeatureDep::new(f::GUEST_USO4, Features::single(f::GUEST_CSUM)),
    FeatureDep::new(f::GUEST_USO6, Features::single(f::GUEST_CSUM)),
    FeatureDep::new(f::HOST_TSO4, Features::single(f::CSUM)),
    FeatureDep::new(f::HOST_TSO6, Features::single(f::CSUM)),
    FeatureDep::new(f::HOST_UFO, Features::single(f::CSUM)),
    FeatureDep::new(f::HOST_USO, Features::single(f::CSUM)),
    FeatureDep::new(f::CTRL_RX, Features::single(f::CTRL_VQ)),
    FeatureDep::new(f::CTRL_VLAN, Features::single(f::CTRL_VQ)),
    FeatureDep::new(f::GUEST_ANNOUNCE, Features::single(f::CTRL_VQ)),
    FeatureDep::new(f::MQ, Features::single(f::CTRL_VQ)),
    FeatureDep::new(f::CTRL_MAC_ADDR, Features::single(f::CTRL_VQ)),
    FeatureDep::new(f::CTRL_GUEST_OFFLOADS, Features::single(f::CTRL_VQ)),
    FeatureDep::new(f::CTRL_RX_EXTRA, Features::single(f::CTRL_RX)),
];

/// Applies the "one of" requirements that [`FeatureDep`] (all of) cannot
/// express: GUEST_ECN needs GUEST_TSO4 or GUEST_TSO6, HOST_ECN needs
/// HOST_TSO4 or HOST_TSO6 (§5.1.3.1). Run it on the result of
/// [`negotiate`](super::features::negotiate) before FEATURES_OK.
pub fn drop_orphan_ecn(mut accepted: Features) -> Features {
    if !accepted.contains(f::GUEST_TSO4) && !accepted.contains(f::GUEST_TSO6) {
        accepted.remove(f::GUEST_ECN);
    }
    if !accepted.contains(f::HOST_TSO4) && !accepted.contains(f::HOST_TSO6) {
        accepted.remove(f::HOST_ECN);
    }
    accepted
}

/// The length of the packet header for the negotiated features (§5.1.6):
/// 10 bytes on a legacy interface without MRG_RXBUF, 12 with `num_buffers`
/// (every modern interface, or MRG_RXBUF), 20 with the hash report.
pub fn header_len(negotiated: Features) -> usize {
    if negotiated.contains(f::HASH_REPORT) {
        HDR_LEN_HASH
    } else if negotiated.contains(Feature::VERSION_1) || negotiated.contains(f::MRG_RXBUF) {
        HDR_LEN_MRG
    } else {
        HDR_LEN_LEGACY
    }
}

/// Ethernet header length.
pub const ETH_HLEN: usize = 14;
/// A VLAN tag.
pub const VLAN_HLEN: usize = 4;
/// The default MTU.
pub const ETH_DATA_LEN: usize = 1500;
/// The smallest MTU the driver accepts from the device (IPv4's minimum).
pub const MIN_MTU: u16 = 68;
/// The largest packet a device may deliver with a receive GSO offload:
/// "the header plus 65550 bytes" (§5.1.6.3.1).
pub const MAX_GSO_PACKET: usize = 65550;

/// The longest frame without GSO for an MTU: Ethernet header, a VLAN tag
/// and the MTU.
pub const fn max_frame(mtu: u16) -> usize {
    // Cannot overflow: at most 65535 + 18.
    ETH_HLEN
        .saturating_add(VLAN_HLEN)
        .saturating_add(mtu as usize)
}

/// How receive buffers are built (§5.1.6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxMode {
    /// One buffer per packet, room for the header and an MTU-sized frame.
    Small,
    /// One buffer per packet, room for the header and a 64 KiB GSO packet
    /// (a receive GSO offload without MRG_RXBUF, or an MTU above what a
    /// small buffer holds).
    Big,
    /// MRG_RXBUF: a packet spans `num_buffers` buffers.
    Mergeable,
}

/// The receive offloads that make a device send packets larger than the
/// MTU.
const GUEST_GSO: [Feature; 5] = [
    f::GUEST_TSO4,
    f::GUEST_TSO6,
    f::GUEST_UFO,
    f::GUEST_USO4,
    f::GUEST_USO6,
];

/// Whether a receive GSO offload is negotiated: the device may then send
/// packets up to [`MAX_GSO_PACKET`] bytes.
pub fn guest_gso(negotiated: Features) -> bool {
    GUEST_GSO.iter().any(|&g| negotiated.contains(g))
}

/// The receive mode for the negotiated features and the MTU in use.
pub fn rx_mode(negotiated: Features, mtu: u16) -> RxMode {
    if negotiated.contains(f::MRG_RXBUF) {
        RxMode::Mergeable
    } else if guest_gso(negotiated) || usize::from(mtu) > ETH_DATA_LEN {
        RxMode::Big
    } else {
        RxMode::Small
    }
}

/// The length of a receive buffer in [`RxMode::Small`] and
/// [`RxMode::Big`] mode: the header and the largest frame the device may
/// send (§5.1.6.3.1): a GSO packet with a receive GSO offload (`gso`,
/// [`guest_gso`]), else a frame of the MTU.
pub fn rx_buf_len(mode: RxMode, hdr_len: usize, mtu: u16, gso: bool) -> usize {
    let frame = match mode {
        RxMode::Big if gso => MAX_GSO_PACKET.max(max_frame(mtu)),
        RxMode::Big | RxMode::Small | RxMode::Mergeable => max_frame(mtu),
    };
    hdr_len.saturating_add(frame)
}

/// The pages of a big-packet receive buffer of `buf_len` bytes
/// ([`rx_buf_len`]), each a device-writable element of `page` bytes (C's
/// `big_packets_num_pages`). At least 1.
pub fn big_pages(buf_len: usize, page: usize) -> usize {
    buf_len.div_ceil(page.max(1)).max(1)
}

/// A used big-packet buffer: how its used length spreads over its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BigUsed {
    /// Packet bytes in the first page, after the header.
    pub first: usize,
    /// Packet bytes in the pages after the first.
    pub rest: usize,
}

/// Splits the used length `len` of a big-packet buffer of `pages` pages
/// of `page` bytes, the header (`hdr_len` bytes) at the start of the
/// first: the used length is checked against what was posted, and must
/// hold the header.
pub fn big_used(len: usize, hdr_len: usize, page: usize, pages: usize) -> Result<BigUsed, RxError> {
    let posted = page.saturating_mul(pages);
    if len > posted || len < hdr_len || hdr_len > page {
        return Err(RxError::Length(len));
    }
    let in_first = len.min(page);
    Ok(BigUsed {
        // `hdr_len <= in_first`: `len >= hdr_len` and `page >= hdr_len`.
        first: in_first.saturating_sub(hdr_len),
        rest: len.saturating_sub(in_first),
    })
}

/// The receive offloads the driver currently accepts: the negotiated ones,
/// narrowed by CTRL_GUEST_OFFLOADS (`ethtool -K`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxOffloads {
    /// GUEST_CSUM: partial checksums and DATA_VALID.
    pub csum: bool,
    /// GUEST_TSO4.
    pub tso4: bool,
    /// GUEST_TSO6.
    pub tso6: bool,
    /// GUEST_ECN.
    pub ecn: bool,
    /// GUEST_UFO.
    pub ufo: bool,
    /// GUEST_USO4.
    pub uso4: bool,
    /// GUEST_USO6.
    pub uso6: bool,
    /// RSC_EXT: coalescing information.
    pub rsc: bool,
}

impl RxOffloads {
    /// Every negotiated receive offload, enabled (§5.1.6.5.6.1: negotiated
    /// offloads start enabled).
    pub fn negotiated(n: Features) -> Self {
        Self {
            csum: n.contains(f::GUEST_CSUM),
            tso4: n.contains(f::GUEST_TSO4),
            tso6: n.contains(f::GUEST_TSO6),
            ecn: n.contains(f::GUEST_ECN),
            ufo: n.contains(f::GUEST_UFO),
            uso4: n.contains(f::GUEST_USO4),
            uso6: n.contains(f::GUEST_USO6),
            rsc: n.contains(f::RSC_EXT),
        }
    }

    /// These offloads as the interface's switches leave them: without
    /// `csum` none (the receive GSO offloads need GUEST_CSUM, §5.1.3.1),
    /// without `gro` no receive GSO (TSO, ECN, UFO, USO, RSC).
    pub fn narrowed(self, csum: bool, gro: bool) -> Self {
        if !csum {
            return Self::default();
        }
        if !gro {
            return Self {
                csum: self.csum,
                ..Self::default()
            };
        }
        self
    }

    /// The CTRL_GUEST_OFFLOADS_SET bitmask for these offloads.
    pub fn to_bits(self) -> u64 {
        let bit = |on: bool, feat: Feature| if on { 1u64 << feat.bit() } else { 0 };
        bit(self.csum, f::GUEST_CSUM)
            | bit(self.tso4, f::GUEST_TSO4)
            | bit(self.tso6, f::GUEST_TSO6)
            | bit(self.ecn, f::GUEST_ECN)
            | bit(self.ufo, f::GUEST_UFO)
            | bit(self.uso4, f::GUEST_USO4)
            | bit(self.uso6, f::GUEST_USO6)
    }
}

/// The checksum state of a received packet, once validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxCsum {
    /// Nothing known: the stack verifies it.
    None,
    /// The device validated it (`DATA_VALID`).
    Unnecessary,
    /// Partial (`NEEDS_CSUM`): the sum from `start` to the end goes at
    /// `start + offset`. Both are inside the packet.
    Partial {
        /// `csum_start`.
        start: u16,
        /// `csum_offset`.
        offset: u16,
    },
}

/// The segmentation type of a GSO packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GsoKind {
    /// TCP over IPv4.
    Tcp4,
    /// TCP over IPv6.
    Tcp6,
    /// UDP fragmentation offload.
    Udp,
    /// UDP segmentation offload.
    UdpL4,
}

/// The GSO state of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gso {
    /// The segmentation type.
    pub kind: GsoKind,
    /// The segment size (MSS), at least 1.
    pub size: u16,
    /// The packet carries ECN (`VIRTIO_NET_HDR_GSO_ECN`).
    pub ecn: bool,
}

/// A received packet's header, validated against the packet and the
/// offloads in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxMeta {
    /// Checksum state.
    pub csum: RxCsum,
    /// Segmentation, for a GSO packet.
    pub gso: Option<Gso>,
}

/// Why a received header was refused. The packet is dropped and counted as
/// a protocol violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// `flags` has bits the driver does not know or did not negotiate.
    Flags(u8),
    /// A checksum flag without GUEST_CSUM in force.
    CsumNotNegotiated,
    /// `csum_start + csum_offset + 2` is past the packet.
    CsumOutOfPacket,
    /// An unknown `gso_type`.
    GsoType(u8),
    /// A GSO type whose offload is not in force.
    GsoNotNegotiated(u8),
    /// `gso_size` is 0 for a GSO packet.
    GsoSize,
    /// ECN on a packet that is not GSO, or without GUEST_ECN.
    Ecn,
    /// `hdr_len` is past the packet.
    HdrLen,
    /// The packet is shorter than an Ethernet header, or longer than a
    /// GSO packet may be.
    Length(usize),
    /// `num_buffers` is 0 or more than the buffers the driver posted.
    NumBuffers(u16),
}

/// Validates the header of a received packet of `pkt_len` bytes (after the
/// header) against the offloads in force, as the kernel's
/// `virtio_net_hdr_to_skb` would need, and more: every field the device
/// supplies is checked before any is used (§5.1.6.4).
///
/// `hdr_len` (the field) is only checked to lie inside the packet; it is a
/// hint and never trusted as the transport header's size (§5.1.6.2.1).
pub fn validate_rx(h: &Header, pkt_len: usize, allowed: RxOffloads) -> Result<RxMeta, RxError> {
    if !(ETH_HLEN..=MAX_GSO_PACKET).contains(&pkt_len) {
        return Err(RxError::Length(pkt_len));
    }
    let known = flags::NEEDS_CSUM | flags::DATA_VALID;
    if h.flags & !known != 0 {
        // RSC_INFO needs RSC_EXT, which this driver does not negotiate.
        return Err(RxError::Flags(h.flags));
    }
    let csum = if h.flags & flags::NEEDS_CSUM != 0 {
        if !allowed.csum {
            return Err(RxError::CsumNotNegotiated);
        }
        let end = usize::from(h.csum_start)
            .saturating_add(usize::from(h.csum_offset))
            .saturating_add(2);
        if end > pkt_len {
            return Err(RxError::CsumOutOfPacket);
        }
        RxCsum::Partial {
            start: h.csum_start,
            offset: h.csum_offset,
        }
    } else if h.flags & flags::DATA_VALID != 0 {
        if !allowed.csum {
            return Err(RxError::CsumNotNegotiated);
        }
        RxCsum::Unnecessary
    } else {
        RxCsum::None
    };

    let ecn = h.gso_type & gso::ECN != 0;
    let kind = match h.gso_type & !gso::ECN {
        gso::NONE => None,
        gso::TCPV4 if allowed.tso4 => Some(GsoKind::Tcp4),
        gso::TCPV6 if allowed.tso6 => Some(GsoKind::Tcp6),
        gso::UDP if allowed.ufo => Some(GsoKind::Udp),
        // The header does not say which IP version a UDP_L4 packet is;
        // the stack checks the segments (SKB_GSO_DODGY).
        gso::UDP_L4 if allowed.uso4 || allowed.uso6 => Some(GsoKind::UdpL4),
        t @ (gso::TCPV4 | gso::TCPV6 | gso::UDP | gso::UDP_L4) => {
            return Err(RxError::GsoNotNegotiated(t))
        }
        t => return Err(RxError::GsoType(t)),
    };
    let gso = match kind {
        None if ecn => return Err(RxError::Ecn),
        None => None,
        Some(kind) => {
            if ecn && !allowed.ecn {
                return Err(RxError::Ecn);
            }
            if h.gso_size == 0 {
                return Err(RxError::GsoSize);
            }
            Some(Gso {
                kind,
                size: h.gso_size,
                ecn,
            })
        }
    };
    if gso.is_none() && pkt_len > max_frame(u16::MAX) {
        return Err(RxError::Length(pkt_len));
    }
    if usize::from(h.hdr_len) > pkt_len {
        return Err(RxError::HdrLen);
    }
    Ok(RxMeta { csum, gso })
}

/// Checks `num_buffers` of a mergeable packet's first buffer: at least 1,
/// and no more than the buffers the driver has posted and not yet seen used
/// (`outstanding`, counting this one), so a device cannot make the driver
/// wait for buffers that do not exist (§5.1.6.4.2).
pub fn check_num_buffers(num_buffers: u16, outstanding: usize) -> Result<u16, RxError> {
    if num_buffers == 0 || usize::from(num_buffers) > outstanding {
        return Err(RxError::NumBuffers(num_buffers));
    }
    Ok(num_buffers)
}

/// Assembles a mergeable packet from its buffers: counts them against
/// `num_buffers` and bounds the total length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    left: u16,
    len: usize,
}

impl Merge {
    /// Starts a packet whose first buffer (after the header) holds
    /// `first_len` bytes and whose header said `num_buffers` (already
    /// checked with [`check_num_buffers`]).
    pub fn new(num_buffers: u16, first_len: usize) -> Result<Self, RxError> {
        let left = num_buffers
            .checked_sub(1)
            .ok_or(RxError::NumBuffers(num_buffers))?;
        if first_len > MAX_GSO_PACKET {
            return Err(RxError::Length(first_len));
        }
        Ok(Self {
            left,
            len: first_len,
        })
    }

    /// Buffers still to come.
    pub fn left(&self) -> u16 {
        self.left
    }

    /// The packet's length so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no data has arrived yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Accounts one more buffer of `len` bytes. Fails when the header
    /// promised no more buffers, or when the packet would exceed a GSO
    /// packet's length.
    pub fn add(&mut self, len: usize) -> Result<(), RxError> {
        self.left = self.left.checked_sub(1).ok_or(RxError::NumBuffers(0))?;
        let total = self.len.saturating_add(len);
        if total > MAX_GSO_PACKET {
            return Err(RxError::Length(total));
        }
        self.len = total;
        Ok(())
    }
}

/// The moving average of received packet lengths that sizes mergeable
/// buffers, as the C driver's `ewma_pkt_len` (weight 1/64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PktLenAvg {
    avg: u32,
}

impl PktLenAvg {
    const WEIGHT: u64 = 64;

    /// Adds a packet length.
    pub fn add(&mut self, len: u32) {
        self.avg = if self.avg == 0 {
            len
        } else {
            let sum = u64::from(self.avg)
                .saturating_mul(Self::WEIGHT - 1)
                .saturating_add(u64::from(len));
            // The average of u32 values fits u32.
            u32::try_from(sum / Self::WEIGHT).unwrap_or(u32::MAX)
        };
    }

    /// The current average (0 before the first packet).
    pub fn get(&self) -> u32 {
        self.avg
    }
}

/// The size of the next mergeable receive buffer: the header plus the
/// average packet length, at least `min_len` and at most what fits in
/// `max_len`, rounded up to `align` (the cache line; a power of two).
pub fn mergeable_buf_len(
    avg: PktLenAvg,
    hdr_len: usize,
    min_len: usize,
    max_len: usize,
    align: usize,
) -> usize {
    let room = max_len.saturating_sub(hdr_len);
    let data = (avg.get() as usize).clamp(min_len.min(room), room);
    let len = hdr_len.saturating_add(data);
    let mask = align.saturating_sub(1);
    match len.checked_add(mask) {
        Some(v) if align.is_power_of_two() => (v & !mask).min(max_len.max(hdr_len)),
        _ => len,
    }
}

/// The smallest mergeable buffer (after the header) for a queue of
/// `ring_size` buffers: enough that a full ring holds one MTU-sized frame,
/// as the C driver's `mergeable_min_buf_len`.
pub fn mergeable_min_len(hdr_len: usize, mtu: u16, ring_size: u16) -> usize {
    let frame = max_frame(mtu).saturating_add(hdr_len);
    let per = frame.div_ceil(usize::from(ring_size.max(1)));
    per.max(hdr_len).saturating_sub(hdr_len)
}

/// A packet to transmit, as the stack describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxMeta {
    /// A partial checksum: `(csum_start, csum_offset)` relative to the
    /// frame's start and to `csum_start`.
    pub csum: Option<(u16, u16)>,
    /// Segmentation, with `hdr_len` (headers up to the payload).
    pub gso: Option<(Gso, u16)>,
    /// The frame's length (without the virtio header).
    pub len: usize,
}

/// The transmit offloads the device accepts (negotiated).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxOffloads {
    /// CSUM.
    pub csum: bool,
    /// HOST_TSO4.
    pub tso4: bool,
    /// HOST_TSO6.
    pub tso6: bool,
    /// HOST_ECN.
    pub ecn: bool,
    /// HOST_UFO.
    pub ufo: bool,
    /// HOST_USO.
    pub uso: bool,
}

impl TxOffloads {
    /// The negotiated transmit offloads.
    pub fn negotiated(n: Features) -> Self {
        Self {
            csum: n.contains(f::CSUM),
            tso4: n.contains(f::HOST_TSO4),
            tso6: n.contains(f::HOST_TSO6),
            ecn: n.contains(f::HOST_ECN),
            ufo: n.contains(f::HOST_UFO),
            uso: n.contains(f::HOST_USO),
        }
    }
}

/// Why a packet cannot be sent as described. The stack only hands the
/// driver what its advertised features allow, so this is a driver bug or
/// a race with a feature change; the packet is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxError {
    /// A partial checksum without CSUM.
    CsumNotNegotiated,
    /// The checksum field is past the frame.
    CsumOutOfPacket,
    /// A GSO type the device did not offer.
    GsoNotNegotiated(GsoKind),
    /// GSO without a partial checksum (§5.1.6.2: GSO needs NEEDS_CSUM).
    GsoWithoutCsum,
    /// `gso_size` 0, or headers past the frame.
    Gso,
    /// ECN without HOST_ECN.
    Ecn,
    /// A frame over 1514 bytes (with a VLAN tag, 1518) without GSO, beyond
    /// `max_frame`.
    TooLong(usize),
}

/// Builds the transmit header for a packet (§5.1.6.2). `max_frame` is the
/// longest non-GSO frame the device takes (Ethernet header, VLAN tag and
/// the MTU). `num_buffers` is 0 (§5.1.6.2.1).
pub fn tx_header(m: &TxMeta, host: TxOffloads, max_frame: usize) -> Result<Header, TxError> {
    let mut h = Header::default();
    if let Some((start, offset)) = m.csum {
        if !host.csum {
            return Err(TxError::CsumNotNegotiated);
        }
        let end = usize::from(start)
            .saturating_add(usize::from(offset))
            .saturating_add(2);
        if end > m.len {
            return Err(TxError::CsumOutOfPacket);
        }
        h.flags = flags::NEEDS_CSUM;
        h.csum_start = start;
        h.csum_offset = offset;
    }
    match m.gso {
        None => {
            if m.len > max_frame {
                return Err(TxError::TooLong(m.len));
            }
        }
        Some((g, hdr_len)) => {
            if m.csum.is_none() {
                return Err(TxError::GsoWithoutCsum);
            }
            let (ty, ok) = match g.kind {
                GsoKind::Tcp4 => (gso::TCPV4, host.tso4),
                GsoKind::Tcp6 => (gso::TCPV6, host.tso6),
                GsoKind::Udp => (gso::UDP, host.ufo),
                GsoKind::UdpL4 => (gso::UDP_L4, host.uso),
            };
            if !ok {
                return Err(TxError::GsoNotNegotiated(g.kind));
            }
            if g.size == 0 || usize::from(hdr_len) > m.len {
                return Err(TxError::Gso);
            }
            if g.ecn && !host.ecn {
                return Err(TxError::Ecn);
            }
            h.gso_type = if g.ecn { ty | gso::ECN } else { ty };
            h.gso_size = g.size;
            h.hdr_len = hdr_len;
        }
    }
    Ok(h)
}

/// Why a control command cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtrlError {
    /// The output buffer is too small.
    NoRoom,
    /// A value out of the command's range (queue pairs, VLAN id).
    Range,
}

/// The two bytes every control command starts with: class and command
/// (§5.1.6.5). Its data follows, then the device-written ack byte.
pub fn ctrl_header(class: u8, command: u8) -> [u8; 2] {
    [class, command]
}

/// RX mode data: one byte, on or off.
pub fn ctrl_rx_mode(on: bool) -> [u8; 1] {
    [u8::from(on)]
}

/// `VQ_PAIRS_SET` data: the number of queue pairs, within
/// `1..=max_pairs` (the device's `max_virtqueue_pairs`) and the spec's
/// range.
pub fn ctrl_vq_pairs(pairs: u16, max_pairs: u16, order: ByteOrder) -> Result<[u8; 2], CtrlError> {
    if pairs < ctrl::MQ_VQ_PAIRS_MIN || pairs > max_pairs || pairs > ctrl::MQ_VQ_PAIRS_MAX {
        return Err(CtrlError::Range);
    }
    Ok(order.to_device_u16(pairs))
}

/// VLAN ADD/DEL data: a VLAN id below 4096.
pub fn ctrl_vlan(vid: u16, order: ByteOrder) -> Result<[u8; 2], CtrlError> {
    if vid >= 4096 {
        return Err(CtrlError::Range);
    }
    Ok(order.to_device_u16(vid))
}

/// GUEST_OFFLOADS_SET data: the offload bitmask as a 64-bit field.
pub fn ctrl_offloads(o: RxOffloads, order: ByteOrder) -> [u8; 8] {
    order.to_device_u64(o.to_bits())
}

/// The length of MAC_TABLE_SET data for `uc` unicast and `mc` multicast
/// addresses: two tables, each a 32-bit count and the addresses.
pub fn mac_table_len(uc: usize, mc: usize) -> Option<usize> {
    uc.checked_add(mc)?.checked_mul(ETH_ALEN)?.checked_add(8)
}

/// Encodes MAC_TABLE_SET data into `out`, unicast table first (§5.1.6.5.2),
/// and returns its length.
pub fn ctrl_mac_table(
    unicast: &[[u8; ETH_ALEN]],
    multicast: &[[u8; ETH_ALEN]],
    order: ByteOrder,
    out: &mut [u8],
) -> Result<usize, CtrlError> {
    let len = mac_table_len(unicast.len(), multicast.len()).ok_or(CtrlError::Range)?;
    let out = out.get_mut(..len).ok_or(CtrlError::NoRoom)?;
    let mut at = 0usize;
    for table in [unicast, multicast] {
        let n = u32::try_from(table.len()).map_err(|_| CtrlError::Range)?;
        let count = order.to_device_u32(n);
        let end = at.checked_add(4).ok_or(CtrlError::NoRoom)?;
        out.get_mut(at..end)
            .ok_or(CtrlError::NoRoom)?
            .copy_from_slice(&count);
        at = end;
        for mac in table {
            let end = at.checked_add(ETH_ALEN).ok_or(CtrlError::NoRoom)?;
            out.get_mut(at..end)
                .ok_or(CtrlError::NoRoom)?
                .copy_from_slice(mac);
            at = end;
        }
    }
    Ok(at)
}

/// What the device's ack byte says.
pub fn ctrl_ack_ok(ack: u8) -> bool {
    ack == ctrl::ACK_OK
}

/// Whether `mac` is a usable unicast address: not multicast, not all zero
/// (`is_valid_ether_addr`).
pub fn is_valid_mac(mac: &[u8; ETH_ALEN]) -> bool {
    mac[0] & 1 == 0 && mac.iter().any(|&b| b != 0)
}

/// A random, locally administered unicast address from `random` bytes
/// (`eth_random_addr`).
pub fn random_mac(mut random: [u8; ETH_ALEN]) -> [u8; ETH_ALEN] {
    random[0] &= 0xfe;
    random[0] |= 0x02;
    random
}

/// Link duplex as ethtool reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duplex {
    /// Half duplex.
    Half,
    /// Full duplex.
    Full,
    /// Not known.
    Unknown,
}

/// The network device's configuration, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The MAC address: the device's when MAC was negotiated and it is a
    /// valid unicast address, else `None` (the driver makes a random one).
    pub mac: Option<[u8; ETH_ALEN]>,
    /// Queue pairs the device supports: `max_virtqueue_pairs` with MQ,
    /// else 1.
    pub max_pairs: u16,
    /// The MTU the device supports, with MTU.
    pub mtu: Option<u16>,
    /// Link speed in Mb/s, with SPEED_DUPLEX and a valid value.
    pub speed: Option<u32>,
    /// Link duplex.
    pub duplex: Duplex,
}

/// A configuration value that was not taken, reported as a warning; the
/// driver goes on without it, as the C driver does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigIssue {
    /// MAC was negotiated but the address is multicast or zero.
    Mac,
    /// `max_virtqueue_pairs` out of `1..=0x8000` with MQ: one pair is used.
    MaxPairs(u16),
    /// `mtu` below [`MIN_MTU`]: the MTU feature must not be accepted.
    Mtu(u16),
    /// `speed` is not a valid speed.
    Speed(u32),
}

impl ConfigIssue {
    /// Whether the driver cannot go on: with MQ, a `max_virtqueue_pairs`
    /// outside `1..=0x8000` leaves the control queue's index (`2 *
    /// max_virtqueue_pairs`, §5.1.2) undefined, so the device is refused.
    /// The others leave a usable device (the value is not used).
    pub fn is_fatal(self) -> bool {
        matches!(self, Self::MaxPairs(_))
    }
}

/// The raw configuration values a driver read (with a consistent read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawConfig {
    /// `mac`.
    pub mac: [u8; ETH_ALEN],
    /// `max_virtqueue_pairs`.
    pub max_virtqueue_pairs: u16,
    /// `mtu`.
    pub mtu: u16,
    /// `speed`.
    pub speed: u32,
    /// `duplex`.
    pub duplex: u8,
}

/// `SPEED_UNKNOWN` as the device writes it.
pub const SPEED_UNKNOWN: u32 = u32::MAX;

/// Whether a device's `mtu` may be accepted with the MTU feature; a driver
/// drops the feature before FEATURES_OK otherwise (the C driver's
/// `virtnet_validate`).
pub fn mtu_acceptable(mtu: u16) -> bool {
    mtu >= MIN_MTU
}

/// Validates the configuration for the negotiated features. Issues are
/// returned with the configuration that stands without them: the first
/// one found is reported (at most one per field is possible).
pub fn config(negotiated: Features, raw: &RawConfig) -> (Config, [Option<ConfigIssue>; 4]) {
    let mut issues = [None; 4];
    let mac = if negotiated.contains(f::MAC) {
        if is_valid_mac(&raw.mac) {
            Some(raw.mac)
        } else {
            issues[0] = Some(ConfigIssue::Mac);
            None
        }
    } else {
        None
    };
    let max_pairs = if negotiated.contains(f::MQ) {
        let p = raw.max_virtqueue_pairs;
        if (ctrl::MQ_VQ_PAIRS_MIN..=ctrl::MQ_VQ_PAIRS_MAX).contains(&p) {
            p
        } else {
            issues[1] = Some(ConfigIssue::MaxPairs(p));
            1
        }
    } else {
        1
    };
    let mtu = if negotiated.contains(f::MTU) {
        if mtu_acceptable(raw.mtu) {
            Some(raw.mtu)
        } else {
            issues[2] = Some(ConfigIssue::Mtu(raw.mtu));
            None
        }
    } else {
        None
    };
    let (speed, duplex) = if negotiated.contains(f::SPEED_DUPLEX) {
        // ethtool's valid speeds: up to INT_MAX, or unknown.
        let speed = match raw.speed {
            SPEED_UNKNOWN => None,
            s if s <= i32::MAX as u32 => Some(s),
            s => {
                issues[3] = Some(ConfigIssue::Speed(s));
                None
            }
        };
        let duplex = match raw.duplex {
            0 => Duplex::Half,
            1 => Duplex::Full,
            _ => Duplex::Unknown,
        };
        (speed, duplex)
    } else {
        (None, Duplex::Unknown)
    };
    (
        Config {
            mac,
            max_pairs,
            mtu,
            speed,
            duplex,
        },
        issues,
    )
}

/// The link state from `status` (§5.1.4.2): with STATUS, bit LINK_UP;
/// without it, the link is up.
pub fn link_up(negotiated: Features, status: u16) -> bool {
    !negotiated.contains(f::STATUS) || status & wire::status::LINK_UP != 0
}

/// Whether `status` asks for an announcement (GUEST_ANNOUNCE negotiated
/// and the ANNOUNCE bit set, §5.1.6.5.4).
pub fn announce_requested(negotiated: Features, status: u16) -> bool {
    negotiated.contains(f::GUEST_ANNOUNCE) && status & wire::status::ANNOUNCE != 0
}

/// The CPUs of queue pair `pair` when `pairs` pairs share `cpus` online
/// CPUs, as ranks among the online CPUs: `(first, count)`, the group
/// wrapping past the last (the C driver's `virtnet_set_affinity`: groups
/// of `cpus / pairs` consecutive CPUs, the first `cpus % pairs` groups one
/// larger; with more pairs than CPUs, one CPU each, in turn). `None` for
/// no CPU, no pair or `pair` past `pairs`.
pub fn pair_cpus(cpus: u32, pairs: u32, pair: u32) -> Option<(u32, u32)> {
    if cpus == 0 || pair >= pairs {
        return None;
    }
    let stride = cpus.checked_div(pairs)?.max(1);
    let stragglers = if cpus >= pairs {
        cpus.checked_rem(pairs)?
    } else {
        0
    };
    let count = stride.checked_add(u32::from(pair < stragglers))?;
    // The groups before: `pair` of `stride`, plus one for each straggler.
    let first = u64::from(pair)
        .checked_mul(u64::from(stride))?
        .checked_add(u64::from(pair.min(stragglers)))?
        .checked_rem(u64::from(cpus))?;
    Some((u32::try_from(first).ok()?, count))
}

/// The virtqueue index of receive queue `pair` (`2 * pair`), transmit queue
/// `pair` (`2 * pair + 1`) and the control queue (`2 * max_pairs`, §5.1.2).
pub mod vq {
    /// The receive queue of pair `pair`.
    pub fn rx(pair: u16) -> Option<u16> {
        pair.checked_mul(2)
    }

    /// The transmit queue of pair `pair`.
    pub fn tx(pair: u16) -> Option<u16> {
        pair.checked_mul(2)?.checked_add(1)
    }

    /// The control queue, after `max_pairs` pairs (index 2 without MQ).
    pub fn ctrl(max_pairs: u16) -> Option<u16> {
        max_pairs.checked_mul(2)
    }
}
