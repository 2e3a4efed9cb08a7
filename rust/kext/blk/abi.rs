// SPDX-License-Identifier: GPL-2.0

//! The shim's ABI version and the layout checks of every structure and
//! value mirrored between `rust/helpers/blk.c` and Rust.

use super::*;

/// The version of the shim's ABI these declarations were written for; it
/// must equal `RVIRTIO_BLK_SHIM_ABI` in `rust/helpers/blk.c`.
pub const SHIM_ABI: u32 = 6;

/// A structure (its size), field (its offset) or constant (its value) of
/// the shim that this file mirrors, as `rvirtio_blk_c_layout` measures it
/// (the [`c_layout`](crate::kext::c_layout) mechanism for the shim's own
/// structures).
///
/// The discriminants must match `enum rvirtio_blk_c_field` in
/// `rust/helpers/blk.c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CField {
    /// `sizeof(struct rvirtio_blk_limits)`.
    Limits = 0,
    /// `logical_block_size`.
    LimitsLogicalBlockSize,
    /// `physical_block_size`.
    LimitsPhysicalBlockSize,
    /// `alignment_offset`.
    LimitsAlignmentOffset,
    /// `io_min`.
    LimitsIoMin,
    /// `io_opt`.
    LimitsIoOpt,
    /// `max_hw_sectors`.
    LimitsMaxHwSectors,
    /// `max_segments`.
    LimitsMaxSegments,
    /// `max_segment_size`.
    LimitsMaxSegmentSize,
    /// `dma_alignment`.
    LimitsDmaAlignment,
    /// `max_discard_sectors`.
    LimitsMaxDiscardSectors,
    /// `max_discard_segments`.
    LimitsMaxDiscardSegments,
    /// `discard_granularity`.
    LimitsDiscardGranularity,
    /// `max_write_zeroes_sectors`.
    LimitsMaxWriteZeroesSectors,
    /// `write_cache`.
    LimitsWriteCache,
    /// `fua`.
    LimitsFua,
    /// `sizeof(struct rvirtio_blk_cb)`.
    Cb,
    /// `queue_rq`.
    CbQueueRq,
    /// `commit_rqs`.
    CbCommitRqs,
    /// `complete`.
    CbComplete,
    /// `timeout`.
    CbTimeout,
    /// `serial`.
    CbSerial,
    /// `write_cache`.
    CbWriteCache,
    /// `set_write_cache`.
    CbSetWriteCache,
    /// `write_cache_switchable`.
    CbWriteCacheSwitchable,
    /// `geometry`.
    CbGeometry,
    /// `queue_rqs`.
    CbQueueRqs,
    /// `sizeof(struct rvirtio_blk_geo)`.
    Geo,
    /// `cylinders`.
    GeoCylinders,
    /// `heads`.
    GeoHeads,
    /// `sectors`.
    GeoSectors,
    /// `sizeof(struct rvirtio_blk_wire)`.
    Wire,
    /// `size`.
    WireSize,
    /// `align`.
    WireAlign,
    /// `header_len`.
    WireHeaderLen,
    /// `status_offset`.
    WireStatusOffset,
    /// `payload_offset`.
    WirePayloadOffset,
    /// `payload_max`.
    WirePayloadMax,
    /// `BLK_STS_OK`.
    StsOk,
    /// `BLK_STS_NOTSUPP`.
    StsNotSupp,
    /// `BLK_STS_RESOURCE`.
    StsResource,
    /// `BLK_STS_IOERR`.
    StsIoErr,
    /// `BLK_STS_DEV_RESOURCE`.
    StsDevResource,
    /// `__alignof__(struct request)`: the alignment of the per-request data,
    /// which starts with the wire area.
    RequestAlign,
    /// `sizeof(struct request)`: where the per-request data starts
    /// (`blk_mq_rq_to_pdu()` is `rq + 1`), which [`Request::wire_mut`]
    /// computes in Rust.
    RequestSize,
}

/// The size, offset or value C gives `field`, or `None` when the linked
/// shim does not know it (an ABI mismatch).
pub fn c_layout(field: CField) -> Option<usize> {
    // SAFETY: `rvirtio_blk_c_layout` is a pure function of its argument and
    // accepts any value (unknown ids return -1).
    let v = unsafe { rvirtio_blk_c_layout(field as u32) };
    usize::try_from(v).ok()
}

