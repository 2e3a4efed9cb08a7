// SPDX-License-Identifier: GPL-2.0

//! Raw access to `struct device`, which the 7.2 kernel crate keeps private.

use kernel::{bindings, device::Device};

/// The `struct device *` behind `dev`.
///
/// `kernel::device::Device::as_raw` is `pub(crate)` in 7.2, so out-of-tree
/// code derives the pointer from the documented layout instead.
pub(crate) fn raw<Ctx: kernel::device::DeviceContext>(dev: &Device<Ctx>) -> *mut bindings::device {
    // CAST: `Device<Ctx>` is `#[repr(transparent)]` over
    // `Opaque<bindings::device>` (plus a zero-sized marker), and `Opaque<T>`
    // is `#[repr(transparent)]` over `T`, so both pointers have the same
    // address and pointee layout.
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}
