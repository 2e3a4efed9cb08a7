// SPDX-License-Identifier: GPL-2.0

//! The one bounds check of an access into a mapped window (a BAR, an MMIO
//! region, ring memory): every register or shared-memory accessor in
//! `kext` and `kvirtio` goes through [`access_ok`] before it forms a
//! pointer.

/// Whether an access of `width` bytes at `off` lies inside a window of
/// `len` bytes and is naturally aligned. A zero `width` is never valid.
#[inline(always)]
pub fn access_ok(off: usize, width: usize, len: usize) -> bool {
    width != 0 && off.is_multiple_of(width) && off.checked_add(width).is_some_and(|end| end <= len)
}
