// SPDX-License-Identifier: GPL-2.0

//! The virtio-net wire format: feature bits, configuration offsets, status
//! bits, the packet header (`struct virtio_net_hdr` and its longer forms)
//! and the control queue's classes, commands and acknowledgements.
//!
//! Everything the device reads or writes is defined here, once. Multi-byte
//! header and control fields are little-endian on a modern interface and in
//! the guest's byte order on a legacy one, so they are encoded and decoded
//! with a [`ByteOrder`] (the transport's) and never cast from memory.
//!
//! Ref: virtio v1.4 §5.1 "Network Device"; C: `include/uapi/linux/virtio_net.h`.

use super::super::{
    features::Feature,
    wire::ByteOrder, //
};

/// Feature bits (§5.1.3).
pub mod feature {
    use super::Feature;

    /// `VIRTIO_NET_F_CSUM`: the device takes packets with a partial checksum.
    pub const CSUM: Feature = Feature::new(0);
    /// `VIRTIO_NET_F_GUEST_CSUM`: the driver takes packets with a partial
    /// checksum.
    pub const GUEST_CSUM: Feature = Feature::new(1);
    /// `VIRTIO_NET_F_CTRL_GUEST_OFFLOADS`: receive offloads can be changed
    /// through the control queue.
    pub const CTRL_GUEST_OFFLOADS: Feature = Feature::new(2);
    /// `VIRTIO_NET_F_MTU`: `mtu` is valid.
    pub const MTU: Feature = Feature::new(3);
    /// `VIRTIO_NET_F_MAC`: `mac` is valid.
    pub const MAC: Feature = Feature::new(5);
    /// `VIRTIO_NET_F_GUEST_TSO4`: the driver takes TCPv4 GSO packets.
    pub const GUEST_TSO4: Feature = Feature::new(7);
    /// `VIRTIO_NET_F_GUEST_TSO6`: the driver takes TCPv6 GSO packets.
    pub const GUEST_TSO6: Feature = Feature::new(8);
    /// `VIRTIO_NET_F_GUEST_ECN`: the driver takes TSO packets with ECN.
    pub const GUEST_ECN: Feature = Feature::new(9);
    /// `VIRTIO_NET_F_GUEST_UFO`: the driver takes UFO packets.
    pub const GUEST_UFO: Feature = Feature::new(10);
    /// `VIRTIO_NET_F_HOST_TSO4`: the device takes TCPv4 GSO packets.
    pub const HOST_TSO4: Feature = Feature::new(11);
    /// `VIRTIO_NET_F_HOST_TSO6`: the device takes TCPv6 GSO packets.
    pub const HOST_TSO6: Feature = Feature::new(12);
    /// `VIRTIO_NET_F_HOST_ECN`: the device takes TSO packets with ECN.
    pub const HOST_ECN: Feature = Feature::new(13);
    /// `VIRTIO_NET_F_HOST_UFO`: the device takes UFO packets.
    pub const HOST_UFO: Feature = Feature::new(14);
    /// `VIRTIO_NET_F_MRG_RXBUF`: a received packet may span buffers.
    pub const MRG_RXBUF: Feature = Feature::new(15);
    /// `VIRTIO_NET_F_STATUS`: `status` is valid.
    pub const STATUS: Feature = Feature::new(16);
    /// `VIRTIO_NET_F_CTRL_VQ`: there is a control queue.
    pub const CTRL_VQ: Feature = Feature::new(17);
    /// `VIRTIO_NET_F_CTRL_RX`: RX mode control (promiscuous, allmulti).
    pub const CTRL_RX: Feature = Feature::new(18);
    /// `VIRTIO_NET_F_CTRL_VLAN`: VLAN filtering.
    pub const CTRL_VLAN: Feature = Feature::new(19);
    /// `VIRTIO_NET_F_CTRL_RX_EXTRA`: the extra RX mode commands.
    pub const CTRL_RX_EXTRA: Feature = Feature::new(20);
    /// `VIRTIO_NET_F_GUEST_ANNOUNCE`: the driver sends gratuitous packets
    /// when asked.
    pub const GUEST_ANNOUNCE: Feature = Feature::new(21);
    /// `VIRTIO_NET_F_MQ`: several transmit/receive queue pairs.
    pub const MQ: Feature = Feature::new(22);
    /// `VIRTIO_NET_F_CTRL_MAC_ADDR`: the MAC address is set through the
    /// control queue.
    pub const CTRL_MAC_ADDR: Feature = Feature::new(23);
    /// `VIRTIO_NET_F_GUEST_USO4`: the driver takes USO packets over IPv4.
    pub const GUEST_USO4: Feature = Feature::new(54);
    /// `VIRTIO_NET_F_GUEST_USO6`: the driver takes USO packets over IPv6.
    pub const GUEST_USO6: Feature = Feature::new(55);
    /// `VIRTIO_NET_F_HOST_USO`: the device takes USO packets.
    pub const HOST_USO: Feature = Feature::new(56);
    /// `VIRTIO_NET_F_HASH_REPORT`: the header carries a hash report.
    pub const HASH_REPORT: Feature = Feature::new(57);
    /// `VIRTIO_NET_F_RSS`: receive-side scaling through the control queue.
    pub const RSS: Feature = Feature::new(60);
    /// `VIRTIO_NET_F_RSC_EXT`: coalescing information in the header.
    pub const RSC_EXT: Feature = Feature::new(61);
    /// `VIRTIO_NET_F_STANDBY`: a standby for a passthrough device.
    pub const STANDBY: Feature = Feature::new(62);
    /// `VIRTIO_NET_F_SPEED_DUPLEX`: `speed` and `duplex` are valid.
    pub const SPEED_DUPLEX: Feature = Feature::new(63);
}

