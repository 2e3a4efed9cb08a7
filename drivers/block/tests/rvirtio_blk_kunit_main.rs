// SPDX-License-Identifier: GPL-2.0

//! rvirtio_blk_kunit: the KUnit suite `rvirtio_blk`, in a module of its own.
//!
//! The suite tests rvirtio_blk's device-independent logic (status mapping,
//! completion checks, protocol violations, request types, discard ranges,
//! GET_ID serials, the default geometry, limits from the configuration),
//! compiled into this crate from `../rvirtio_blk/` exactly as into the
//! driver. Loading the driver runs no test; loading this module runs the
//! suite and nothing else: it binds no device and registers nothing but the
//! suite. Refusals (for example "invalid block size 100") are logged, as the
//! driver logs them, with this module's name.

use kernel::prelude::*;

#[path = "../../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../../rust/kext/blk.rs"]
pub mod blk;

#[path = "../rvirtio_blk/mod.rs"]
pub mod proto;

module! {
    type: RvirtioBlkKunit,
    name: "rvirtio_blk_kunit",
    authors: ["rvirtio developers"],
    description: "KUnit suite of rvirtio_blk's device-independent logic",
    license: "GPL",
}

struct RvirtioBlkKunit;

impl kernel::Module for RvirtioBlkKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(RvirtioBlkKunit)
    }
}

#[kunit_tests(rvirtio_blk)]
mod tests {
    use crate::blk::{status, Geometry, Op, Unmapped};
    use crate::proto::{
        completion::{
            blk_status, completion_status, Violations, MAX_VIOLATIONS, S_IOERR, S_OK, S_UNSUPP,
        },
        id::serial_from_id,
        limits::{limits, Config, MAX_SEGMENTS},
        ranges::{encode_ranges, FLAG_UNMAP, MAX_RANGES},
        request::{request_type, Caps, T_DISCARD, T_FLUSH, T_GET_ID, T_IN, T_OUT, T_WRITE_ZEROES},
    };

    /// Device status bytes map to block statuses; unknown ones are errors.
    #[test]
    fn status_mapping() {
        assert_eq!(blk_status(S_OK), status::OK);
        assert_eq!(blk_status(S_IOERR), status::IOERR);
        assert_eq!(blk_status(S_UNSUPP), status::NOTSUPP);
        assert_eq!(blk_status(3), status::IOERR);
        assert_eq!(blk_status(0xff), status::IOERR);
    }

    /// Completions: good answers, and the violations that count.
    #[test]
    fn completion_checks() {
        let ok = Unmapped {
            status: S_OK,
            used_len: 4097,
            in_len: 4097,
        };
        assert!(completion_status(ok, true) == (status::OK, false));
        let short = Unmapped { used_len: 1, ..ok };
        assert!(completion_status(short, true) == (status::IOERR, true));
        // Legacy devices misreport the length: ignored.
        assert!(completion_status(short, false) == (status::OK, false));
        let err = Unmapped {
            status: S_IOERR,
            used_len: 0,
            ..ok
        };
        assert!(completion_status(err, true) == (status::IOERR, false));
        let unsupp = Unmapped {
            status: S_UNSUPP,
            ..err
        };
        assert!(completion_status(unsupp, true) == (status::NOTSUPP, false));
        // Never written (0xff) or made up.
        let never = Unmapped { status: 0xff, ..ok };
        assert!(completion_status(never, true) == (status::IOERR, true));
        let bogus = Unmapped { status: 7, ..ok };
        assert!(completion_status(bogus, false) == (status::IOERR, true));
    }

    /// The made-up geometry of a disk without VIRTIO_BLK_F_GEOMETRY.
    #[test]
    fn default_geometry() {
        let g = Geometry::for_capacity(1 << 20);
        assert!(g.heads == 64 && g.sectors == 32 && g.cylinders == 512);
        assert_eq!(Geometry::for_capacity(u64::MAX).cylinders, u16::MAX);
    }

    /// Repeated violations fail the device once, on the eighth.
    #[test]
    fn repeated_violations() {
        let v = Violations::new();
        for i in 1..MAX_VIOLATIONS {
            assert!(v.record() == (i, false));
        }
        assert!(v.record() == (MAX_VIOLATIONS, true));
        assert!(v.record() == (MAX_VIOLATIONS + 1, false));
    }

    /// Operations become the right request types and sectors, as far as
    /// the negotiated features allow.
    #[test]
    fn request_building() {
        let all = Caps {
            flush: true,
            discard: true,
            write_zeroes: true,
        };
        let none = Caps::default();
        assert!(request_type(Op::Read, 8, none) == Some((T_IN, 8)));
        assert!(request_type(Op::Write, 16, none) == Some((T_OUT, 16)));
        assert!(request_type(Op::Flush, 99, all) == Some((T_FLUSH, 0)));
        assert!(request_type(Op::Flush, 99, none).is_none());
        assert!(request_type(Op::Discard, 64, all) == Some((T_DISCARD, 0)));
        assert!(request_type(Op::Discard, 64, none).is_none());
        assert!(request_type(Op::WriteZeroes, 64, all) == Some((T_WRITE_ZEROES, 0)));
        assert!(request_type(Op::WriteZeroes, 64, none).is_none());
        assert!(request_type(Op::DrvIn, 5, none) == Some((T_GET_ID, 0)));
        assert!(request_type(Op::Other(99), 0, all).is_none());
    }

