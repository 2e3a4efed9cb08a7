// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C helpers in `rust/helpers/helpers.c`.

unsafe extern "C" {
    pub(crate) fn rvirtio_helpers_abi() -> u32;
    pub(crate) fn rvirtio_virt_mb();
    pub(crate) fn rvirtio_virt_rmb();
    pub(crate) fn rvirtio_virt_wmb();
}

unsafe extern "C" {
    pub(crate) fn rvirtio_c_layout(id: u32) -> kernel::ffi::c_long;
}

#[expect(
    improper_ctypes,
    reason = "bindgen's struct device has zero-sized padding members; only pointers cross"
)]
unsafe extern "C" {
    pub(crate) fn rvirtio_dma_mapping_error(
        dev: *mut kernel::bindings::device,
        addr: kernel::bindings::dma_addr_t,
    ) -> kernel::ffi::c_int;
    pub(crate) fn rvirtio_dma_map_single(
        dev: *mut kernel::bindings::device,
        ptr: *mut kernel::ffi::c_void,
        size: usize,
        dir: kernel::ffi::c_uint,
    ) -> kernel::bindings::dma_addr_t;
    pub(crate) fn rvirtio_dma_unmap_single(
        dev: *mut kernel::bindings::device,
        addr: kernel::bindings::dma_addr_t,
        size: usize,
        dir: kernel::ffi::c_uint,
    );
    pub(crate) fn rvirtio_dma_coerce_mask(
        dev: *mut kernel::bindings::device,
        bits: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int;
    pub(crate) fn rvirtio_spin_lock_irqsave(
        lock: *mut kernel::bindings::spinlock_t,
    ) -> kernel::ffi::c_ulong;
    pub(crate) fn rvirtio_spin_unlock_irqrestore(
        lock: *mut kernel::bindings::spinlock_t,
        flags: kernel::ffi::c_ulong,
    );
    pub(crate) fn rvirtio_spin_trylock_irqsave(
        lock: *mut kernel::bindings::spinlock_t,
        flags: *mut kernel::ffi::c_ulong,
    ) -> kernel::ffi::c_int;
}

unsafe extern "C" {
    pub(crate) fn rvirtio_mmio_device_param() -> *const kernel::ffi::c_char;
}
