// SPDX-License-Identifier: GPL-2.0

//! rvirtio_sample_kunit: the KUnit suite `rvirtio_sample`, in a test module.
//!
//! This is the pattern of every rvirtio test module: its own crate root
//! (this file) and `helpers.c`, in a `tests/` directory next to the module
//! it tests, compiling in the same logic files with `#[path]` (here
//! `../layout.rs`, and `rust/kext` as `kext`, as the sample does). Loading
//! the sample runs no test; loading this module runs the suite, registers
//! nothing else and binds no device.

use kernel::prelude::*;

#[path = "../../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../layout.rs"]
pub mod layout;

module! {
    type: RvirtioSampleKunit,
    name: "rvirtio_sample_kunit",
    authors: ["rvirtio developers"],
    description: "KUnit suite of the rvirtio sample",
    license: "GPL",
}

struct RvirtioSampleKunit;

impl kernel::Module for RvirtioSampleKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(RvirtioSampleKunit)
    }
}

#[kunit_tests(rvirtio_sample)]
mod tests {
    use crate::kext::{
        self,
        barrier::{virt_mb, virt_rmb, virt_wmb},
        c_layout::{c_layout, CField},
    };
    use crate::layout::{desc_layout, mirror_mismatches, Report};

    /// The C helpers linked into the module speak the ABI Rust declares.
    #[test]
    fn helpers_abi() {
        assert!(kext::helpers_abi_matches());
    }

    /// The mirror of `struct vring_desc` has the C size and offsets.
    #[test]
    fn vring_desc_mirror_matches_c() {
        assert_eq!(mirror_mismatches(&desc_layout(), Report::Quiet), 0);
        assert_eq!(c_layout(CField::VringDesc), Some(16));
    }

    /// A wrong mirror is caught: the check is not vacuous.
    #[test]
    fn wrong_mirror_is_caught() {
        let wrong = [(CField::VringDescNext, 12), (CField::VringUsedElem, 4)];
        assert_eq!(mirror_mismatches(&wrong, Report::Quiet), 2);
    }

    /// The split ring headers and used element have their spec sizes in C.
    #[test]
    fn split_ring_c_sizes() {
        assert_eq!(c_layout(CField::VringAvail), Some(4));
        assert_eq!(c_layout(CField::VringAvailIdx), Some(2));
        assert_eq!(c_layout(CField::VringUsedElem), Some(8));
        assert_eq!(c_layout(CField::VringUsedElemLen), Some(4));
        assert_eq!(c_layout(CField::VringUsedIdx), Some(2));
        assert_eq!(c_layout(CField::VringPackedDesc), Some(16));
        assert_eq!(c_layout(CField::VringPackedDescEvent), Some(4));
    }

    /// The barrier helpers link and run, and ordinary memory is unaffected.
    #[test]
    fn barriers_run() {
        let mut v = [0u32; 2];
        v[0] = 1;
        virt_wmb();
        v[1] = 2;
        virt_mb();
        let a = v[0];
        virt_rmb();
        assert_eq!(a + v[1], 3);
    }
}
