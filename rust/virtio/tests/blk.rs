// SPDX-License-Identifier: GPL-2.0

//! virtio-blk: the wire format against the spec and the uapi header, and
//! the protocol logic (request types, completions, discard ranges, GET_ID
//! serials, limits, disk names), with property tests.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use core::mem::{
    offset_of,
    size_of, //
};
use proptest::prelude::*;
use rvirtio_core::blk::{
    check_prefix,
    completion,
    disk_name,
    encode_ranges,
    limits,
    on_timeout,
    ranges_bytes,
    request_type,
    serial_from_id,
    wire::{
        self,
        Range,
        RequestHeader,
        RequestType,
        RequestWire,
        FLAG_UNMAP,
        MAX_RANGES, //
    },
    Answer,
    BadId,
    Caps,
    Config,
    LimitsError,
    Op,
    Outcome,
    RangeError,
    TimeoutState,
    TimeoutVerdict,
    DISK_NAME_LEN,
    MAX_DISK_INDEX,
    MAX_SEGMENTS, //
};

// ---- Wire format ----

#[test]
fn wire_layout_matches_uapi() {
    // include/uapi/linux/virtio_blk.h: struct virtio_blk_outhdr.
    assert_eq!(size_of::<RequestHeader>(), 16);
    assert_eq!(offset_of!(RequestHeader, type_), 0);
    assert_eq!(offset_of!(RequestHeader, ioprio), 4);
    assert_eq!(offset_of!(RequestHeader, sector), 8);
    // struct virtio_blk_discard_write_zeroes.
    assert_eq!(size_of::<Range>(), 16);
    assert_eq!(offset_of!(Range, sector), 0);
    assert_eq!(offset_of!(Range, num_sectors), 8);
    assert_eq!(offset_of!(Range, flags), 12);
    // VIRTIO_BLK_T_*, VIRTIO_BLK_S_*.
    let types = [
        (RequestType::In, 0),
        (RequestType::Out, 1),
        (RequestType::Flush, 4),
        (RequestType::GetId, 8),
        (RequestType::Discard, 11),
        (RequestType::WriteZeroes, 13),
    ];
    for (t, v) in types {
        assert_eq!(t as u32, v);
    }
    assert_eq!((wire::S_OK, wire::S_IOERR, wire::S_UNSUPP), (0, 1, 2));
    assert_eq!(FLAG_UNMAP, 1);
    assert_eq!(wire::ID_BYTES, 20);
}

#[test]
fn request_wire_layout() {
    let l = RequestWire::LAYOUT;
    assert_eq!(l.header_len, 16);
    assert_eq!(l.status_offset, 16);
    assert_eq!(l.payload_offset, 24);
    assert_eq!(l.payload_max, 256);
    assert_eq!(l.size, 24 + 256);
    assert_eq!(l.align, 8);
    assert_eq!(ranges_bytes(MAX_RANGES), l.payload_max);
}

