// SPDX-License-Identifier: GPL-2.0

//! Kernel glue shared by every rvirtio module.
//!
//! The kernel crate of Linux 7.2 lacks some APIs rvirtio needs (device
//! barriers among them). This module adds them, with all FFI kept here so
//! drivers stay safe code. A module includes it from its crate root with
//!
//! ```ignore
//! #[path = "../../rust/kext/mod.rs"]
//! pub mod kext;
//! ```
//!
//! and links the C half by compiling a `helpers.c` of its own that
//! `#include`s `rust/helpers/helpers.c`.

pub mod barrier;
pub mod c_layout;
pub(crate) mod device;
pub mod dma;
pub(crate) mod ffi;
pub mod ida;
pub mod io;
pub mod irq;
pub mod mmio;
pub mod pci;
pub mod sync;
pub mod workqueue;

/// The version of the C helper ABI these Rust declarations were written for.
///
/// It must equal `RVIRTIO_HELPERS_ABI` in `rust/helpers/helpers.c`;
/// [`helpers_abi_matches`] checks that at run time.
pub const HELPERS_ABI: u32 = 5;

/// Whether the linked C helpers implement the ABI these declarations expect.
pub fn helpers_abi_matches() -> bool {
    // SAFETY: `rvirtio_helpers_abi` takes no arguments, has no side effects
    // and is always linked into the module (see the module documentation).
    unsafe { ffi::rvirtio_helpers_abi() == HELPERS_ABI }
}

/// Number of possible CPU ids (`nr_cpu_ids`), to size per-CPU queues.
pub fn nr_cpu_ids() -> u32 {
    // SAFETY: `nr_cpu_ids` is set during early boot and read-only after.
    unsafe { kernel::bindings::nr_cpu_ids }
}