/// Every `(C field, Rust value)` pair that must agree: the shim's limits,
/// callbacks, geometry and wire layout structures, and the block statuses.
/// For [`CField::RequestAlign`] the Rust value is the least C must give.
pub fn layout() -> [(CField, usize); 45] {
    use CField as F;
    let sts = |s: Status| usize::from(s as u8);
    [
        (F::Limits, size_of::<Limits>()),
        (
            F::LimitsLogicalBlockSize,
            offset_of!(Limits, logical_block_size),
        ),
        (
            F::LimitsPhysicalBlockSize,
            offset_of!(Limits, physical_block_size),
        ),
        (
            F::LimitsAlignmentOffset,
            offset_of!(Limits, alignment_offset),
        ),
        (F::LimitsIoMin, offset_of!(Limits, io_min)),
        (F::LimitsIoOpt, offset_of!(Limits, io_opt)),
        (F::LimitsMaxHwSectors, offset_of!(Limits, max_hw_sectors)),
        (F::LimitsMaxSegments, offset_of!(Limits, max_segments)),
        (
            F::LimitsMaxSegmentSize,
            offset_of!(Limits, max_segment_size),
        ),
        (F::LimitsDmaAlignment, offset_of!(Limits, dma_alignment)),
        (
            F::LimitsMaxDiscardSectors,
            offset_of!(Limits, max_discard_sectors),
        ),
        (
            F::LimitsMaxDiscardSegments,
            offset_of!(Limits, max_discard_segments),
        ),
        (
            F::LimitsDiscardGranularity,
            offset_of!(Limits, discard_granularity),
        ),
        (
            F::LimitsMaxWriteZeroesSectors,
            offset_of!(Limits, max_write_zeroes_sectors),
        ),
        (F::LimitsWriteCache, offset_of!(Limits, write_cache)),
        (F::LimitsFua, offset_of!(Limits, fua)),
        (F::Cb, size_of::<Callbacks>()),
        (F::CbQueueRq, offset_of!(Callbacks, queue_rq)),
        (F::CbCommitRqs, offset_of!(Callbacks, commit_rqs)),
        (F::CbComplete, offset_of!(Callbacks, complete)),
        (F::CbTimeout, offset_of!(Callbacks, timeout)),
        (F::CbSerial, offset_of!(Callbacks, serial)),
        (F::CbWriteCache, offset_of!(Callbacks, write_cache)),
        (F::CbSetWriteCache, offset_of!(Callbacks, set_write_cache)),
        (
            F::CbWriteCacheSwitchable,
            offset_of!(Callbacks, write_cache_switchable),
        ),
        (F::CbGeometry, offset_of!(Callbacks, geometry)),
        (F::CbQueueRqs, offset_of!(Callbacks, queue_rqs)),
        (F::Geo, size_of::<Geometry>()),
        (F::GeoCylinders, offset_of!(Geometry, cylinders)),
        (F::GeoHeads, offset_of!(Geometry, heads)),
        (F::GeoSectors, offset_of!(Geometry, sectors)),
        (F::Wire, size_of::<RawWire>()),
        (F::WireSize, offset_of!(RawWire, size)),
        (F::WireAlign, offset_of!(RawWire, align)),
        (F::WireHeaderLen, offset_of!(RawWire, header_len)),
        (F::WireStatusOffset, offset_of!(RawWire, status_offset)),
        (F::WirePayloadOffset, offset_of!(RawWire, payload_offset)),
        (F::WirePayloadMax, offset_of!(RawWire, payload_max)),
        (F::StsOk, sts(Status::Ok)),
        (F::StsNotSupp, sts(Status::NotSupported)),
        (F::StsResource, sts(Status::Resource)),
        (F::StsIoErr, sts(Status::IoError)),
        (F::StsDevResource, sts(Status::DevResource)),
        (F::RequestAlign, RequestWire::LAYOUT.align),
        (F::RequestSize, size_of::<bindings::request>()),
    ]
}

/// The entries of [`layout`] where C and Rust disagree (or C does not know
/// the field), each logged, and counted.
pub fn layout_mismatches() -> usize {
    use crate::kext::c_layout::{shim_mismatches, Expect};
    shim_mismatches("blk", layout(), c_layout, |f| match f {
        CField::RequestAlign => Expect::AtLeast,
        _ => Expect::Equal,
    })
}

/// Checks that the linked C helpers and blk-mq shim implement the ABI these
/// declarations expect and that every mirrored structure and value has
/// C's layout; logs what does not. [`Disk::new`] runs it, so a module with
/// a mismatched shim makes no disk.
///
/// # Errors
///
/// `EINVAL` on any mismatch.
pub fn check_abi() -> Result {
    // SAFETY: `rvirtio_blk_abi` takes no arguments and has no side effects.
    let abi = unsafe { rvirtio_blk_abi() };
    crate::kext::c_layout::check_shim("blk", abi, SHIM_ABI, layout_mismatches)
}
