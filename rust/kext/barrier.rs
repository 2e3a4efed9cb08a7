// SPDX-License-Identifier: GPL-2.0

//! Memory barriers between the driver and a virtio device.
//!
//! A virtio device runs concurrently with the driver, on another CPU, even
//! when the guest kernel is uniprocessor. The kernel's `smp_*()` barriers
//! become compiler barriers on `!CONFIG_SMP`, and Rust's own fences follow
//! the Rust memory model rather than the kernel's, so rvirtio orders ring
//! accesses with the kernel's `virt_*()` barriers only, through these three
//! functions (one per kind).

use super::ffi;

/// Full barrier (`virt_mb()`): orders earlier loads and stores against later
/// loads and stores.
#[inline]
pub fn virt_mb() {
    // SAFETY: the helper only executes the architecture's barrier.
    unsafe { ffi::rvirtio_virt_mb() }
}

/// Read barrier (`virt_rmb()`): orders earlier loads against later loads.
#[inline]
pub fn virt_rmb() {
    // SAFETY: the helper only executes the architecture's barrier.
    unsafe { ffi::rvirtio_virt_rmb() }
}

/// Write barrier (`virt_wmb()`): orders earlier stores against later stores.
#[inline]
pub fn virt_wmb() {
    // SAFETY: the helper only executes the architecture's barrier.
    unsafe { ffi::rvirtio_virt_wmb() }
}
