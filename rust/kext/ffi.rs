// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C helpers in `rust/helpers/helpers.c`.

unsafe extern "C" {
    pub(crate) fn rvirtio_helpers_abi() -> u32;
    pub(crate) fn rvirtio_virt_mb();
    pub(crate) fn rvirtio_virt_rmb();
    pub(crate) fn rvirtio_virt_wmb();
}

unsafe extern "C" {
    pub(crate) fn rvirtio_c_layout(id: u32) -> core::ffi::c_long;
}