/// Offsets in `struct virtio_net_config` (§5.1.4).
pub mod config {
    /// `u8 mac[6]`.
    pub const MAC: usize = 0;
    /// `le16 status`.
    pub const STATUS: usize = 6;
    /// `le16 max_virtqueue_pairs`.
    pub const MAX_VIRTQUEUE_PAIRS: usize = 8;
    /// `le16 mtu`.
    pub const MTU: usize = 10;
    /// `le32 speed`, in Mb/s.
    pub const SPEED: usize = 12;
    /// `u8 duplex`.
    pub const DUPLEX: usize = 16;
}

/// `status` bits (§5.1.4).
pub mod status {
    /// `VIRTIO_NET_S_LINK_UP`.
    pub const LINK_UP: u16 = 1;
    /// `VIRTIO_NET_S_ANNOUNCE`: the device asks for a gratuitous packet.
    pub const ANNOUNCE: u16 = 2;
}

/// Length of a MAC address.
pub const ETH_ALEN: usize = 6;

/// Header `flags` bits (§5.1.6).
pub mod flags {
    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: `csum_start`/`csum_offset` are valid.
    pub const NEEDS_CSUM: u8 = 1;
    /// `VIRTIO_NET_HDR_F_DATA_VALID`: the device validated the checksum.
    pub const DATA_VALID: u8 = 2;
    /// `VIRTIO_NET_HDR_F_RSC_INFO`: coalescing information (RSC_EXT only).
    pub const RSC_INFO: u8 = 4;
}

/// Header `gso_type` values (§5.1.6).
pub mod gso {
    /// `VIRTIO_NET_HDR_GSO_NONE`.
    pub const NONE: u8 = 0;
    /// `VIRTIO_NET_HDR_GSO_TCPV4`.
    pub const TCPV4: u8 = 1;
    /// `VIRTIO_NET_HDR_GSO_UDP` (UFO).
    pub const UDP: u8 = 3;
    /// `VIRTIO_NET_HDR_GSO_TCPV6`.
    pub const TCPV6: u8 = 4;
    /// `VIRTIO_NET_HDR_GSO_UDP_L4` (USO).
    pub const UDP_L4: u8 = 5;
    /// `VIRTIO_NET_HDR_GSO_ECN`: the packet has ECN (ORed into the type).
    pub const ECN: u8 = 0x80;
}

/// Length of `struct virtio_net_hdr` (legacy without MRG_RXBUF).
pub const HDR_LEN_LEGACY: usize = 10;
/// Length with `num_buffers` (`struct virtio_net_hdr_mrg_rxbuf`): modern
/// interfaces, or MRG_RXBUF.
pub const HDR_LEN_MRG: usize = 12;
/// Length with the hash report (`struct virtio_net_hdr_v1_hash`).
pub const HDR_LEN_HASH: usize = 20;
/// The longest header this driver uses.
pub const HDR_LEN_MAX: usize = HDR_LEN_HASH;

/// Field offsets in the header.
mod off {
    pub(super) const FLAGS: usize = 0;
    pub(super) const GSO_TYPE: usize = 1;
    pub(super) const HDR_LEN: usize = 2;
    pub(super) const GSO_SIZE: usize = 4;
    pub(super) const CSUM_START: usize = 6;
    pub(super) const CSUM_OFFSET: usize = 8;
    pub(super) const NUM_BUFFERS: usize = 10;
}

/// The fields of a packet header, in CPU byte order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// `flags` ([`flags`]).
    pub flags: u8,
    /// `gso_type` ([`gso`]).
    pub gso_type: u8,
    /// `hdr_len`.
    pub hdr_len: u16,
    /// `gso_size`.
    pub gso_size: u16,
    /// `csum_start`.
    pub csum_start: u16,
    /// `csum_offset`.
    pub csum_offset: u16,
    /// `num_buffers` (0 where the header has no such field).
    pub num_buffers: u16,
}

/// Reads a 16-bit field at `at` in `order`; `None` past the end.
fn get16(b: &[u8], at: usize, order: ByteOrder) -> Option<u16> {
    let bytes: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(order.from_device_u16(bytes))
}

