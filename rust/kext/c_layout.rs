// SPDX-License-Identifier: GPL-2.0

//! The layout of kernel C structures, as the C compiler sees them.
//!
//! rvirtio mirrors C and uapi structures in Rust by hand (bindgen in 7.2
//! cannot reach the virtio headers). KUnit suites compare each mirror with
//! the real C definition through [`c_layout`], so a mistake in a mirror fails
//! a test instead of corrupting a ring.

use super::ffi;

/// A C structure (its size) or field (its offset) the C helpers can measure.
///
/// The discriminants must match `enum rvirtio_c_field` in
/// `rust/helpers/helpers.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CField {
    /// `sizeof(struct vring_desc)`.
    VringDesc = 0,
    /// `offsetof(struct vring_desc, addr)`.
    VringDescAddr,
    /// `offsetof(struct vring_desc, len)`.
    VringDescLen,
    /// `offsetof(struct vring_desc, flags)`.
    VringDescFlags,
    /// `offsetof(struct vring_desc, next)`.
    VringDescNext,
    /// `sizeof(struct vring_avail)` (the header before the ring).
    VringAvail,
    /// `offsetof(struct vring_avail, idx)`.
    VringAvailIdx,
    /// `sizeof(struct vring_used_elem)`.
    VringUsedElem,
    /// `offsetof(struct vring_used_elem, len)`.
    VringUsedElemLen,
    /// `sizeof(struct vring_used)` (the header before the ring).
    VringUsed,
    /// `offsetof(struct vring_used, idx)`.
    VringUsedIdx,
    /// `sizeof(struct vring_packed_desc)`.
    VringPackedDesc,
    /// `offsetof(struct vring_packed_desc, id)`.
    VringPackedDescId,
    /// `offsetof(struct vring_packed_desc, flags)`.
    VringPackedDescFlags,
    /// `sizeof(struct vring_packed_desc_event)`.
    VringPackedDescEvent,
}

/// The size (for a structure) or offset (for a field) C gives `field`, or
/// `None` when the linked helpers do not know it (an ABI mismatch).
pub fn c_layout(field: CField) -> Option<usize> {
    // SAFETY: `rvirtio_c_layout` is a pure function of its argument and
    // accepts any value (unknown ids return -1).
    let v = unsafe { ffi::rvirtio_c_layout(field as u32) };
    usize::try_from(v).ok()
}

/// Checks a C shim of a module: its ABI version `abi` against the `want`
/// the Rust declarations were written for, and every mirrored value
/// (`rows`: a field id with Rust's size, offset or value) against what
/// the shim measures (`c`). Logs each mismatch; `EINVAL` if any.
pub fn check_shim<F: Copy + core::fmt::Debug>(
    name: &str,
    abi: u32,
    want: u32,
    rows: &[(F, usize)],
    c: impl Fn(F) -> Option<usize>,
) -> kernel::error::Result {
    use kernel::prelude::*;
    if abi != want {
        pr_err!("{} shim ABI {}, expected {}\n", name, abi, want);
        return Err(EINVAL);
    }
    let mut bad = 0u32;
    for &(field, rust) in rows {
        let got = c(field);
        if got != Some(rust) {
            pr_err!(
                "{} shim layout mismatch: {:?}: C {:?}, Rust {}\n",
                name,
                field,
                got,
                rust
            );
            bad = bad.saturating_add(1);
        }
    }
    if bad != 0 {
        return Err(EINVAL);
    }
    Ok(())
}