#[test]
fn request_header_bytes() {
    let mut w = RequestWire::default();
    w.status = 0;
    w.prepare(RequestType::Out, 0x0102_0304_0506_0708);
    let h = w.header;
    // SAFETY: `RequestHeader` is 16 bytes of plain integers.
    let bytes: [u8; 16] = unsafe { core::mem::transmute(h) };
    assert_eq!(bytes, [1, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(w.status, wire::S_UNWRITTEN);
}

#[test]
fn config_offsets_match_the_spec_structure() {
    // struct virtio_blk_config, §5.2.4, as a natural-layout mirror.
    #[repr(C)]
    struct Cfg {
        capacity: u64,
        size_max: u32,
        seg_max: u32,
        cylinders: u16,
        heads: u8,
        sectors: u8,
        blk_size: u32,
        physical_block_exp: u8,
        alignment_offset: u8,
        min_io_size: u16,
        opt_io_size: u32,
        writeback: u8,
        unused0: u8,
        num_queues: u16,
        max_discard_sectors: u32,
        max_discard_seg: u32,
        discard_sector_alignment: u32,
        max_write_zeroes_sectors: u32,
    }
    use wire::config as c;
    assert_eq!(offset_of!(Cfg, capacity), c::CAPACITY);
    assert_eq!(offset_of!(Cfg, size_max), c::SIZE_MAX);
    assert_eq!(offset_of!(Cfg, seg_max), c::SEG_MAX);
    assert_eq!(offset_of!(Cfg, cylinders), c::CYLINDERS);
    assert_eq!(offset_of!(Cfg, heads), c::HEADS);
    assert_eq!(offset_of!(Cfg, sectors), c::SECTORS);
    assert_eq!(offset_of!(Cfg, blk_size), c::BLK_SIZE);
    assert_eq!(offset_of!(Cfg, physical_block_exp), c::PHYSICAL_BLOCK_EXP);
    assert_eq!(offset_of!(Cfg, alignment_offset), c::ALIGNMENT_OFFSET);
    assert_eq!(offset_of!(Cfg, min_io_size), c::MIN_IO_SIZE);
    assert_eq!(offset_of!(Cfg, opt_io_size), c::OPT_IO_SIZE);
    assert_eq!(offset_of!(Cfg, writeback), c::WRITEBACK);
    assert_eq!(offset_of!(Cfg, unused0), c::WRITEBACK + 1);
    assert_eq!(offset_of!(Cfg, num_queues), c::NUM_QUEUES);
    assert_eq!(offset_of!(Cfg, max_discard_sectors), c::MAX_DISCARD_SECTORS);
    assert_eq!(offset_of!(Cfg, max_discard_seg), c::MAX_DISCARD_SEG);
    assert_eq!(
        offset_of!(Cfg, discard_sector_alignment),
        c::DISCARD_SECTOR_ALIGNMENT
    );
    assert_eq!(
        offset_of!(Cfg, max_write_zeroes_sectors),
        c::MAX_WRITE_ZEROES_SECTORS
    );
}

// ---- Request types and completions ----

#[test]
fn request_types_per_feature() {
    let all = Caps {
        flush: true,
        discard: true,
        write_zeroes: true,
    };
    let none = Caps::default();
    assert_eq!(request_type(Op::Read, 8, none), Some((RequestType::In, 8)));
    assert_eq!(
        request_type(Op::Write, 16, none),
        Some((RequestType::Out, 16))
    );
    assert_eq!(
        request_type(Op::Flush, 99, all),
        Some((RequestType::Flush, 0))
    );
    assert_eq!(request_type(Op::Flush, 99, none), None);
    assert_eq!(
        request_type(Op::Discard, 64, all),
        Some((RequestType::Discard, 0))
    );
    assert_eq!(request_type(Op::Discard, 64, none), None);
    assert_eq!(
        request_type(Op::WriteZeroes, 64, all),
        Some((RequestType::WriteZeroes, 0))
    );
    assert_eq!(request_type(Op::WriteZeroes, 64, none), None);
    assert_eq!(
        request_type(Op::DrvIn, 5, none),
        Some((RequestType::GetId, 0))
    );
    assert_eq!(request_type(Op::Other(99), 0, all), None);
}

#[test]
fn completion_statuses() {
    let ok = Answer {
        status: wire::S_OK,
        used_len: 4097,
        in_len: 4097,
    };
    assert_eq!(completion(ok, true), (Outcome::Ok, false));
    let short = Answer { used_len: 1, ..ok };
    assert_eq!(completion(short, true), (Outcome::IoError, true));
    // Legacy devices misreport the length: ignored.
    assert_eq!(completion(short, false), (Outcome::Ok, false));
    let err = Answer {
        status: wire::S_IOERR,
        used_len: 0,
        ..ok
    };
    assert_eq!(completion(err, true), (Outcome::IoError, false));
    let unsupp = Answer {
        status: wire::S_UNSUPP,
        ..err
    };
    assert_eq!(completion(unsupp, true), (Outcome::Unsupported, false));
    let never = Answer {
        status: wire::S_UNWRITTEN,
        ..ok
    };
    assert_eq!(completion(never, true), (Outcome::IoError, true));
}

proptest! {
    /// Every status byte but OK, IOERR and UNSUPP is an I/O error and a
    /// violation; success needs the full length only when it is trusted.
    #[test]
    fn completion_any_answer(status: u8, used_len: u32, in_len: u32, check_len: bool) {
        let a = Answer { status, used_len, in_len };
        let (o, violation) = completion(a, check_len);
        prop_assert_eq!(violation, status > 2 || (status == 0 && check_len && used_len != in_len));
        if violation {
            prop_assert_eq!(o, Outcome::IoError);
        } else {
            prop_assert_eq!(o, Outcome::from_status(status));
        }
    }
}

// ---- Discard and write-zeroes ranges ----

#[test]
fn ranges_encoding() {
    let mut out = [Range::default(); 4];
    let r = [(0x0102_0304_0506_0708u64, 4096u32), (9, 512)];
    assert_eq!(
        encode_ranges(&mut out, r.iter().copied(), FLAG_UNMAP, 16),
        Ok(2)
    );
    // SAFETY: `[Range; 4]` is 64 bytes of plain integers.
    let bytes: [u8; 64] = unsafe { core::mem::transmute(out) };
    assert_eq!(&bytes[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(&bytes[8..12], &[8, 0, 0, 0]);
    assert_eq!(&bytes[12..16], &[1, 0, 0, 0]);
    assert_eq!(&bytes[16..24], &[9, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&bytes[24..28], &[1, 0, 0, 0]);
    assert_eq!(&bytes[32..], &[0; 32]);
    // More ranges than allowed, or than fit.
    assert_eq!(
        encode_ranges(&mut out, r.iter().copied(), 0, 1),
        Err(RangeError::TooMany)
    );
    assert_eq!(
        encode_ranges(&mut out[..1], r.iter().copied(), 0, 16),
        Err(RangeError::TooMany)
    );
    // Partial sectors, empty ranges, no ranges.
    let one = |b| core::iter::once((0u64, b));
    assert_eq!(
        encode_ranges(&mut out, one(100), 0, 16),
        Err(RangeError::BadSize)
    );
    assert_eq!(
        encode_ranges(&mut out, one(0), 0, 16),
        Err(RangeError::BadSize)
    );
    assert_eq!(
        encode_ranges(&mut out, core::iter::empty(), 0, 16),
        Err(RangeError::Empty)
    );
}

proptest! {
    /// Encoded ranges decode to the input; what cannot be encoded is
    /// refused, never truncated.
    #[test]
    fn ranges_roundtrip(
        ranges in prop::collection::vec((any::<u64>(), any::<u32>()), 0..24),
        flags: u32,
        max in 0usize..20,
        room in 0usize..=MAX_RANGES,
    ) {
        let mut out = [Range::default(); MAX_RANGES];
        let r = encode_ranges(&mut out[..room], ranges.iter().copied(), flags, max);
        let bad_size = |&(_, b): &(u64, u32)| b == 0 || b % 512 != 0;
        let limit = max.min(room);
        match r {
            Ok(n) => {
                prop_assert_eq!(n, ranges.len());
                prop_assert!(n >= 1 && n <= limit);
                for (got, &(s, b)) in out.iter().zip(ranges.iter()) {
                    prop_assert_eq!(got.sector.get(), s);
                    prop_assert_eq!(u64::from(got.num_sectors.get()) * 512, u64::from(b));
                    prop_assert_eq!(got.flags.get(), flags);
                }
                prop_assert!(ranges_bytes(n) <= RequestWire::LAYOUT.payload_max);
            }
            Err(RangeError::Empty) => prop_assert!(ranges.is_empty()),
            Err(RangeError::TooMany) => {
                prop_assert!(ranges.len() > limit);
                // The first ranges that fit were good.
                prop_assert!(!ranges.iter().take(limit).any(bad_size));
            }
            Err(RangeError::BadSize) => {
                let first_bad = ranges.iter().position(bad_size);
                prop_assert!(first_bad.is_some_and(|i| i < limit));
            }
        }
    }
}

// ---- GET_ID ----

#[test]
fn serial_answers() {
    let mut id = [0u8; 20];
    id[..5].copy_from_slice(b"disk1");
    assert_eq!(serial_from_id(&id), Ok(&b"disk1"[..]));
    let full = *b"ABCDEFGHIJKLMNOPQRST";
    assert_eq!(serial_from_id(&full), Ok(&full[..]));
    assert_eq!(serial_from_id(&[0u8; 20]), Ok(&b""[..]));
    let mut bad = [0u8; 20];
    bad[..3].copy_from_slice(b"a\nb");
    assert_eq!(serial_from_id(&bad), Err(BadId));
    bad[..3].copy_from_slice(b"a\xffb");
    assert_eq!(serial_from_id(&bad), Err(BadId));
    // Bytes past the 20 of an ID are not looked at.
    let mut long = [b'x'; 30];
    long[25] = b'\n';
    assert_eq!(serial_from_id(&long), Ok(&long[..20]));
}

proptest! {
    /// A serial is the ID up to its first NUL (at most 20 bytes), and only
    /// ever printable ASCII; a refused ID has a byte that is not.
    #[test]
    fn serial_any_id(id in prop::collection::vec(any::<u8>(), 0..40)) {
        let head = &id[..id.len().min(20)];
        let end = head.iter().position(|&b| b == 0).unwrap_or(head.len());
        match serial_from_id(&id) {
            Ok(s) => {
                prop_assert_eq!(s, &head[..end]);
                prop_assert!(s.iter().all(|b| (0x20..0x7f).contains(b)));
            }
            Err(BadId) => prop_assert!(head[..end].iter().any(|b| !(0x20..0x7f).contains(b))),
        }
    }
}

// ---- Limits ----

fn base() -> Config {
    Config {
        capacity: 1 << 20,
        num_queues: 1,
        ..Config::default()
    }
}

const DZ: Caps = Caps {
    flush: false,
    discard: true,
    write_zeroes: true,
};

#[test]
fn limits_defaults_and_topology() {
    let none = Caps::default();
    let l = limits(&base(), none).unwrap();
    assert_eq!(l.logical_block_size, 512);
    assert_eq!(l.physical_block_size, 512);
    assert_eq!(l.max_segments, MAX_SEGMENTS);
    assert_eq!(l.max_segment_size, u32::MAX);
    assert_eq!(
        (
            l.max_discard_sectors,
            l.max_discard_segments,
            l.max_write_zeroes_sectors
        ),
        (0, 0, 0)
    );
    let t = Config {
        blk_size: 4096,
        physical_block_exp: 1,
        min_io_size: 2,
        opt_io_size: 8,
        seg_max: 1000,
        ..base()
    };
    let l = limits(&t, none).unwrap();
    assert_eq!(
        (l.physical_block_size, l.io_min, l.io_opt, l.max_segments),
        (8192, 8192, 32768, MAX_SEGMENTS)
    );
    let l = limits(&base(), DZ).unwrap();
    assert_eq!(l.max_discard_sectors, u32::MAX);
    assert_eq!(l.max_discard_segments, MAX_RANGES as u32);
    assert_eq!(l.discard_granularity, 512);
    assert_eq!(l.max_write_zeroes_sectors, u32::MAX);
    let d = Config {
        max_discard_sectors: 2048,
        max_discard_seg: 1,
        discard_sector_alignment: 8,
        max_write_zeroes_sectors: 4096,
        ..base()
    };
    let l = limits(&d, DZ).unwrap();
    assert_eq!(
        (
            l.max_discard_sectors,
            l.max_discard_segments,
            l.discard_granularity,
            l.max_write_zeroes_sectors
        ),
        (2048, 1, 4096, 4096)
    );
}

#[test]
fn limits_refusals() {
    let none = Caps::default();
    let with = |f: &dyn Fn(&mut Config)| {
        let mut c = base();
        f(&mut c);
        c
    };
    assert_eq!(
        limits(&with(&|c| c.blk_size = 100), none),
        Err(LimitsError::BlockSize(100))
    );
    assert_eq!(
        limits(&with(&|c| c.blk_size = 1 << 20), none),
        Err(LimitsError::BlockSize(1 << 20))
    );
    assert_eq!(
        limits(&with(&|c| c.physical_block_exp = 40), none),
        Err(LimitsError::PhysicalBlockExp(40))
    );
    assert_eq!(
        limits(&with(&|c| c.discard_sector_alignment = u32::MAX), DZ),
        Err(LimitsError::DiscardAlignment(u32::MAX))
    );
}

/// `size_max` is honoured exactly: before, a value below 4096 was raised to
/// 4096, so segments exceeded what the device allows. Below the block
/// layer's smallest segment the device is refused.
#[test]
fn limits_size_max_exact_or_refused() {
    let cfg = |size_max| Config { size_max, ..base() };
    for n in [1, 512, 4095] {
        assert_eq!(
            limits(&cfg(n), Caps::default()),
            Err(LimitsError::SizeMax(n))
        );
    }
    for n in [4096, 4097, 65536, u32::MAX] {
        assert_eq!(
            limits(&cfg(n), Caps::default()).map(|l| l.max_segment_size),
            Ok(n)
        );
    }
    assert_eq!(
        limits(&cfg(0), Caps::default()).map(|l| l.max_segment_size),
        Ok(u32::MAX)
    );
}

/// Segments are bounded by the DMA layer's largest mapping with the DMA API
/// (256 KiB under swiotlb) and by `size_max`, whichever is smaller; physical
/// addressing adds no bound. Before, a segment larger than swiotlb's
/// largest mapping was built, failed to map and was retried for ever.
#[test]
fn limits_segments_bounded_by_dma_mapping() {
    use rvirtio_core::dma::Addressing;
    let swiotlb = 256 * 1024;
    let mut l = limits(&base(), Caps::default()).unwrap();
    assert_eq!(l.max_segment_size, u32::MAX);
    l.bound_segments(Addressing::Platform.max_segment(swiotlb))
        .unwrap();
    assert_eq!(l.max_segment_size, 256 * 1024);
    let mut l = limits(
        &Config {
            size_max: 65536,
            ..base()
        },
        Caps::default(),
    )
    .unwrap();
    l.bound_segments(Addressing::Platform.max_segment(swiotlb))
        .unwrap();
    assert_eq!(
        l.max_segment_size, 65536,
        "size_max stays the bound below the DMA one"
    );
    let mut l = limits(&base(), Caps::default()).unwrap();
    l.bound_segments(Addressing::Physical.max_segment(swiotlb))
        .unwrap();
    assert_eq!(
        l.max_segment_size,
        u32::MAX,
        "physical addressing maps nothing"
    );
    l.bound_segments(Addressing::Platform.max_segment(u64::MAX))
        .unwrap();
    assert_eq!(l.max_segment_size, u32::MAX);
    for small in [0, 1, 4095] {
        assert_eq!(l.bound_segments(small), Err(LimitsError::DmaSegment(small)));
    }
    assert_eq!(
        l.max_segment_size,
        u32::MAX,
        "a refused bound changes nothing"
    );
}

/// Values in range whose physical block size overflows 32 bits: before the
/// check, 64 KiB blocks with exponent 16 gave a physical block size of 0.
#[test]
fn limits_physical_block_size_overflow() {
    let cfg = |blk_size, physical_block_exp| Config {
        blk_size,
        physical_block_exp,
        ..base()
    };
    assert_eq!(
        limits(&cfg(65536, 16), Caps::default()),
        Err(LimitsError::PhysicalBlockSize {
            lbs: 65536,
            exp: 16
        })
    );
    // The largest that fit.
    for (bs, exp) in [(65536, 15), (32768, 16)] {
        let l = limits(&cfg(bs, exp), Caps::default()).unwrap();
        assert_eq!(l.physical_block_size, 1 << 31);
    }
}

fn any_config() -> impl Strategy<Value = Config> {
    (
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u8>()),
        (any::<u8>(), any::<u16>(), any::<u32>()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        prop_oneof![Just(0u32), (9u32..=17).prop_map(|s| 1 << s), any::<u32>()],
    )
        .prop_map(
            |((size_max, seg_max, bs, exp), (ao, min, opt), (mds, mdseg, dsa, mwz), pow)| Config {
                capacity: 1 << 20,
                size_max,
                seg_max,
                blk_size: if bs % 2 == 0 { pow } else { bs },
                physical_block_exp: exp % 20,
                alignment_offset: ao,
                min_io_size: min,
                opt_io_size: opt,
                num_queues: 1,
                max_discard_sectors: mds,
                max_discard_seg: mdseg,
                discard_sector_alignment: dsa,
                max_write_zeroes_sectors: mwz,
            },
        )
}

proptest! {
    /// Accepted limits are consistent (the block layer would warn or
    /// misbehave otherwise), and refusals are exactly the impossible
    /// values.
    #[test]
    fn limits_any_config(c in any_config(), discard: bool, write_zeroes: bool) {
        let caps = Caps { flush: false, discard, write_zeroes };
        let lbs = if c.blk_size == 0 { 512 } else { c.blk_size };
        let pbs = u64::from(lbs) << c.physical_block_exp.min(40);
        let valid_lbs = (512..=65536).contains(&lbs) && lbs.is_power_of_two();
        let valid = valid_lbs
            && c.physical_block_exp <= 16
            && pbs <= u64::from(u32::MAX)
            && (c.size_max == 0 || c.size_max >= 4096)
            && (!discard || u64::from(c.discard_sector_alignment) * 512 <= u64::from(u32::MAX));
        match limits(&c, caps) {
            Ok(l) => {
                prop_assert!(valid);
                prop_assert_eq!(l.logical_block_size, lbs);
                prop_assert_eq!(u64::from(l.physical_block_size), pbs);
                prop_assert!(l.physical_block_size >= l.logical_block_size);
                prop_assert!(l.physical_block_size.is_power_of_two());
                prop_assert!(l.max_segments >= 1 && l.max_segments <= MAX_SEGMENTS);
                prop_assert!(l.max_segment_size >= 4096);
                // size_max is honoured exactly (0: no limit).
                prop_assert_eq!(
                    l.max_segment_size,
                    if c.size_max == 0 { u32::MAX } else { c.size_max }
                );
                prop_assert!(l.max_discard_segments as usize <= MAX_RANGES);
                prop_assert_eq!(l.max_discard_sectors != 0, discard);
                prop_assert_eq!(l.max_discard_segments != 0, discard);
                prop_assert_eq!(l.discard_granularity != 0, discard);
                prop_assert_eq!(l.max_write_zeroes_sectors != 0, write_zeroes);
            }
            Err(_) => prop_assert!(!valid),
        }
    }
}

// ---- Disk names ----

/// `virtblk_name_format` of drivers/block/virtio_blk.c, transcribed.
fn c_name_format(prefix: &str, mut index: i64) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push(b'a' + (index % 26) as u8);
        index = index / 26 - 1;
        if index < 0 {
            break;
        }
    }
    letters.reverse();
    format!("{prefix}{}", String::from_utf8(letters).unwrap())
}

fn name(prefix: &str, index: u32) -> String {
    let mut buf = [0xffu8; DISK_NAME_LEN];
    let n = disk_name(prefix.as_bytes(), index, &mut buf).unwrap();
    let len = n.len();
    assert_eq!(buf[len], 0, "NUL-terminated");
    String::from_utf8(buf[..len].to_vec()).unwrap()
}

#[test]
fn disk_names_like_the_c_driver() {
    let cases = [
        (0, "vda"),
        (1, "vdb"),
        (25, "vdz"),
        (26, "vdaa"),
        (27, "vdab"),
        (701, "vdzz"),
        (702, "vdaaa"),
        (18277, "vdzzz"),
        (18278, "vdaaaa"),
    ];
    for (i, want) in cases {
        assert_eq!(name("vd", i), want);
    }
    assert_eq!(name("rvd", 0), "rvda");
    assert!(name("vd", MAX_DISK_INDEX).len() <= 6);
    assert_eq!(
        name("vd", u32::MAX),
        c_name_format("vd", i64::from(u32::MAX))
    );
}

#[test]
fn disk_name_prefixes() {
    assert!(check_prefix(b"vd").is_ok());
    assert!(check_prefix(b"rvd").is_ok());
    assert!(check_prefix(b"x_1").is_ok());
    for bad in [&b""[..], b"v/d", b"VD", b"v d", b"vd\n", &[b'a'; 17]] {
        assert!(check_prefix(bad).is_err(), "{bad:?}");
        let mut buf = [0u8; DISK_NAME_LEN];
        assert!(disk_name(bad, 0, &mut buf).is_err());
    }
    // The longest prefix and the longest suffix fit with the NUL.
    let long = "p".repeat(16);
    assert_eq!(name(&long, u32::MAX).len(), 16 + 7);
}

proptest! {
    /// Names are exactly the C driver's, and distinct indices get distinct
    /// names.
    #[test]
    fn disk_names_match_c(index: u32, other: u32, prefix in "[a-z0-9_]{1,16}") {
        let n = name(&prefix, index);
        prop_assert_eq!(&n, &c_name_format(&prefix, i64::from(index)));
        prop_assert!(n.len() < DISK_NAME_LEN);
        if index != other {
            prop_assert_ne!(n, name(&prefix, other));
        }
    }
}

/// The timeout handler's decision: the driver's own failure wins over a
/// device that ignores FAILED and keeps DRIVER_OK, a broken or not-live
/// device fails at once, and a live device that never answers fails after
/// exactly `max_rearms` re-arms.
#[test]
fn timeout_verdicts() {
    let live = TimeoutState {
        driver_failed: false,
        device_broken: false,
        device_live: true,
        timeouts: 1,
    };
    assert_eq!(on_timeout(live, 3), TimeoutVerdict::Wait);
    // The driver failed the device, which still reads DRIVER_OK and not
    // FAILED (it ignored the write): the request must not wait on it.
    let ignored = TimeoutState {
        driver_failed: true,
        ..live
    };
    assert_eq!(on_timeout(ignored, 3), TimeoutVerdict::DriverFailed);
    assert_eq!(on_timeout(ignored, u32::MAX), TimeoutVerdict::DriverFailed);
    let broken = TimeoutState {
        device_broken: true,
        ..live
    };
    assert_eq!(on_timeout(broken, 3), TimeoutVerdict::DeviceBroken);
    let gone = TimeoutState {
        device_live: false,
        ..live
    };
    assert_eq!(on_timeout(gone, 3), TimeoutVerdict::NotLive);
    for max in [0u32, 1, 3, 9] {
        for n in 1..=max {
            let s = TimeoutState {
                timeouts: n,
                ..live
            };
            assert_eq!(on_timeout(s, max), TimeoutVerdict::Wait, "{n} of {max}");
        }
        let s = TimeoutState {
            timeouts: max + 1,
            ..live
        };
        assert_eq!(on_timeout(s, max), TimeoutVerdict::NoAnswer);
        assert!(TimeoutVerdict::NoAnswer.fails_device());
    }
    assert!(!TimeoutVerdict::Wait.fails_device());
    let s = TimeoutState {
        timeouts: u32::MAX,
        ..live
    };
    assert_eq!(on_timeout(s, u32::MAX), TimeoutVerdict::Wait);
}
