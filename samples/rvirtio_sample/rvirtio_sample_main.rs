// SPDX-License-Identifier: GPL-2.0

//! rvirtio sample: the smallest complete rvirtio module.
//!
//! Every rvirtio module is built the way this one is, and this sample exists
//! so the pattern is shown (and tested) in one small place:
//!
//! - **One crate per module.** Out-of-tree modules cannot `use` one another's
//!   Rust, so shared code under `rust/` is compiled into each module with
//!   `#[path]` (here: [`kext`], the project's kernel glue).
//! - **C helpers in a composite module.** Kernel APIs that are C macros or
//!   static inlines (device barriers, `offsetof` on uapi structures) are
//!   wrapped in `rust/helpers/helpers.c`; the module's own `helpers.c`
//!   `#include`s it, and `Kbuild` links both objects into one `.ko`.
//! - **FFI stays in `rust/`.** This crate root is safe code: it calls the
//!   safe wrappers in [`kext`], never `extern "C"` functions.
//! - **KUnit at load.** The `#[kunit_tests]` suite below runs when the module
//!   is loaded; `make check` collects its KTAP output from the console.
//!
//! At load the module checks that the C helpers it linked implement the ABI
//! its Rust declarations expect, and that its Rust mirror of
//! `struct vring_desc` has the C layout; it refuses to load otherwise.

use kernel::prelude::*;

#[path = "../../rust/kext/mod.rs"]
pub mod kext;

use kext::c_layout::{c_layout, CField};

module! {
    type: RvirtioSample,
    name: "rvirtio_sample",
    authors: ["rvirtio developers"],
    description: "rvirtio sample: the build pattern of every rvirtio module, checked by KUnit",
    license: "GPL",
    params: {
        verbose: u32 {
            default: 0,
            description: "Print every layout checked at load (0: summary only)",
        },
    },
}

/// A Rust mirror of the uapi `struct vring_desc`, laid out as C does.
///
/// It shows how rvirtio mirrors a C structure and then checks the mirror
/// against the C compiler's view in [`mirror_mismatches`].
#[repr(C)]
pub struct VringDesc {
    /// Guest-physical address of the buffer (`__virtio64 addr`).
    pub addr: u64,
    /// Length of the buffer (`__virtio32 len`).
    pub len: u32,
    /// `VRING_DESC_F_*` flags (`__virtio16 flags`).
    pub flags: u16,
    /// Index of the next descriptor in the chain (`__virtio16 next`).
    pub next: u16,
}

/// The `(C field, Rust value)` pairs that must agree for [`VringDesc`].
fn desc_layout() -> [(CField, usize); 5] {
    [
        (CField::VringDesc, core::mem::size_of::<VringDesc>()),
        (
            CField::VringDescAddr,
            core::mem::offset_of!(VringDesc, addr),
        ),
        (CField::VringDescLen, core::mem::offset_of!(VringDesc, len)),
        (
            CField::VringDescFlags,
            core::mem::offset_of!(VringDesc, flags),
        ),
        (
            CField::VringDescNext,
            core::mem::offset_of!(VringDesc, next),
        ),
    ]
}

/// What [`mirror_mismatches`] prints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Nothing.
    Quiet,
    /// Each mismatch, as an error.
    Mismatches,
    /// Each mismatch, and each field that matches.
    All,
}

/// Counts the entries of `layout` where C and Rust disagree (or C does not
/// know the field).
pub fn mirror_mismatches(layout: &[(CField, usize)], report: Report) -> usize {
    let mut bad = 0;
    for &(field, rust) in layout {
        let c = c_layout(field);
        if c != Some(rust) {
            if report != Report::Quiet {
                pr_err!("layout mismatch: {:?}: C {:?}, Rust {}\n", field, c, rust);
            }
            bad += 1;
        } else if report == Report::All {
            pr_info!("layout ok: {:?} = {}\n", field, rust);
        }
    }
    bad
}

struct RvirtioSample;

impl kernel::Module for RvirtioSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if !kext::helpers_abi_matches() {
            pr_err!("C helpers do not implement ABI {}\n", kext::HELPERS_ABI);
            return Err(EINVAL);
        }
        let report = if *module_parameters::verbose.value() != 0 {
            Report::All
        } else {
            Report::Mismatches
        };
        let bad = mirror_mismatches(&desc_layout(), report);
        if bad != 0 {
            pr_err!("{} layout mismatches, refusing to load\n", bad);
            return Err(EINVAL);
        }
        pr_info!(
            "loaded: helpers ABI {}, struct vring_desc mirror matches C\n",
            kext::HELPERS_ABI
        );
        Ok(RvirtioSample)
    }
}

impl Drop for RvirtioSample {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}

#[kunit_tests(rvirtio_sample)]
mod tests {
    use super::*;
    use kext::barrier::{virt_mb, virt_rmb, virt_wmb};

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
