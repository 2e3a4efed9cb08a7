// SPDX-License-Identifier: GPL-2.0

//! The sample's logic: a Rust mirror of a C structure, and the check that
//! it has the C layout. It touches no device, so the module and its KUnit
//! test module (`tests/rvirtio_sample_kunit_main.rs`) both compile it in
//! with `#[path]`; it reaches the C helpers through `crate::kext`, which
//! each crate root includes.

use crate::kext::c_layout::{c_layout, CField};
use kernel::prelude::*;

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
pub fn desc_layout() -> [(CField, usize); 5] {
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
    layout
        .iter()
        .filter(|&&(field, rust)| {
            let c = c_layout(field);
            if c != Some(rust) {
                if report != Report::Quiet {
                    pr_err!("layout mismatch: {:?}: C {:?}, Rust {}\n", field, c, rust);
                }
                true
            } else {
                if report == Report::All {
                    pr_info!("layout ok: {:?} = {}\n", field, rust);
                }
                false
            }
        })
        .count()
}
