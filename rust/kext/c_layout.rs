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

/// How a C shim's value must compare with the Rust one
/// ([`shim_mismatches`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The same (sizes, offsets, constants).
    Equal,
    /// At least the Rust value (a size or alignment Rust relies on).
    AtLeast,
}

/// The entries of `layout` (a shim's mirrored structures and values, with
/// the Rust value of each) where `c` (the shim's own measure) disagrees as
/// `expect` says, or does not know the entry; each is logged with the
/// shim's name, and counted.
pub fn shim_mismatches<F: Copy + core::fmt::Debug>(
    shim: &str,
    layout: impl IntoIterator<Item = (F, usize)>,
    c: impl Fn(F) -> Option<usize>,
    expect: impl Fn(F) -> Expect,
) -> usize {
    layout
        .into_iter()
        .filter(|&(field, rust)| {
            let cv = c(field);
            let ok = match expect(field) {
                Expect::AtLeast => cv.is_some_and(|v| v >= rust),
                Expect::Equal => cv == Some(rust),
            };
            if !ok {
                kernel::pr_err!(
                    "{} shim layout mismatch: {:?}: C {:?}, Rust {}\n",
                    shim,
                    field,
                    cv,
                    rust
                );
            }
            !ok
        })
        .count()
}

/// Checks a C shim before it is used: the linked C helpers implement
/// [`HELPERS_ABI`](super::HELPERS_ABI), the shim reports ABI `abi` equal
/// to `expected`, and `mismatches` (its [`shim_mismatches`]) finds none.
/// Logs what fails.
///
/// # Errors
///
/// `EINVAL` on any mismatch.
pub fn check_shim(
    shim: &str,
    abi: u32,
    expected: u32,
    mismatches: impl FnOnce() -> usize,
) -> kernel::error::Result {
    if !super::helpers_abi_matches() {
        kernel::pr_err!("C helpers do not implement ABI {}\n", super::HELPERS_ABI);
        return Err(kernel::error::code::EINVAL);
    }
    if abi != expected {
        kernel::pr_err!("{} shim ABI {}, expected {}\n", shim, abi, expected);
        return Err(kernel::error::code::EINVAL);
    }
    if mismatches() != 0 {
        return Err(kernel::error::code::EINVAL);
    }
    Ok(())
}
