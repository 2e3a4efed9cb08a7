// SPDX-License-Identifier: GPL-2.0

//! The KUnit suite `rvirtio_net_proto`: the core's virtio-net protocol
//! logic as the kernel build compiles it (the host tests in
//! `rust/virtio/tests/net.rs` cover it fully; these are the cases that
//! matter, run in the kernel): header building and parsing, the
//! validation of every device-supplied field (each refused on its own),
//! big-packet and mergeable accounting, and control command encoding.

use kernel::prelude::*;

#[kunit_tests(rvirtio_net_proto)]
mod tests {
    use crate::virtio::{
        net::{
            big_used, check_num_buffers, ctrl_header, ctrl_mac_table, ctrl_offloads, ctrl_rx_mode,
            ctrl_vlan, tx_header,
            wire::{ctrl, flags, gso, Header, HDR_LEN_LEGACY, HDR_LEN_MRG},
            BigUsed, CtrlError, Gso, GsoKind, Merge, RxCsum, RxError, RxOffloads, TxMeta,
            TxOffloads, MAX_GSO_PACKET,
        },
        wire::ByteOrder,
    };

    const ALL_RX: RxOffloads = RxOffloads {
        csum: true,
        tso4: true,
        tso6: true,
        ecn: true,
        ufo: true,
        uso4: true,
        uso6: true,
        rsc: false,
    };

    fn validate(h: &Header, len: usize, o: RxOffloads) -> Result<RxCsum, RxError> {
        crate::virtio::net::validate_rx(h, len, o).map(|m| m.csum)
    }

    /// A header encodes to the spec's layout (little endian on a modern
    /// interface) and decodes back; the legacy 10-byte header has no
    /// `num_buffers`; a bad length is refused.
    #[test]
    fn header_encode_decode() {
        let h = Header {
            flags: flags::NEEDS_CSUM,
            gso_type: gso::TCPV4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
            num_buffers: 3,
        };
        let mut b = [0u8; 20];
        assert!(h.encode(&mut b, HDR_LEN_MRG, ByteOrder::Little).is_some());
        assert_eq!(&b[..12], &[1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0, 3, 0]);
        assert_eq!(Header::decode(&b, HDR_LEN_MRG, ByteOrder::Little), Some(h));
        let legacy = Header::decode(&b, HDR_LEN_LEGACY, ByteOrder::Little);
        assert_eq!(legacy.map(|l| l.num_buffers), Some(0));
        assert!(Header::decode(&b[..11], HDR_LEN_MRG, ByteOrder::Little).is_none());
        assert!(Header::decode(&b, 11, ByteOrder::Little).is_none());
    }

    /// The transmit header for a TSO packet, and refusals of what was not
    /// negotiated.
    #[test]
    fn transmit_header() {
        let host = TxOffloads {
            csum: true,
            tso4: true,
            ..TxOffloads::default()
        };
        let g = Gso {
            kind: GsoKind::Tcp4,
            size: 1448,
            ecn: false,
        };
        let m = TxMeta {
            csum: Some((34, 16)),
            gso: Some((g, 66)),
            len: 60000,
        };
        let h = tx_header(&m, host, 1518);
        assert!(h.is_ok_and(|h| h.gso_type == gso::TCPV4 && h.gso_size == 1448 && h.hdr_len == 66));
        let udp = TxMeta {
            gso: Some((
                Gso {
                    kind: GsoKind::UdpL4,
                    ..g
                },
                42,
            )),
            ..m
        };
        assert!(tx_header(&udp, host, 1518).is_err());
        let uso = TxOffloads { uso: true, ..host };
        assert!(tx_header(&udp, uso, 1518).is_ok_and(|h| h.gso_type == gso::UDP_L4));
        let plain = TxMeta {
            csum: None,
            gso: None,
            len: 1519,
        };
        assert!(tx_header(&plain, host, 1518).is_err());
    }

