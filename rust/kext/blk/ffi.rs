// SPDX-License-Identifier: GPL-2.0

//! The blk-mq shim's C declarations (`rust/helpers/blk.c`): its opaque
//! types, the structures it shares with Rust, and its functions.

use super::*;

#[repr(C)]
pub(super) struct RawDisk {
    _opaque: [u8; 0],
}

/// blk-mq's `struct rq_list` (a list of requests linked through
/// `rq_next`), handled only by the shim.
#[repr(C)]
pub(super) struct RawRqList {
    _opaque: [u8; 0],
}

/// The shim's `struct rvirtio_blk_wire`: where the parts of a request's
/// [`RequestWire`] are.
#[repr(C)]
pub(super) struct RawWire {
    pub(super) size: u32,
    pub(super) align: u32,
    pub(super) header_len: u32,
    pub(super) status_offset: u32,
    pub(super) payload_offset: u32,
    pub(super) payload_max: u32,
}

impl RawWire {
    pub(super) fn new() -> Result<Self> {
        let l = RequestWire::LAYOUT;
        let u = |v: usize| u32::try_from(v).map_err(|_| EINVAL);
        Ok(Self {
            size: u(l.size)?,
            align: u(l.align)?,
            header_len: u(l.header_len)?,
            status_offset: u(l.status_offset)?,
            payload_offset: u(l.payload_offset)?,
            payload_max: u(l.payload_max)?,
        })
    }
}

/// The shim's `struct rvirtio_blk_cb`.
#[repr(C)]
pub(super) struct Callbacks {
    pub(super) queue_rq: unsafe extern "C" fn(
        *mut kernel::ffi::c_void,
        *mut RawDisk,
        u32,
        *mut bindings::request,
        bool,
    ) -> u8,
    pub(super) commit_rqs: unsafe extern "C" fn(*mut kernel::ffi::c_void, u32),
    pub(super) complete: unsafe extern "C" fn(
        *mut kernel::ffi::c_void,
        *mut RawDisk,
        *mut bindings::request,
        u32,
        u32,
    ),
    pub(super) timeout:
        unsafe extern "C" fn(*mut kernel::ffi::c_void, *mut RawDisk, *mut bindings::request) -> u32,
    pub(super) serial: unsafe extern "C" fn(
        *mut kernel::ffi::c_void,
        *mut RawDisk,
        *mut u8,
        u32,
    ) -> kernel::ffi::c_int,
    pub(super) write_cache: unsafe extern "C" fn(*mut kernel::ffi::c_void) -> kernel::ffi::c_int,
    pub(super) set_write_cache:
        unsafe extern "C" fn(*mut kernel::ffi::c_void, bool) -> kernel::ffi::c_int,
    pub(super) write_cache_switchable: unsafe extern "C" fn(*mut kernel::ffi::c_void) -> bool,
    pub(super) geometry:
        unsafe extern "C" fn(*mut kernel::ffi::c_void, u64, *mut Geometry) -> kernel::ffi::c_int,
    pub(super) queue_rqs: unsafe extern "C" fn(
        *mut kernel::ffi::c_void,
        *mut RawDisk,
        u32,
        *mut RawRqList,
        *mut RawRqList,
    ),
}

#[expect(
    improper_ctypes,
    reason = "bindgen's struct request and struct device have zero-sized padding members; only pointers cross"
)]
unsafe extern "C" {
    pub(super) fn rvirtio_blk_create(
        dma_dev: *mut bindings::device,
        nr_queues: u32,
        depth: u32,
        timeout_ms: u32,
        limits: *const Limits,
        wire: *const RawWire,
        cb: *const Callbacks,
        drv: *mut kernel::ffi::c_void,
        irq_offset: kernel::ffi::c_int,
    ) -> *mut RawDisk;
    pub(super) fn rvirtio_blk_set_dma_api(b: *mut RawDisk, dma_api: bool);
    pub(super) fn rvirtio_blk_add(
        b: *mut RawDisk,
        parent: *mut bindings::device,
        name: *const kernel::ffi::c_char,
        sectors: u64,
        read_only: bool,
    ) -> kernel::ffi::c_int;
    pub(super) fn rvirtio_blk_set_capacity(b: *mut RawDisk, sectors: u64);
    pub(super) fn rvirtio_blk_mark_dead(b: *mut RawDisk);
    pub(super) fn rvirtio_blk_destroy(b: *mut RawDisk, added: bool);
    pub(super) fn rvirtio_blk_leak(b: *mut RawDisk);
    pub(super) fn rvirtio_rq_fua(rq: *mut bindings::request) -> bool;
    pub(super) fn rvirtio_rq_nounmap(rq: *mut bindings::request) -> bool;
    pub(super) fn rvirtio_rq_bio(rq: *mut bindings::request) -> *mut bindings::bio;
    pub(super) fn rvirtio_bio_next(
        bio: *mut bindings::bio,
        sector: *mut u64,
        bytes: *mut u32,
    ) -> *mut bindings::bio;
    pub(super) fn rvirtio_blk_drv_in(b: *mut RawDisk, out: *mut u8, len: u32)
        -> kernel::ffi::c_int;
    pub(super) fn rvirtio_rq_list_pop(rqs: *mut RawRqList) -> *mut bindings::request;
    pub(super) fn rvirtio_rq_give_back(back: *mut RawRqList, rq: *mut bindings::request);
    pub(super) fn rvirtio_rq_timeouts(rq: *mut bindings::request) -> u32;
    pub(super) fn rvirtio_rq_complete(rq: *mut bindings::request, used_len: u32);
    pub(super) fn rvirtio_rq_map(
        b: *mut RawDisk,
        rq: *mut bindings::request,
        payload_len: u32,
        addrs: *mut u64,
        lens: *mut u32,
        max: u32,
        n_out: *mut u32,
    ) -> kernel::ffi::c_int;
    pub(super) fn rvirtio_rq_unmap(
        b: *mut RawDisk,
        rq: *mut bindings::request,
        used_len: *mut u32,
        in_len: *mut u32,
    );
}

unsafe extern "C" {
    pub(super) fn rvirtio_blk_abi() -> u32;
    pub(super) fn rvirtio_blk_c_layout(id: u32) -> kernel::ffi::c_long;
    pub(super) fn rvirtio_blk_name_prefix() -> *const kernel::ffi::c_char;
}
