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
    pub(crate) fn rvirtio_restricted_mem_access() -> bool;
    pub(crate) fn rvirtio_virt_to_phys(ptr: *mut kernel::ffi::c_void) -> u64;
    pub(crate) fn rvirtio_alloc_pages_exact(size: usize) -> *mut kernel::ffi::c_void;
    pub(crate) fn rvirtio_free_pages_exact(ptr: *mut kernel::ffi::c_void, size: usize);
    pub(crate) fn rvirtio_map_single(
        dev: *mut kernel::bindings::device,
        dma_api: bool,
        ptr: *mut kernel::ffi::c_void,
        size: usize,
        dir: kernel::ffi::c_uint,
        addr: *mut kernel::bindings::dma_addr_t,
    ) -> kernel::ffi::c_int;
    pub(crate) fn rvirtio_unmap_single(
        dev: *mut kernel::bindings::device,
        dma_api: bool,
        addr: kernel::bindings::dma_addr_t,
        size: usize,
        dir: kernel::ffi::c_uint,
    );
    pub(crate) fn rvirtio_dma_max_mapping_size(dev: *mut kernel::bindings::device) -> usize;
    pub(crate) fn rvirtio_dma_get_max_seg_size(
        dev: *mut kernel::bindings::device,
    ) -> kernel::ffi::c_uint;
    pub(crate) fn rvirtio_dma_set_max_seg_size(
        dev: *mut kernel::bindings::device,
        size: kernel::ffi::c_uint,
    ) -> kernel::ffi::c_int;
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