    /// Every device-supplied header field is checked: each bad value is
    /// refused for its own reason, and a good header passes.
    #[test]
    fn receive_validation_of_every_field() {
        let ok = Header {
            flags: flags::NEEDS_CSUM,
            gso_type: gso::TCPV4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
            num_buffers: 1,
        };
        assert_eq!(
            validate(&ok, 3000, ALL_RX),
            Ok(RxCsum::Partial {
                start: 34,
                offset: 16
            })
        );
        let cases: [(Header, usize, RxOffloads, RxError); 11] = [
            (
                Header { flags: 0x80, ..ok },
                3000,
                ALL_RX,
                RxError::Flags(0x80),
            ),
            (
                Header {
                    flags: flags::RSC_INFO,
                    ..ok
                },
                3000,
                ALL_RX,
                RxError::Flags(flags::RSC_INFO),
            ),
            (
                ok,
                3000,
                RxOffloads {
                    csum: false,
                    ..ALL_RX
                },
                RxError::CsumNotNegotiated,
            ),
            (
                Header {
                    csum_start: 2990,
                    ..ok
                },
                3000,
                ALL_RX,
                RxError::CsumOutOfPacket,
            ),
            (
                Header {
                    csum_offset: u16::MAX,
                    ..ok
                },
                3000,
                ALL_RX,
                RxError::CsumOutOfPacket,
            ),
            (
                Header { gso_type: 2, ..ok },
                3000,
                ALL_RX,
                RxError::GsoType(2),
            ),
            (
                Header {
                    gso_type: gso::UDP_L4,
                    ..ok
                },
                3000,
                RxOffloads {
                    uso4: false,
                    uso6: false,
                    ..ALL_RX
                },
                RxError::GsoNotNegotiated(gso::UDP_L4),
            ),
            (Header { gso_size: 0, ..ok }, 3000, ALL_RX, RxError::GsoSize),
            (
                Header {
                    gso_type: gso::ECN,
                    ..ok
                },
                3000,
                ALL_RX,
                RxError::Ecn,
            ),
            (
                Header {
                    hdr_len: 3001,
                    ..ok
                },
                3000,
                ALL_RX,
                RxError::HdrLen,
            ),
            (ok, 13, ALL_RX, RxError::Length(13)),
        ];
        for (h, len, o, e) in cases {
            assert_eq!(validate(&h, len, o), Err(e));
        }
        // UFO needs GUEST_UFO; longer than a GSO packet is refused.
        let ufo = Header {
            gso_type: gso::UDP,
            ..ok
        };
        assert!(validate(&ufo, 3000, ALL_RX).is_ok());
        let no_ufo = RxOffloads {
            ufo: false,
            ..ALL_RX
        };
        assert_eq!(
            validate(&ufo, 3000, no_ufo),
            Err(RxError::GsoNotNegotiated(gso::UDP))
        );
        assert_eq!(
            validate(&ok, MAX_GSO_PACKET + 1, ALL_RX),
            Err(RxError::Length(MAX_GSO_PACKET + 1))
        );
    }

    /// `num_buffers` against the buffers posted, mergeable accounting,
    /// and a big buffer's used length against its pages.
    #[test]
    fn buffer_accounting() {
        assert_eq!(check_num_buffers(0, 10), Err(RxError::NumBuffers(0)));
        assert_eq!(check_num_buffers(11, 10), Err(RxError::NumBuffers(11)));
        assert_eq!(check_num_buffers(10, 10), Ok(10));
        let Ok(mut m) = Merge::new(3, 1000) else {
            panic!("Merge::new refused 3 buffers");
        };
        assert!(m.add(2000).is_ok());
        assert_eq!(m.left(), 1);
        assert!(m.add(500).is_ok());
        assert_eq!(m.len(), 3500);
        assert_eq!(m.left(), 0);
        assert_eq!(m.add(1), Err(RxError::NumBuffers(0)));
        // Past a GSO packet's length.
        let Ok(mut m) = Merge::new(2, 1000) else {
            panic!("Merge::new refused 2 buffers");
        };
        assert_eq!(
            m.add(MAX_GSO_PACKET),
            Err(RxError::Length(MAX_GSO_PACKET + 1000))
        );
        assert_eq!(
            big_used(12 + 65550, 12, 4096, 17),
            Ok(BigUsed {
                first: 4084,
                rest: 65562 - 4096
            })
        );
        assert_eq!(
            big_used(4096 * 17 + 1, 12, 4096, 17),
            Err(RxError::Length(4096 * 17 + 1))
        );
        assert_eq!(big_used(11, 12, 4096, 17), Err(RxError::Length(11)));
    }

    /// Control command encoding: header, RX mode, VLAN range, offload
    /// bits (USO4 and USO6 apart), the MAC table.
    #[test]
    fn control_encoding() {
        assert_eq!(ctrl_header(ctrl::CLASS_RX, ctrl::RX_ALLMULTI), [0, 1]);
        assert_eq!(ctrl_rx_mode(true), [1]);
        assert_eq!(ctrl_vlan(4095, ByteOrder::Little), Ok([0xff, 0x0f]));
        assert_eq!(ctrl_vlan(4096, ByteOrder::Little), Err(CtrlError::Range));
        let o = RxOffloads {
            csum: true,
            uso6: true,
            ..RxOffloads::default()
        };
        // GUEST_CSUM is bit 1, GUEST_USO6 bit 55.
        assert_eq!(
            ctrl_offloads(o, ByteOrder::Little),
            ((1u64 << 1) | (1u64 << 55)).to_le_bytes()
        );
        // One unicast address, no multicast: two 32-bit counts and it.
        let mut out = [0u8; 32];
        let uc = [[2, 0, 0, 0, 0, 1]];
        assert_eq!(
            ctrl_mac_table(&uc, &[], ByteOrder::Little, &mut out),
            Ok(14)
        );
        assert_eq!(&out[..14], &[1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0][..]);
        assert_eq!(
            ctrl_mac_table(&uc, &uc, ByteOrder::Little, &mut out[..19]),
            Err(CtrlError::NoRoom)
        );
    }
}