    /// Discard and write-zeroes ranges: little-endian layout, flags, and
    /// refusal of what the device must not get.
    #[test]
    fn discard_ranges() {
        let mut buf = [0xaau8; 64];
        let r = [(0x0102_0304_0506_0708u64, 4096u32), (9, 512)];
        assert!(encode_ranges(&mut buf, r.iter().copied(), FLAG_UNMAP, 16) == Ok(32));
        assert_eq!(&buf[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&buf[8..12], &[8, 0, 0, 0]);
        assert_eq!(&buf[12..16], &[1, 0, 0, 0]);
        assert_eq!(&buf[16..24], &[9, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&buf[24..28], &[1, 0, 0, 0]);
        assert_eq!(buf[32], 0xaa);
        // More ranges than allowed, or than the buffer holds.
        assert!(encode_ranges(&mut buf, r.iter().copied(), 0, 1).is_err());
        assert!(encode_ranges(&mut buf[..20], r.iter().copied(), 0, 16).is_err());
        // Partial sectors, empty ranges, no ranges.
        assert!(encode_ranges(&mut buf, core::iter::once((0, 100)), 0, 16).is_err());
        assert!(encode_ranges(&mut buf, core::iter::once((0, 0)), 0, 16).is_err());
        assert!(encode_ranges(&mut buf, core::iter::empty(), 0, 16).is_err());
    }

    /// GET_ID answers: NUL-padded, exactly 20 bytes, or hostile.
    #[test]
    fn serial_parsing() {
        let mut id = [0u8; 20];
        id[..5].copy_from_slice(b"disk1");
        assert!(serial_from_id(&id) == Ok(&b"disk1"[..]));
        let full = *b"ABCDEFGHIJKLMNOPQRST";
        assert!(serial_from_id(&full) == Ok(&full[..]));
        assert!(serial_from_id(&[0u8; 20]) == Ok(&b""[..]));
        let mut bad = [0u8; 20];
        bad[..3].copy_from_slice(b"a\nb");
        assert!(serial_from_id(&bad).is_err());
        bad[..3].copy_from_slice(b"a\xffb");
        assert!(serial_from_id(&bad).is_err());
    }

    /// Limits: defaults, topology, and refusal of impossible values.
    #[test]
    fn limits_from_config() {
        let base = Config {
            capacity: 1 << 20,
            size_max: 0,
            seg_max: 0,
            blk_size: 0,
            physical_block_exp: 0,
            alignment_offset: 0,
            min_io_size: 0,
            opt_io_size: 0,
            num_queues: 1,
            max_discard_sectors: 0,
            max_discard_seg: 0,
            discard_sector_alignment: 0,
            max_write_zeroes_sectors: 0,
        };
        let none = Caps::default();
        let l = limits(&base, none);
        assert!(l.is_ok_and(|l| l.logical_block_size == 512 && l.max_segments == MAX_SEGMENTS));
        let t = Config {
            blk_size: 4096,
            physical_block_exp: 1,
            min_io_size: 2,
            opt_io_size: 8,
            seg_max: 1000,
            ..base
        };
        assert!(limits(&t, none).is_ok_and(|l| l.physical_block_size == 8192
            && l.io_min == 8192
            && l.io_opt == 32768
            && l.max_segments == MAX_SEGMENTS));
        assert!(limits(
            &Config {
                blk_size: 100,
                ..base
            },
            none
        )
        .is_err());
        assert!(limits(
            &Config {
                blk_size: 1 << 20,
                ..base
            },
            none
        )
        .is_err());
        assert!(limits(
            &Config {
                physical_block_exp: 40,
                ..base
            },
            none
        )
        .is_err());
        // Discard and write zeroes: off without the features, device limits
        // (0 means none), ranges capped by the payload.
        assert!(limits(&base, none).is_ok_and(|l| l.max_discard_sectors == 0
            && l.max_discard_segments == 0
            && l.max_write_zeroes_sectors == 0));
        let dz = Caps {
            flush: false,
            discard: true,
            write_zeroes: true,
        };
        assert!(
            limits(&base, dz).is_ok_and(|l| l.max_discard_sectors == u32::MAX
                && l.max_discard_segments == MAX_RANGES
                && l.discard_granularity == 512
                && l.max_write_zeroes_sectors == u32::MAX)
        );
        let d = Config {
            max_discard_sectors: 2048,
            max_discard_seg: 1,
            discard_sector_alignment: 8,
            max_write_zeroes_sectors: 4096,
            ..base
        };
        assert!(limits(&d, dz).is_ok_and(|l| l.max_discard_sectors == 2048
            && l.max_discard_segments == 1
            && l.discard_granularity == 4096
            && l.max_write_zeroes_sectors == 4096));
        assert!(limits(
            &Config {
                max_discard_seg: 1000,
                ..d
            },
            dz
        )
        .is_ok_and(|l| l.max_discard_segments == MAX_RANGES));
        assert!(limits(
            &Config {
                discard_sector_alignment: u32::MAX,
                ..d
            },
            dz
        )
        .is_err());
    }
}
