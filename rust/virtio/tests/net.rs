// SPDX-License-Identifier: GPL-2.0

//! virtio-net: the wire format against the spec and the uapi header, and
//! the protocol logic (feature dependencies, header length, receive modes,
//! validation of every device-supplied header field, mergeable accounting,
//! transmit headers, control commands, configuration), with property tests.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use proptest::prelude::*;
use rvirtio_core::{
    features::{negotiate, DriverFeatures, Feature, Features},
    net::{
        big_pages, big_used, check_num_buffers, config, ctrl_header, ctrl_mac_table, ctrl_offloads,
        ctrl_vlan, ctrl_vq_pairs, drop_orphan_ecn, guest_gso, header_len, is_valid_mac, link_up,
        mac_table_len, max_frame, mergeable_buf_len, mergeable_min_len, pair_cpus, random_mac,
        rx_buf_len, rx_mode, tx_header, validate_rx, vq,
        wire::{ctrl, feature as f, flags, gso, Header, HDR_LEN_HASH, HDR_LEN_LEGACY, HDR_LEN_MRG},
        BigUsed, ConfigIssue, CtrlError, Duplex, Gso, GsoKind, Merge, PktLenAvg, RawConfig, RxCsum,
        RxError, RxMode, RxOffloads, TxError, TxMeta, TxOffloads, FEATURE_DEPS, MAX_GSO_PACKET,
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
const ALL_TX: TxOffloads = TxOffloads {
    csum: true,
    tso4: true,
    tso6: true,
    ecn: true,
    ufo: true,
    uso: true,
};

fn feats(list: &[Feature]) -> Features {
    list.iter().fold(Features::EMPTY, |a, &x| a.with(x))
}

#[test]
fn feature_bits_match_the_spec() {
    // §5.1.3 and include/uapi/linux/virtio_net.h.
    let table = [
        (f::CSUM, 0),
        (f::GUEST_CSUM, 1),
        (f::CTRL_GUEST_OFFLOADS, 2),
        (f::MTU, 3),
        (f::MAC, 5),
        (f::GUEST_TSO4, 7),
        (f::GUEST_TSO6, 8),
        (f::GUEST_ECN, 9),
        (f::GUEST_UFO, 10),
        (f::HOST_TSO4, 11),
        (f::HOST_TSO6, 12),
        (f::HOST_ECN, 13),
        (f::HOST_UFO, 14),
        (f::MRG_RXBUF, 15),
        (f::STATUS, 16),
        (f::CTRL_VQ, 17),
        (f::CTRL_RX, 18),
        (f::CTRL_VLAN, 19),
        (f::CTRL_RX_EXTRA, 20),
        (f::GUEST_ANNOUNCE, 21),
        (f::MQ, 22),
        (f::CTRL_MAC_ADDR, 23),
        (f::GUEST_USO4, 54),
        (f::GUEST_USO6, 55),
        (f::HOST_USO, 56),
        (f::HASH_REPORT, 57),
        (f::RSS, 60),
        (f::RSC_EXT, 61),
        (f::STANDBY, 62),
        (f::SPEED_DUPLEX, 63),
    ];
    for (feat, bit) in table {
        assert_eq!(feat.bit(), bit);
    }
    assert_eq!(
        (flags::NEEDS_CSUM, flags::DATA_VALID, flags::RSC_INFO),
        (1, 2, 4)
    );
    assert_eq!(
        (
            gso::NONE,
            gso::TCPV4,
            gso::UDP,
            gso::TCPV6,
            gso::UDP_L4,
            gso::ECN
        ),
        (0, 1, 3, 4, 5, 0x80)
    );
    assert_eq!(
        (ctrl::CLASS_RX, ctrl::CLASS_MAC, ctrl::CLASS_VLAN),
        (0, 1, 2)
    );
    assert_eq!(
        (
            ctrl::CLASS_ANNOUNCE,
            ctrl::CLASS_MQ,
            ctrl::CLASS_GUEST_OFFLOADS
        ),
        (3, 4, 5)
    );
    assert_eq!((ctrl::MQ_VQ_PAIRS_MIN, ctrl::MQ_VQ_PAIRS_MAX), (1, 0x8000));
}

#[test]
fn header_layout_is_the_spec_layout() {
    let h = Header {
        flags: 0x01,
        gso_type: 0x04,
        hdr_len: 0x0102,
        gso_size: 0x0304,
        csum_start: 0x0506,
        csum_offset: 0x0708,
        num_buffers: 0x090a,
    };
    let mut b = [0xffu8; HDR_LEN_HASH];
    h.encode(&mut b, HDR_LEN_MRG, ByteOrder::Little).unwrap();
    assert_eq!(&b[..HDR_LEN_MRG], &[1, 4, 2, 1, 4, 3, 6, 5, 8, 7, 0x0a, 9]);
    h.encode(&mut b, HDR_LEN_MRG, ByteOrder::Big).unwrap();
    assert_eq!(&b[..HDR_LEN_MRG], &[1, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a]);
    // The legacy header has no num_buffers; the hash header zeroes its tail.
    let mut b = [0xffu8; HDR_LEN_HASH];
    h.encode(&mut b, HDR_LEN_LEGACY, ByteOrder::Little).unwrap();
    assert_eq!(&b[HDR_LEN_LEGACY..HDR_LEN_MRG], &[0xff, 0xff]);
    h.encode(&mut b, HDR_LEN_HASH, ByteOrder::Little).unwrap();
    assert!(b[HDR_LEN_MRG..].iter().all(|&x| x == 0));
    // Lengths that are not header lengths, and short buffers, are refused.
    assert!(h.encode(&mut b, 11, ByteOrder::Little).is_none());
    assert!(Header::decode(&b[..11], HDR_LEN_MRG, ByteOrder::Little).is_none());
    assert!(Header::decode(&b, 16, ByteOrder::Little).is_none());
    let d = Header::decode(&b[..HDR_LEN_LEGACY], HDR_LEN_LEGACY, ByteOrder::Little).unwrap();
    assert_eq!(d.num_buffers, 0);
}

#[test]
fn feature_dependencies_are_enforced_by_negotiation() {
    let drv = DriverFeatures {
        wanted: Features::DEVICE_SPECIFIC,
        required: Features::EMPTY,
        deps: &FEATURE_DEPS,
    };
    let core = Features::single(Feature::VERSION_1);
    // Receive TSO without GUEST_CSUM, CTRL_RX and MQ without the control
    // queue: none of them is accepted.
    let offered = feats(&[
        Feature::VERSION_1,
        f::GUEST_TSO4,
        f::GUEST_TSO6,
        f::HOST_TSO4,
        f::CTRL_RX,
        f::CTRL_RX_EXTRA,
        f::MQ,
        f::CTRL_VLAN,
        f::GUEST_ANNOUNCE,
        f::CTRL_MAC_ADDR,
        f::CTRL_GUEST_OFFLOADS,
        f::MRG_RXBUF,
    ]);
    let got = negotiate(offered, &drv, core, false).unwrap();
    for dropped in [
        f::GUEST_TSO4,
        f::GUEST_TSO6,
        f::HOST_TSO4,
        f::CTRL_RX,
        f::CTRL_RX_EXTRA,
        f::MQ,
        f::CTRL_VLAN,
        f::GUEST_ANNOUNCE,
        f::CTRL_MAC_ADDR,
        f::CTRL_GUEST_OFFLOADS,
    ] {
        assert!(
            !got.contains(dropped),
            "{dropped:?} accepted without its prerequisite"
        );
    }
    assert!(got.contains(f::MRG_RXBUF));
    // With the prerequisites, they are.
    let offered = offered.with(f::GUEST_CSUM).with(f::CSUM).with(f::CTRL_VQ);
    let got = negotiate(offered, &drv, core, false).unwrap();
    for kept in [
        f::GUEST_TSO4,
        f::HOST_TSO4,
        f::CTRL_RX,
        f::CTRL_RX_EXTRA,
        f::MQ,
    ] {
        assert!(got.contains(kept));
    }
    // ECN needs one of the TSO features on its side.
    let ecn = feats(&[f::GUEST_ECN, f::HOST_ECN, f::GUEST_CSUM, f::CSUM]);
    assert_eq!(drop_orphan_ecn(ecn), feats(&[f::GUEST_CSUM, f::CSUM]));
    let ecn = ecn.with(f::GUEST_TSO6).with(f::HOST_TSO4);
    assert_eq!(drop_orphan_ecn(ecn), ecn);
}

#[test]
fn header_length_follows_the_features() {
    assert_eq!(header_len(Features::EMPTY), HDR_LEN_LEGACY);
    assert_eq!(header_len(feats(&[f::MRG_RXBUF])), HDR_LEN_MRG);
    assert_eq!(header_len(feats(&[Feature::VERSION_1])), HDR_LEN_MRG);
    assert_eq!(
        header_len(feats(&[Feature::VERSION_1, f::HASH_REPORT])),
        HDR_LEN_HASH
    );
}

#[test]
fn receive_mode_and_buffer_sizes() {
    assert_eq!(rx_mode(Features::EMPTY, 1500), RxMode::Small);
    assert_eq!(rx_mode(feats(&[f::GUEST_TSO4]), 1500), RxMode::Big);
    assert_eq!(rx_mode(Features::EMPTY, 9000), RxMode::Big);
    assert_eq!(
        rx_mode(feats(&[f::MRG_RXBUF, f::GUEST_TSO4]), 9000),
        RxMode::Mergeable
    );
    // The header plus 1514 bytes and a VLAN tag; plus 65550 for GSO.
    assert_eq!(rx_buf_len(RxMode::Small, 12, 1500, false), 12 + 1518);
    assert_eq!(rx_buf_len(RxMode::Big, 12, 1500, true), 12 + 65550);
    assert_eq!(rx_buf_len(RxMode::Big, 12, 65535, true), 12 + 65553);
    // Big for the MTU alone (no receive GSO): a frame of the MTU.
    assert_eq!(rx_buf_len(RxMode::Big, 12, 9000, false), 12 + 9018);
    assert_eq!(max_frame(1500), 1518);
    for g in [
        f::GUEST_TSO4,
        f::GUEST_TSO6,
        f::GUEST_UFO,
        f::GUEST_USO4,
        f::GUEST_USO6,
    ] {
        assert!(guest_gso(feats(&[g])));
        assert_eq!(rx_mode(feats(&[g]), 1500), RxMode::Big);
    }
    assert!(!guest_gso(feats(&[
        f::GUEST_CSUM,
        f::GUEST_ECN,
        f::MRG_RXBUF
    ])));
    // Pages of a big buffer: 17 for a GSO packet (C: MAX_SKB_FRAGS), 3 for
    // MTU 9000.
    assert_eq!(big_pages(12 + 65550, 4096), 17);
    assert_eq!(big_pages(12 + 9018, 4096), 3);
    assert_eq!(big_pages(4096, 4096), 1);
    assert_eq!(big_pages(0, 4096), 1);
}

/// A used big buffer: the header in the first page, the rest of the
/// packet after it; the used length checked against what was posted.
#[test]
fn big_used_length_is_checked_and_split() {
    assert_eq!(
        big_used(12 + 60, 12, 4096, 17),
        Ok(BigUsed { first: 60, rest: 0 })
    );
    assert_eq!(
        big_used(4096, 12, 4096, 17),
        Ok(BigUsed {
            first: 4084,
            rest: 0
        })
    );
    assert_eq!(
        big_used(12 + 65550, 12, 4096, 17),
        Ok(BigUsed {
            first: 4084,
            rest: 65562 - 4096
        })
    );
    // Past what was posted, or shorter than the header: refused.
    assert_eq!(
        big_used(4096 * 17 + 1, 12, 4096, 17),
        Err(RxError::Length(4096 * 17 + 1))
    );
    assert_eq!(big_used(11, 12, 4096, 17), Err(RxError::Length(11)));
    assert_eq!(big_used(100, 12, 8, 17), Err(RxError::Length(100)));
    assert_eq!(big_used(4097, 12, 4096, 1), Err(RxError::Length(4097)));
}

proptest! {
    /// Whatever used length the device reports, an accepted split covers
    /// exactly that length and stays inside the posted pages.
    #[test]
    fn big_used_split_is_inside_the_buffer(len in 0usize..80000, pages in 1usize..20) {
        if let Ok(u) = big_used(len, 12, 4096, pages) {
            prop_assert_eq!(12 + u.first + u.rest, len);
            prop_assert!(12 + u.first <= 4096);
            prop_assert!(u.rest <= 4096 * (pages - 1));
        } else {
            prop_assert!(len < 12 || len > 4096 * pages);
        }
    }
}

fn hdr(flags: u8, gso_type: u8) -> Header {
    Header {
        flags,
        gso_type,
        ..Header::default()
    }
}

#[test]
fn receive_header_validation_refuses_each_bad_field() {
    let none = RxOffloads::default();
    // A plain packet.
    assert_eq!(
        validate_rx(&Header::default(), 60, none),
        Ok(rvirtio_core::net::RxMeta {
            csum: RxCsum::None,
            gso: None
        })
    );
    // Lengths.
    assert_eq!(
        validate_rx(&Header::default(), 13, none),
        Err(RxError::Length(13))
    );
    assert_eq!(
        validate_rx(&Header::default(), MAX_GSO_PACKET + 1, ALL_RX),
        Err(RxError::Length(MAX_GSO_PACKET + 1))
    );
    // Flags: unknown, RSC_INFO, and checksum flags without GUEST_CSUM.
    assert_eq!(
        validate_rx(&hdr(0x08, 0), 60, ALL_RX),
        Err(RxError::Flags(0x08))
    );
    assert_eq!(
        validate_rx(&hdr(flags::RSC_INFO, 0), 60, ALL_RX),
        Err(RxError::Flags(4))
    );
    assert_eq!(
        validate_rx(&hdr(flags::NEEDS_CSUM, 0), 60, none),
        Err(RxError::CsumNotNegotiated)
    );
    assert_eq!(
        validate_rx(&hdr(flags::DATA_VALID, 0), 60, none),
        Err(RxError::CsumNotNegotiated)
    );
    assert_eq!(
        validate_rx(&hdr(flags::DATA_VALID, 0), 60, ALL_RX)
            .unwrap()
            .csum,
        RxCsum::Unnecessary
    );
    // csum_start + csum_offset + 2 must lie inside the packet.
    let mut h = hdr(flags::NEEDS_CSUM, 0);
    h.csum_start = 34;
    h.csum_offset = 16;
    assert_eq!(
        validate_rx(&h, 52, ALL_RX).unwrap().csum,
        RxCsum::Partial {
            start: 34,
            offset: 16
        }
    );
    assert_eq!(validate_rx(&h, 51, ALL_RX), Err(RxError::CsumOutOfPacket));
    h.csum_start = u16::MAX;
    h.csum_offset = u16::MAX;
    assert_eq!(
        validate_rx(&h, MAX_GSO_PACKET, ALL_RX),
        Err(RxError::CsumOutOfPacket)
    );
    // GSO types: unknown, not negotiated, size 0, ECN rules.
    assert_eq!(
        validate_rx(&hdr(0, 2), 60, ALL_RX),
        Err(RxError::GsoType(2))
    );
    assert_eq!(
        validate_rx(&hdr(0, 6), 60, ALL_RX),
        Err(RxError::GsoType(6))
    );
    for (t, off) in [
        (
            gso::TCPV4,
            RxOffloads {
                tso4: false,
                ..ALL_RX
            },
        ),
        (
            gso::TCPV6,
            RxOffloads {
                tso6: false,
                ..ALL_RX
            },
        ),
        (
            gso::UDP,
            RxOffloads {
                ufo: false,
                ..ALL_RX
            },
        ),
        (
            gso::UDP_L4,
            RxOffloads {
                uso4: false,
                uso6: false,
                ..ALL_RX
            },
        ),
    ] {
        let mut h = hdr(0, t);
        h.gso_size = 1448;
        assert_eq!(
            validate_rx(&h, 3000, off),
            Err(RxError::GsoNotNegotiated(t))
        );
        assert!(validate_rx(&h, 3000, ALL_RX).is_ok());
        h.gso_size = 0;
        assert_eq!(validate_rx(&h, 3000, ALL_RX), Err(RxError::GsoSize));
    }
    assert_eq!(
        validate_rx(&hdr(0, gso::ECN), 60, ALL_RX),
        Err(RxError::Ecn)
    );
    let mut h = hdr(0, gso::TCPV4 | gso::ECN);
    h.gso_size = 1448;
    assert_eq!(
        validate_rx(
            &h,
            3000,
            RxOffloads {
                ecn: false,
                ..ALL_RX
            }
        ),
        Err(RxError::Ecn)
    );
    assert_eq!(
        validate_rx(&h, 3000, ALL_RX).unwrap().gso,
        Some(Gso {
            kind: GsoKind::Tcp4,
            size: 1448,
            ecn: true
        })
    );
    // A packet over 64 KiB + headers is only possible with GSO.
    assert_eq!(
        validate_rx(&Header::default(), 65554, ALL_RX),
        Err(RxError::Length(65554))
    );
    // hdr_len past the packet.
    let h = Header {
        hdr_len: 61,
        ..Header::default()
    };
    assert_eq!(validate_rx(&h, 60, none), Err(RxError::HdrLen));
}

#[test]
fn mergeable_accounting() {
    assert_eq!(check_num_buffers(0, 10), Err(RxError::NumBuffers(0)));
    assert_eq!(check_num_buffers(11, 10), Err(RxError::NumBuffers(11)));
    assert_eq!(check_num_buffers(10, 10), Ok(10));
    let mut m = Merge::new(3, 1000).unwrap();
    assert_eq!(m.left(), 2);
    m.add(1000).unwrap();
    m.add(1000).unwrap();
    assert_eq!((m.left(), m.len()), (0, 3000));
    // A buffer beyond num_buffers is refused.
    assert!(m.add(1).is_err());
    // The total is bounded by a GSO packet.
    let mut m = Merge::new(3, MAX_GSO_PACKET - 10).unwrap();
    assert_eq!(m.add(11), Err(RxError::Length(MAX_GSO_PACKET + 1)));
    assert!(Merge::new(0, 10).is_err());
    assert!(Merge::new(1, MAX_GSO_PACKET + 1).is_err());
}

#[test]
fn mergeable_buffer_sizing() {
    let mut avg = PktLenAvg::default();
    assert_eq!(avg.get(), 0);
    avg.add(1500);
    assert_eq!(avg.get(), 1500);
    for _ in 0..2000 {
        avg.add(100);
    }
    assert!(
        avg.get() < 110,
        "the average follows the packets: {}",
        avg.get()
    );
    // At least the minimum, at most the page, cache-line aligned.
    let min = mergeable_min_len(12, 1500, 256);
    assert_eq!(
        min, 0,
        "a 256-entry ring holds a 1500-byte frame in minimal buffers"
    );
    let min = mergeable_min_len(12, 1500, 1);
    assert_eq!(min, 1518);
    let len = mergeable_buf_len(avg, 12, 64, 4096, 64);
    assert_eq!(len % 64, 0);
    assert!((12 + 64..=4096).contains(&len));
    avg.add(u32::MAX);
    let len = mergeable_buf_len(PktLenAvg::default(), 12, 0, 4096, 64);
    assert!((12..=4096).contains(&len));
    let mut big = PktLenAvg::default();
    big.add(60000);
    assert_eq!(mergeable_buf_len(big, 12, 64, 4096, 64), 4096);
}

#[test]
fn transmit_headers() {
    // The spec's example: TCPv4 with csum_start 34 and csum_offset 16.
    let m = TxMeta {
        csum: Some((34, 16)),
        gso: None,
        len: 100,
    };
    let h = tx_header(&m, ALL_TX, 1518).unwrap();
    assert_eq!(
        (h.flags, h.csum_start, h.csum_offset, h.num_buffers),
        (1, 34, 16, 0)
    );
    assert_eq!(
        tx_header(&m, TxOffloads::default(), 1518),
        Err(TxError::CsumNotNegotiated)
    );
    assert_eq!(
        tx_header(&TxMeta { len: 51, ..m }, ALL_TX, 1518),
        Err(TxError::CsumOutOfPacket)
    );
    // GSO needs a partial checksum and the matching host feature.
    let g = Gso {
        kind: GsoKind::Tcp6,
        size: 1440,
        ecn: false,
    };
    let m = TxMeta {
        csum: Some((54, 16)),
        gso: Some((g, 74)),
        len: 60000,
    };
    let h = tx_header(&m, ALL_TX, 1518).unwrap();
    assert_eq!((h.gso_type, h.gso_size, h.hdr_len), (gso::TCPV6, 1440, 74));
    assert_eq!(
        tx_header(
            &m,
            TxOffloads {
                tso6: false,
                ..ALL_TX
            },
            1518
        ),
        Err(TxError::GsoNotNegotiated(GsoKind::Tcp6))
    );
    assert_eq!(
        tx_header(&TxMeta { csum: None, ..m }, ALL_TX, 1518),
        Err(TxError::GsoWithoutCsum)
    );
    let ecn = TxMeta {
        gso: Some((Gso { ecn: true, ..g }, 74)),
        ..m
    };
    assert_eq!(
        tx_header(
            &ecn,
            TxOffloads {
                ecn: false,
                ..ALL_TX
            },
            1518
        ),
        Err(TxError::Ecn)
    );
    assert_eq!(
        tx_header(&ecn, ALL_TX, 1518).unwrap().gso_type,
        gso::TCPV6 | gso::ECN
    );
    // A frame over the MTU without GSO.
    let big = TxMeta {
        csum: None,
        gso: None,
        len: 1519,
    };
    assert_eq!(tx_header(&big, ALL_TX, 1518), Err(TxError::TooLong(1519)));
}

#[test]
fn control_commands() {
    assert_eq!(ctrl_header(ctrl::CLASS_MQ, ctrl::MQ_VQ_PAIRS_SET), [4, 0]);
    assert_eq!(ctrl_vq_pairs(2, 4, ByteOrder::Little), Ok([2, 0]));
    assert_eq!(ctrl_vq_pairs(2, 4, ByteOrder::Big), Ok([0, 2]));
    assert_eq!(
        ctrl_vq_pairs(0, 4, ByteOrder::Little),
        Err(CtrlError::Range)
    );
    assert_eq!(
        ctrl_vq_pairs(5, 4, ByteOrder::Little),
        Err(CtrlError::Range)
    );
    assert_eq!(
        ctrl_vq_pairs(0x8001, 0xffff, ByteOrder::Little),
        Err(CtrlError::Range)
    );
    assert_eq!(ctrl_vlan(4095, ByteOrder::Little), Ok([0xff, 0x0f]));
    assert_eq!(ctrl_vlan(4096, ByteOrder::Little), Err(CtrlError::Range));
    // Offload bits are feature bit numbers (§5.1.6.5.6.1).
    let o = RxOffloads {
        csum: true,
        tso4: true,
        ..RxOffloads::default()
    };
    assert_eq!(
        ctrl_offloads(o, ByteOrder::Little),
        [0x82, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        ctrl_offloads(o, ByteOrder::Big),
        [0, 0, 0, 0, 0, 0, 0, 0x82]
    );
    assert_eq!(
        RxOffloads::negotiated(feats(&[f::GUEST_CSUM, f::GUEST_TSO4])),
        o
    );
    // MAC table: unicast first, then multicast, each with a 32-bit count.
    let uc = [[0x52, 0x54, 0, 0, 0, 1]];
    let mc = [[0x01, 0, 0x5e, 0, 0, 1], [0x33, 0x33, 0, 0, 0, 1]];
    let mut out = [0u8; 64];
    let n = ctrl_mac_table(&uc, &mc, ByteOrder::Little, &mut out).unwrap();
    assert_eq!(n, mac_table_len(1, 2).unwrap());
    assert_eq!(n, 4 + 6 + 4 + 12);
    assert_eq!(&out[..4], &[1, 0, 0, 0]);
    assert_eq!(&out[4..10], &uc[0]);
    assert_eq!(&out[10..14], &[2, 0, 0, 0]);
    assert_eq!(&out[14..20], &mc[0]);
    assert_eq!(
        ctrl_mac_table(&uc, &mc, ByteOrder::Little, &mut out[..25]),
        Err(CtrlError::NoRoom)
    );
    assert_eq!(vq::rx(0), Some(0));
    assert_eq!(vq::tx(0), Some(1));
    assert_eq!(vq::rx(3), Some(6));
    assert_eq!(vq::ctrl(1), Some(2));
    assert_eq!(vq::ctrl(4), Some(8));
    assert_eq!(vq::tx(u16::MAX), None);
}

#[test]
fn configuration_is_validated() {
    let all = feats(&[f::MAC, f::MQ, f::MTU, f::SPEED_DUPLEX, f::STATUS]);
    let good = RawConfig {
        mac: [0x52, 0x54, 0, 0x12, 0x34, 0x56],
        max_virtqueue_pairs: 4,
        mtu: 9000,
        speed: 10000,
        duplex: 1,
    };
    let (c, issues) = config(all, &good);
    assert_eq!(c.mac, Some(good.mac));
    assert_eq!(
        (c.max_pairs, c.mtu, c.speed, c.duplex),
        (4, Some(9000), Some(10000), Duplex::Full)
    );
    assert_eq!(issues, [None; 4]);
    // Without the features, nothing from the configuration is used.
    let (c, _) = config(Features::EMPTY, &good);
    assert_eq!((c.mac, c.max_pairs, c.mtu, c.speed), (None, 1, None, None));
    assert_eq!(c.duplex, Duplex::Unknown);
    // Bad values are refused and reported.
    let bad = RawConfig {
        mac: [0x01, 0, 0, 0, 0, 0],
        max_virtqueue_pairs: 0x8001,
        mtu: 67,
        speed: 0x8000_0000,
        duplex: 7,
    };
    let (c, issues) = config(all, &bad);
    assert_eq!((c.mac, c.max_pairs, c.mtu, c.speed), (None, 1, None, None));
    assert_eq!(c.duplex, Duplex::Unknown);
    assert_eq!(
        issues,
        [
            Some(ConfigIssue::Mac),
            Some(ConfigIssue::MaxPairs(0x8001)),
            Some(ConfigIssue::Mtu(67)),
            Some(ConfigIssue::Speed(0x8000_0000))
        ]
    );
    let (_, issues) = config(
        all,
        &RawConfig {
            max_virtqueue_pairs: 0,
            ..good
        },
    );
    assert_eq!(issues[1], Some(ConfigIssue::MaxPairs(0)));
    let (c, _) = config(
        all,
        &RawConfig {
            speed: u32::MAX,
            ..good
        },
    );
    assert_eq!(c.speed, None);
    // The link is up without STATUS.
    assert!(link_up(Features::EMPTY, 0));
    assert!(!link_up(feats(&[f::STATUS]), 0));
    assert!(link_up(feats(&[f::STATUS]), 1));
    assert!(!is_valid_mac(&[0; 6]));
    let r = random_mac([0xff; 6]);
    assert!(is_valid_mac(&r));
    assert_eq!(r[0] & 3, 2, "locally administered unicast");
}

fn any_header() -> impl Strategy<Value = Header> {
    (
        any::<u8>(),
        prop_oneof![any::<u8>(), 0u8..6, Just(0x81u8), Just(0x84u8)],
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        prop_oneof![any::<u16>(), 0u16..32],
        any::<u16>(),
    )
        .prop_map(
            |(flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers)| Header {
                flags: flags & 0x0f,
                gso_type,
                hdr_len,
                gso_size,
                csum_start,
                csum_offset,
                num_buffers,
            },
        )
}

fn any_rx_offloads() -> impl Strategy<Value = RxOffloads> {
    any::<[bool; 7]>().prop_map(|b| RxOffloads {
        csum: b[0],
        tso4: b[1],
        tso6: b[2],
        ecn: b[3],
        ufo: b[4],
        uso4: b[5],
        uso6: b[6],
        rsc: false,
    })
}

proptest! {
    /// Whatever the device writes, an accepted header describes a packet
    /// the stack can use: checksum field inside the packet, GSO only of an
    /// enabled kind with a non-zero size, flags only with GUEST_CSUM.
    #[test]
    fn accepted_receive_headers_are_sound(
        h in any_header(),
        len in 0usize..70000,
        allowed in any_rx_offloads(),
    ) {
        if let Ok(m) = validate_rx(&h, len, allowed) {
            prop_assert!((14..=MAX_GSO_PACKET).contains(&len));
            prop_assert!(usize::from(h.hdr_len) <= len);
            match m.csum {
                RxCsum::Partial { start, offset } => {
                    prop_assert!(allowed.csum);
                    prop_assert!(usize::from(start) + usize::from(offset) + 2 <= len);
                }
                RxCsum::Unnecessary => prop_assert!(allowed.csum),
                RxCsum::None => prop_assert_eq!(h.flags, 0),
            }
            match m.gso {
                None => {
                    prop_assert_eq!(h.gso_type, 0);
                    prop_assert!(len <= max_frame(u16::MAX));
                }
                Some(g) => {
                    prop_assert!(g.size > 0);
                    let ok = match g.kind {
                        GsoKind::Tcp4 => allowed.tso4,
                        GsoKind::Tcp6 => allowed.tso6,
                        GsoKind::Udp => allowed.ufo,
                        GsoKind::UdpL4 => allowed.uso4 || allowed.uso6,
                    };
                    prop_assert!(ok);
                    prop_assert!(!g.ecn || allowed.ecn);
                }
            }
        }
        // With no receive offload in force, only a plain header passes.
        if validate_rx(&h, len, RxOffloads::default()).is_ok() {
            prop_assert_eq!((h.flags, h.gso_type), (0, 0));
        }
    }

    /// Encoding then decoding a header gives it back, in both byte orders
    /// and every header length.
    #[test]
    fn headers_round_trip(h in any_header(), big in any::<bool>()) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        for len in [HDR_LEN_LEGACY, HDR_LEN_MRG, HDR_LEN_HASH] {
            let mut b = [0u8; HDR_LEN_HASH];
            h.encode(&mut b, len, order).unwrap();
            let d = Header::decode(&b, len, order).unwrap();
            let want = if len == HDR_LEN_LEGACY { Header { num_buffers: 0, ..h } } else { h };
            prop_assert_eq!(d, want);
        }
    }

    /// What the driver sends, a device with the same offloads on its
    /// receive side accepts: the transmit and receive rules agree.
    #[test]
    fn transmit_headers_pass_receive_validation(
        start in 0u16..200,
        offset in prop_oneof![Just(6u16), Just(16u16)],
        kind in 0u8..4,
        size in 1u16..9000,
        ecn in any::<bool>(),
        len in 14usize..65000,
        hdr_len in 0u16..200,
    ) {
        let kind = [GsoKind::Tcp4, GsoKind::Tcp6, GsoKind::Udp, GsoKind::UdpL4][usize::from(kind)];
        let m = TxMeta {
            csum: Some((start, offset)),
            gso: Some((Gso { kind, size, ecn }, hdr_len)),
            len,
        };
        if let Ok(h) = tx_header(&m, ALL_TX, 1518) {
            let rx = validate_rx(&h, len, ALL_RX).unwrap();
            prop_assert_eq!(rx.gso, Some(Gso { kind, size, ecn }));
            prop_assert_eq!(rx.csum, RxCsum::Partial { start, offset });
        }
    }

    /// Mergeable accounting never accepts more buffers than announced nor a
    /// packet over the GSO maximum.
    #[test]
    fn mergeable_never_overruns(n in 1u16..64, lens in proptest::collection::vec(0usize..20000, 0..80)) {
        let mut m = Merge::new(n, 0).unwrap();
        let mut accepted = 0u32;
        for l in lens {
            if m.add(l).is_ok() {
                accepted += 1;
            }
            prop_assert!(m.len() <= MAX_GSO_PACKET);
        }
        prop_assert!(accepted < u32::from(n));
    }
}

/// `ethtool -K`: rx-checksumming off leaves no receive offload (GSO needs
/// GUEST_CSUM), GRO_HW off keeps only the checksum, both on keep all; the
/// bitmask follows.
#[test]
fn rx_offloads_narrowed_by_ethtool() {
    assert_eq!(ALL_RX.narrowed(false, true), RxOffloads::default());
    assert_eq!(ALL_RX.narrowed(false, false).to_bits(), 0);
    let csum_only = ALL_RX.narrowed(true, false);
    assert_eq!(
        csum_only,
        RxOffloads {
            csum: true,
            ..RxOffloads::default()
        }
    );
    assert_eq!(csum_only.to_bits(), 1 << f::GUEST_CSUM.bit());
    // USO4 and USO6 are separate bits: one negotiated sets one.
    let uso4 = RxOffloads {
        csum: true,
        uso4: true,
        ..RxOffloads::default()
    };
    assert_eq!(
        uso4.to_bits(),
        (1 << f::GUEST_CSUM.bit()) | (1 << f::GUEST_USO4.bit())
    );
    assert_eq!(
        RxOffloads::negotiated(feats(&[f::GUEST_CSUM, f::GUEST_USO6])).to_bits(),
        (1 << f::GUEST_CSUM.bit()) | (1 << f::GUEST_USO6.bit())
    );
    assert_eq!(ALL_RX.narrowed(true, true), ALL_RX);
    // Nothing negotiated stays nothing.
    assert_eq!(
        RxOffloads::default().narrowed(true, true),
        RxOffloads::default()
    );
}

#[test]
fn max_pairs_validation_is_fatal_only_for_max_pairs() {
    // With MQ, 1..=0x8000 is taken as is; 0 and 0x8001 are issues that
    // refuse the device (the control queue's index would be undefined).
    let mq = feats(&[f::CTRL_VQ, f::MQ]);
    for (p, ok) in [
        (0u16, false),
        (1, true),
        (2, true),
        (0x8000, true),
        (0x8001, false),
        (0xffff, false),
    ] {
        let (c, issues) = config(
            mq,
            &RawConfig {
                max_virtqueue_pairs: p,
                ..RawConfig::default()
            },
        );
        if ok {
            assert_eq!((c.max_pairs, issues[1]), (p, None));
        } else {
            assert_eq!(issues[1], Some(ConfigIssue::MaxPairs(p)));
            assert!(issues[1].is_some_and(ConfigIssue::is_fatal));
        }
    }
    // Without MQ the field is not read: one pair, no issue.
    let (c, issues) = config(
        Features::EMPTY,
        &RawConfig {
            max_virtqueue_pairs: 0,
            ..RawConfig::default()
        },
    );
    assert_eq!((c.max_pairs, issues[1]), (1, None));
    for i in [ConfigIssue::Mac, ConfigIssue::Mtu(1), ConfigIssue::Speed(7)] {
        assert!(!i.is_fatal());
    }
    // The control queue follows all pairs, used or not.
    // 2 * 0x8000 does not fit the 16-bit queue index.
    assert_eq!(vq::ctrl(0x8000), None);
    assert_eq!(vq::ctrl(4), Some(8));
    assert_eq!((vq::rx(1), vq::tx(1)), (Some(2), Some(3)));
}

#[test]
fn vq_pairs_set_encoding() {
    // VQ_PAIRS_SET: class 4, command 0, le16 (be16 for a big-endian
    // legacy device) pairs within 1..=max.
    assert_eq!(ctrl_header(ctrl::CLASS_MQ, ctrl::MQ_VQ_PAIRS_SET), [4, 0]);
    assert_eq!(ctrl_vq_pairs(1, 1, ByteOrder::Little), Ok([1, 0]));
    assert_eq!(
        ctrl_vq_pairs(0x8000, 0x8000, ByteOrder::Little),
        Ok([0, 0x80])
    );
    assert_eq!(ctrl_vq_pairs(0x102, 0x8000, ByteOrder::Big), Ok([1, 2]));
    assert_eq!(
        ctrl_vq_pairs(3, 2, ByteOrder::Little),
        Err(CtrlError::Range)
    );
}

#[test]
fn pair_cpus_spread_as_c() {
    // Two CPUs: two pairs one each, one pair both.
    assert_eq!(pair_cpus(2, 2, 0), Some((0, 1)));
    assert_eq!(pair_cpus(2, 2, 1), Some((1, 1)));
    assert_eq!(pair_cpus(2, 1, 0), Some((0, 2)));
    // Five CPUs, two pairs: 3 + 2.
    assert_eq!(pair_cpus(5, 2, 0), Some((0, 3)));
    assert_eq!(pair_cpus(5, 2, 1), Some((3, 2)));
    // More pairs than CPUs: one CPU each, in turn.
    assert_eq!(pair_cpus(2, 3, 2), Some((0, 1)));
    // Out of range.
    assert_eq!(pair_cpus(2, 2, 2), None);
    assert_eq!(pair_cpus(0, 1, 0), None);
    assert_eq!(pair_cpus(2, 0, 0), None);
}

proptest! {
    #[test]
    fn pair_cpus_cover_every_cpu_once(cpus in 1u32..300, pairs in 1u32..300) {
        // Every online CPU is in exactly one group when pairs <= cpus;
        // with more pairs, every group has one CPU.
        let mut seen = vec![0u32; cpus as usize];
        for p in 0..pairs {
            let (first, count) = pair_cpus(cpus, pairs, p).unwrap();
            prop_assert!(first < cpus && count >= 1);
            for k in 0..count {
                seen[((first + k) % cpus) as usize] += 1;
            }
        }
        if pairs <= cpus {
            prop_assert!(seen.iter().all(|&n| n == 1));
        } else {
            prop_assert!(seen.iter().all(|&n| n >= 1));
        }
    }
}
