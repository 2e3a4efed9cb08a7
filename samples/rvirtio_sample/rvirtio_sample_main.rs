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
//! - **Logic in its own files.** What can be checked without a device (here
//!   [`layout`]: the mirror of `struct vring_desc` and the layout check)
//!   lives in files next to the crate root, compiled in with `#[path]`, so
//!   that the test module can compile in the same files.
//! - **KUnit in a test module.** Loading this module runs no test. Its
//!   `#[kunit_tests]` suite is in `tests/rvirtio_sample_kunit_main.rs`, the
//!   crate root of `rvirtio_sample_kunit.ko` (with its own `helpers.c` and
//!   `Kbuild`), which registers nothing but the suite; `make check` loads it
//!   (`tools/testing/vm/kunit.sh`) and collects its KTAP from the console.
//!
//! At load the module checks that the C helpers it linked implement the ABI
//! its Rust declarations expect, and that its Rust mirror of
//! `struct vring_desc` has the C layout; it refuses to load otherwise.

use kernel::prelude::*;

#[path = "../../rust/kext/mod.rs"]
pub mod kext;

#[path = "layout.rs"]
pub mod layout;

use layout::{desc_layout, mirror_mismatches, Report};

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
