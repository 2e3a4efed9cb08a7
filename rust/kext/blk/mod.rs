// SPDX-License-Identifier: GPL-2.0

//! blk-mq disks with a per-request PDU, full queue limits, a parent device,
//! a module owner and a timeout handler: what the 7.2 kernel crate's
//! `block::mq` cannot express. A C shim (`rust/helpers/blk.c`) owns the tag
//! set and the gendisk and calls [`Operations`]; a module that uses this
//! includes both (`#[path] mod blk;` and `#include "rust/helpers/blk.c"` in
//! its `helpers.c`).
//!
//! The virtio-blk wire format is the core's ([`crate::virtio::blk::wire`]):
//! each request's [`RequestWire`] is the start of its per-request data, and
//! the shim maps it where [`RequestWire::LAYOUT`] says. Every structure
//! mirrored between the shim and this module, and the block status values,
//! are checked against the C compiler's view ([`check_abi`], run before a
//! disk is created).
//!
//! C headers: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h),
//! [`include/linux/blkdev.h`](srctree/include/linux/blkdev.h)
//!
//! Layout, one facet per file: this file has the driver's interface
//! ([`Operations`], [`Status`], [`Timeout`], [`Geometry`]); `request` the
//! requests blk-mq hands the driver; `disk` the disk and its callbacks;
//! `abi` the shim's ABI version and the layout checks; `ffi` the C
//! declarations.

mod abi;
mod disk;
mod ffi;
mod request;

pub use abi::*;
pub use disk::*;
use ffi::*;
pub use request::*;

use crate::kext::dma::DmaDevice;
use crate::virtio::{
    blk::{
        wire::RequestWire,
        Answer,
        Outcome, //
    },
    queue::Buf,
};
use core::{
    marker::PhantomData,
    mem::{
        offset_of,
        size_of,
        MaybeUninit, //
    },
    ptr::NonNull,
};
use kernel::{
    bindings,
    device::Device,
    prelude::*,
    sync::Arc, //
};

pub use crate::virtio::blk::{
    Limits,
    Op, //
};

/// A disk's legacy geometry (`HDIO_GETGEO`), for old partitioning tools;
/// the shim's `struct rvirtio_blk_geo`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Geometry {
    /// Cylinders.
    pub cylinders: u16,
    /// Heads.
    pub heads: u8,
    /// Sectors per track.
    pub sectors: u8,
}

impl Geometry {
    /// A made-up geometry for a disk of `capacity` sectors, as `sd` and the
    /// C virtio_blk give: 64 heads, 32 sectors, as many cylinders as fit
    /// (at most 65535).
    pub fn for_capacity(capacity: u64) -> Self {
        Self {
            cylinders: u16::try_from(capacity >> 11).unwrap_or(u16::MAX),
            heads: 64,
            sectors: 32,
        }
    }
}

/// A block status (`blk_status_t`, `include/linux/blk_types.h`): how a
/// request ends. bindgen cannot see the values (they are `__force` casts);
/// [`check_abi`] compares them with C's.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `BLK_STS_OK`.
    Ok = 0,
    /// `BLK_STS_NOTSUPP`: the operation is not supported.
    NotSupported = 1,
    /// `BLK_STS_RESOURCE`: out of resources for now; blk-mq retries.
    Resource = 9,
    /// `BLK_STS_IOERR`.
    IoError = 10,
    /// `BLK_STS_DEV_RESOURCE`: the device is busy; blk-mq retries when a
    /// request completes.
    DevResource = 13,
}

impl From<Outcome> for Status {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => Self::Ok,
            Outcome::Unsupported => Self::NotSupported,
            Outcome::IoError => Self::IoError,
        }
    }
}

/// Whether `e` is `EOPNOTSUPP` (what a request ended with
/// [`Status::NotSupported`] returns; the kernel crate has no constant for it).
pub fn is_not_supported(e: Error) -> bool {
    e.to_errno().unsigned_abs() == bindings::EOPNOTSUPP
}

/// What the timeout handler decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Keep waiting.
    ResetTimer,
    /// The driver completed the request.
    Done,
}

/// The driver's side of a disk.
pub trait Operations: Send + Sync + 'static {
    /// Queues `rq` on hardware queue `hctx`. On success the driver owns the
    /// started request until it completes it; on failure the request goes
    /// back to blk-mq with a status (started or not: blk-mq requeues
    /// [`Status::Resource`] and ends the others).
    fn queue_rq(
        &self,
        disk: DiskRef<'_>,
        hctx: u32,
        rq: Request,
        last: bool,
    ) -> Result<(), (Status, Request)>;
    /// Queues the requests of `rqs`, all for hardware queue `hctx`, at once
    /// (blk-mq's `queue_rqs`: a plugged list, such as an io_uring
    /// submission of several requests): a driver adds them under one hold
    /// of its queue's lock and notifies the device once. It gives back
    /// ([`RequestList::give_back`], or leaves on the list) what it does
    /// not queue, which blk-mq then issues through
    /// [`Operations::queue_rq`]. By default it queues nothing.
    fn queue_rqs(&self, _disk: DiskRef<'_>, _hctx: u32, _rqs: &mut RequestList<'_>) {}
    /// Notifies the device of requests queued without `last`.
    fn commit_rqs(&self, hctx: u32);
    /// Finishes a completed request (status, end): the shim unmapped it
    /// and read what the device answered (`answer`), in the call that
    /// brings it here.
    fn complete(&self, disk: DiskRef<'_>, rq: Request, answer: Answer);
    /// A request timed out.
    fn timeout(&self, disk: DiskRef<'_>, rq: &Request) -> Timeout;
    /// The sysfs `serial` attribute: writes the serial into `buf` (at most
    /// its length) and returns its length.
    fn serial(&self, _disk: DiskRef<'_>, _buf: &mut [u8]) -> Result<usize> {
        Ok(0)
    }
    /// Whether the volatile write cache is on (sysfs `cache_type`).
    fn write_cache(&self) -> Result<bool> {
        Ok(false)
    }
    /// Switches the write cache mode; returns the mode now in force.
    fn set_write_cache(&self, _write_back: bool) -> Result<bool> {
        Err(EPERM)
    }
    /// Whether [`Operations::set_write_cache`] can work (a writable
    /// `cache_type`).
    fn write_cache_switchable(&self) -> bool {
        false
    }
    /// The geometry for `HDIO_GETGEO` of a disk of `capacity` sectors.
    fn geometry(&self, capacity: u64) -> Result<Geometry> {
        Ok(Geometry::for_capacity(capacity))
    }
}

/// The disk name prefix: the module's `prefix` parameter (default `vd`,
/// defined by the shim: 7.2's `module!` has no string parameters). Not
/// checked here (see [`crate::virtio::blk::check_prefix`]).
pub fn name_prefix() -> &'static CStr {
    // SAFETY: `rvirtio_blk_name_prefix` returns the module's `charp`
    // parameter; read-only (0444), it is set before the module's init and
    // stays until the module is unloaded. Checked for null all the same.
    let p = unsafe { rvirtio_blk_name_prefix() };
    if p.is_null() {
        return c"";
    }
    // SAFETY: a NUL-terminated string that lives as long as the module
    // (see above).
    unsafe { CStr::from_char_ptr(p) }
}