/// Writes a 16-bit field at `at` in `order`; `None` past the end.
fn put16(b: &mut [u8], at: usize, v: u16, order: ByteOrder) -> Option<()> {
    let dst = b.get_mut(at..at.checked_add(2)?)?;
    dst.copy_from_slice(&order.to_device_u16(v));
    Some(())
}

impl Header {
    /// Decodes the first `len` bytes of `bytes` as a header of length `len`
    /// ([`HDR_LEN_LEGACY`], [`HDR_LEN_MRG`] or [`HDR_LEN_HASH`]; the hash
    /// fields are not decoded). `None` when `bytes` is shorter than `len`
    /// or `len` is not a header length.
    pub fn decode(bytes: &[u8], len: usize, order: ByteOrder) -> Option<Self> {
        if !matches!(len, HDR_LEN_LEGACY | HDR_LEN_MRG | HDR_LEN_HASH) || bytes.len() < len {
            return None;
        }
        Some(Self {
            flags: *bytes.get(off::FLAGS)?,
            gso_type: *bytes.get(off::GSO_TYPE)?,
            hdr_len: get16(bytes, off::HDR_LEN, order)?,
            gso_size: get16(bytes, off::GSO_SIZE, order)?,
            csum_start: get16(bytes, off::CSUM_START, order)?,
            csum_offset: get16(bytes, off::CSUM_OFFSET, order)?,
            num_buffers: if len >= HDR_LEN_MRG {
                get16(bytes, off::NUM_BUFFERS, order)?
            } else {
                0
            },
        })
    }

    /// Encodes the header into the first `len` bytes of `out` (bytes past
    /// the fields, such as the hash report, are zeroed). `None` when `out`
    /// is shorter than `len` or `len` is not a header length.
    pub fn encode(&self, out: &mut [u8], len: usize, order: ByteOrder) -> Option<()> {
        if !matches!(len, HDR_LEN_LEGACY | HDR_LEN_MRG | HDR_LEN_HASH) {
            return None;
        }
        let out = out.get_mut(..len)?;
        out.fill(0);
        *out.get_mut(off::FLAGS)? = self.flags;
        *out.get_mut(off::GSO_TYPE)? = self.gso_type;
        put16(out, off::HDR_LEN, self.hdr_len, order)?;
        put16(out, off::GSO_SIZE, self.gso_size, order)?;
        put16(out, off::CSUM_START, self.csum_start, order)?;
        put16(out, off::CSUM_OFFSET, self.csum_offset, order)?;
        if len >= HDR_LEN_MRG {
            put16(out, off::NUM_BUFFERS, self.num_buffers, order)?;
        }
        Some(())
    }
}

/// Control queue classes and commands (§5.1.6.5).
pub mod ctrl {
    /// `VIRTIO_NET_CTRL_RX`.
    pub const CLASS_RX: u8 = 0;
    /// `VIRTIO_NET_CTRL_RX_PROMISC`.
    pub const RX_PROMISC: u8 = 0;
    /// `VIRTIO_NET_CTRL_RX_ALLMULTI`.
    pub const RX_ALLMULTI: u8 = 1;
    /// `VIRTIO_NET_CTRL_MAC`.
    pub const CLASS_MAC: u8 = 1;
    /// `VIRTIO_NET_CTRL_MAC_TABLE_SET`.
    pub const MAC_TABLE_SET: u8 = 0;
    /// `VIRTIO_NET_CTRL_MAC_ADDR_SET`.
    pub const MAC_ADDR_SET: u8 = 1;
    /// `VIRTIO_NET_CTRL_VLAN`.
    pub const CLASS_VLAN: u8 = 2;
    /// `VIRTIO_NET_CTRL_VLAN_ADD`.
    pub const VLAN_ADD: u8 = 0;
    /// `VIRTIO_NET_CTRL_VLAN_DEL`.
    pub const VLAN_DEL: u8 = 1;
    /// `VIRTIO_NET_CTRL_ANNOUNCE`.
    pub const CLASS_ANNOUNCE: u8 = 3;
    /// `VIRTIO_NET_CTRL_ANNOUNCE_ACK`.
    pub const ANNOUNCE_ACK: u8 = 0;
    /// `VIRTIO_NET_CTRL_MQ`.
    pub const CLASS_MQ: u8 = 4;
    /// `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET`.
    pub const MQ_VQ_PAIRS_SET: u8 = 0;
    /// `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN`.
    pub const MQ_VQ_PAIRS_MIN: u16 = 1;
    /// `VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX`.
    pub const MQ_VQ_PAIRS_MAX: u16 = 0x8000;
    /// `VIRTIO_NET_CTRL_GUEST_OFFLOADS`.
    pub const CLASS_GUEST_OFFLOADS: u8 = 5;
    /// `VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET`.
    pub const GUEST_OFFLOADS_SET: u8 = 0;
    /// `VIRTIO_NET_OK`: the acknowledgement of a command that worked.
    pub const ACK_OK: u8 = 0;
    /// `VIRTIO_NET_ERR`.
    pub const ACK_ERR: u8 = 1;
}
