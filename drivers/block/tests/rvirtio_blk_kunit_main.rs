// SPDX-License-Identifier: GPL-2.0

//! rvirtio_blk_kunit: the KUnit suite `rvirtio_blk`, in a module of its own.
//!
//! The suite tests what of rvirtio_blk needs the kernel: the blk-mq shim's
//! ABI and the layout of every structure and value mirrored between it and
//! `rust/kext/blk/`, block statuses of completions, the protocol
//! violation count, the default geometry, and disk names from the module's
//! IDA (an index freed is given out again). The kernel-independent protocol
//! logic is tested on the host (`rust/virtio/tests/blk.rs`); one case here
//! runs it as the kernel build compiles it. The driver's files are compiled
//! into this crate from `../rvirtio_blk/` exactly as into the driver.
//! Loading the driver runs no test; loading this module runs the suite and
//! nothing else: it binds no device and registers nothing but the suite.

use kernel::prelude::*;

#[path = "../../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../../rust/kext/blk/mod.rs"]
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
        // The suite tests the shim this module linked: refuse a mismatch.
        blk::check_abi()?;
        Ok(RvirtioBlkKunit)
    }
}

#[kunit_tests(rvirtio_blk)]
mod tests {
    use crate::blk::{
        c_layout,
        check_abi,
        layout,
        CField,
        Geometry,
        Status, //
    };
    use crate::kext::ida::Ida;
    use crate::proto::{
        completion::{
            completion_status,
            Violations, //
        },
        names::DiskName,
    };
    use crate::virtio::blk::{
        limits,
        wire::{
            RequestWire,
            S_IOERR,
            S_OK,
            S_UNSUPP,
            S_UNWRITTEN, //
        },
        Answer,
        Caps,
        Config,
        LimitsError,
        MAX_VIOLATIONS, //
    };

    /// The shim implements the ABI the Rust side expects, and every
    /// structure and value mirrored between them has C's layout.
    #[test]
    fn shim_abi_and_layout() {
        assert!(crate::kext::helpers_abi_matches());
        assert!(check_abi().is_ok());
        for (field, rust) in layout() {
            if field != CField::RequestAlign {
                assert_eq!(c_layout(field), Some(rust));
            }
        }
        assert_eq!(c_layout(CField::Limits), Some(56));
        assert_eq!(c_layout(CField::Geo), Some(4));
        assert_eq!(c_layout(CField::StsIoErr), Some(10));
        assert!(c_layout(CField::RequestAlign).is_some_and(|a| a >= RequestWire::LAYOUT.align));
    }

    /// Device answers map to block statuses; unknown ones are errors and
    /// violations.
    #[test]
    fn completion_statuses() {
        let ok = Answer {
            status: S_OK,
            used_len: 4097,
            in_len: 4097,
        };
        assert!(completion_status(ok, true) == (Status::Ok, false));
        let short = Answer { used_len: 1, ..ok };
        assert!(completion_status(short, true) == (Status::IoError, true));
        assert!(completion_status(short, false) == (Status::Ok, false));
        let err = Answer {
            status: S_IOERR,
            ..ok
        };
        assert!(completion_status(err, true) == (Status::IoError, false));
        let unsupp = Answer {
            status: S_UNSUPP,
            ..ok
        };
        assert!(completion_status(unsupp, true) == (Status::NotSupported, false));
        let never = Answer {
            status: S_UNWRITTEN,
            ..ok
        };
        assert!(completion_status(never, false) == (Status::IoError, true));
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

    /// Disk names come from the lowest free index, and one freed is given
    /// out again (this module's IDA, empty at load).
    #[test]
    fn disk_names_reused() {
        let ida = Ida::module();
        let a = DiskName::alloc(ida, c"vd");
        let b = DiskName::alloc(ida, c"vd");
        let c = DiskName::alloc(ida, c"rvd");
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        let (Ok(a), Ok(b), Ok(c)) = (a, b, c) else {
            return;
        };
        assert_eq!(a.as_cstr(), c"vda");
        assert_eq!(b.as_cstr(), c"vdb");
        assert_eq!(c.as_cstr(), c"rvdc");
        let b_index = b.index();
        drop(b);
        let again = DiskName::alloc(ida, c"vd");
        assert!(again.is_ok_and(|n| n.index() == b_index && n.as_cstr() == c"vdb"));
        assert!(DiskName::alloc(ida, c"v/d").is_err());
        assert!(DiskName::alloc(ida, c"").is_err());
        drop((a, c));
    }

    /// The core's limits as the kernel build compiles them (overflow
    /// checks on): the physical block size that would wrap is refused.
    #[test]
    fn limits_in_the_kernel() {
        let c = Config {
            capacity: 1 << 20,
            blk_size: 65536,
            physical_block_exp: 16,
            num_queues: 1,
            ..Config::default()
        };
        assert!(
            limits(&c, Caps::default())
                == Err(LimitsError::PhysicalBlockSize {
                    lbs: 65536,
                    exp: 16
                })
        );
        let ok = Config {
            physical_block_exp: 15,
            ..c
        };
        assert!(limits(&ok, Caps::default()).is_ok_and(|l| l.physical_block_size == 1 << 31));
    }
}
