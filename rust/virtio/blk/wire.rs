// SPDX-License-Identifier: GPL-2.0

//! The virtio-blk wire format: feature bits, configuration offsets, request
//! types, the request header, the discard/write-zeroes range, status bytes
//! and the per-request area a driver hands the device.
//!
//! Everything the device reads or writes is defined here, once, in Rust;
//! the kernel shim (`rust/helpers/blk.c`) only maps the bytes of
//! [`RequestWire`] at the offsets [`RequestWire::LAYOUT`] gives it.
//!
//! Ref: virtio v1.4 §5.2 "Block Device"; C: `include/uapi/linux/virtio_blk.h`.

use super::super::{
    features::Feature,
    wire::{
        Le32,
        Le64, //
    },
};
use core::mem::{
    offset_of,
    size_of, //
};

/// Feature bits (§5.2.3).
pub mod feature {
    use super::Feature;

    /// `VIRTIO_BLK_F_SIZE_MAX`: `size_max` is valid.
    pub const SIZE_MAX: Feature = Feature::new(1);
    /// `VIRTIO_BLK_F_SEG_MAX`: `seg_max` is valid.
    pub const SEG_MAX: Feature = Feature::new(2);
    /// `VIRTIO_BLK_F_GEOMETRY`: `geometry` is valid.
    pub const GEOMETRY: Feature = Feature::new(4);
    /// `VIRTIO_BLK_F_RO`: the device is read-only.
    pub const RO: Feature = Feature::new(5);
    /// `VIRTIO_BLK_F_BLK_SIZE`: `blk_size` is valid.
    pub const BLK_SIZE: Feature = Feature::new(6);
    /// `VIRTIO_BLK_F_FLUSH`: flush requests are supported.
    pub const FLUSH: Feature = Feature::new(9);
    /// `VIRTIO_BLK_F_TOPOLOGY`: the topology fields are valid.
    pub const TOPOLOGY: Feature = Feature::new(10);
    /// `VIRTIO_BLK_F_CONFIG_WCE`: `writeback` is writable.
    pub const CONFIG_WCE: Feature = Feature::new(11);
    /// `VIRTIO_BLK_F_MQ`: `num_queues` is valid.
    pub const MQ: Feature = Feature::new(12);
    /// `VIRTIO_BLK_F_DISCARD`: discard requests and their limits.
    pub const DISCARD: Feature = Feature::new(13);
    /// `VIRTIO_BLK_F_WRITE_ZEROES`: write-zeroes requests and their limits.
    pub const WRITE_ZEROES: Feature = Feature::new(14);
}

/// Offsets in `struct virtio_blk_config` (§5.2.4).
pub mod config {
    /// `le64 capacity`, in 512-byte sectors.
    pub const CAPACITY: usize = 0;
    /// `le32 size_max`.
    pub const SIZE_MAX: usize = 8;
    /// `le32 seg_max`.
    pub const SEG_MAX: usize = 12;
    /// `le16 geometry.cylinders`.
    pub const CYLINDERS: usize = 16;
    /// `u8 geometry.heads`.
    pub const HEADS: usize = 18;
    /// `u8 geometry.sectors`.
    pub const SECTORS: usize = 19;
    /// `le32 blk_size`.
    pub const BLK_SIZE: usize = 20;
    /// `u8 topology.physical_block_exp`.
    pub const PHYSICAL_BLOCK_EXP: usize = 24;
    /// `u8 topology.alignment_offset`.
    pub const ALIGNMENT_OFFSET: usize = 25;
    /// `le16 topology.min_io_size`.
    pub const MIN_IO_SIZE: usize = 26;
    /// `le32 topology.opt_io_size`.
    pub const OPT_IO_SIZE: usize = 28;
    /// `u8 writeback`.
    pub const WRITEBACK: usize = 32;
    /// `le16 num_queues`.
    pub const NUM_QUEUES: usize = 34;
    /// `le32 max_discard_sectors`.
    pub const MAX_DISCARD_SECTORS: usize = 36;
    /// `le32 max_discard_seg`.
    pub const MAX_DISCARD_SEG: usize = 40;
    /// `le32 discard_sector_alignment`.
    pub const DISCARD_SECTOR_ALIGNMENT: usize = 44;
    /// `le32 max_write_zeroes_sectors`.
    pub const MAX_WRITE_ZEROES_SECTORS: usize = 48;
}

/// A request type (`VIRTIO_BLK_T_*`, §5.2.6).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestType {
    /// `VIRTIO_BLK_T_IN`: read.
    In = 0,
    /// `VIRTIO_BLK_T_OUT`: write.
    Out = 1,
    /// `VIRTIO_BLK_T_FLUSH`.
    Flush = 4,
    /// `VIRTIO_BLK_T_GET_ID`: the device's ID string.
    GetId = 8,
    /// `VIRTIO_BLK_T_DISCARD`.
    Discard = 11,
    /// `VIRTIO_BLK_T_WRITE_ZEROES`.
    WriteZeroes = 13,
}

/// `VIRTIO_BLK_S_OK`.
pub const S_OK: u8 = 0;
/// `VIRTIO_BLK_S_IOERR`.
pub const S_IOERR: u8 = 1;
/// `VIRTIO_BLK_S_UNSUPP`.
pub const S_UNSUPP: u8 = 2;
/// What the status byte holds before the device answers: no status the
/// device may write, so a request the device never answered reads as a
/// protocol violation.
pub const S_UNWRITTEN: u8 = 0xff;

/// Length of the GET_ID answer (§5.2.6).
pub const ID_BYTES: usize = 20;

/// The request header the device reads first (`struct virtio_blk_outhdr`,
/// 16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestHeader {
    /// `VIRTIO_BLK_T_*` ([`RequestType`]).
    pub type_: Le32,
    /// Request priority (`ioprio`), unused by this driver: 0.
    pub ioprio: Le32,
    /// First 512-byte sector for reads and writes, else 0.
    pub sector: Le64,
}

impl RequestHeader {
    /// The header of a request of type `ty` at `sector`.
    pub const fn new(ty: RequestType, sector: u64) -> Self {
        Self {
            type_: Le32::new(ty as u32),
            ioprio: Le32::new(0),
            sector: Le64::new(sector),
        }
    }
}

/// `VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP`: the device may deallocate.
pub const FLAG_UNMAP: u32 = 1;

/// One range of a discard or write-zeroes request
/// (`struct virtio_blk_discard_write_zeroes`, 16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First 512-byte sector.
    pub sector: Le64,
    /// Number of sectors.
    pub num_sectors: Le32,
    /// [`FLAG_UNMAP`] or 0.
    pub flags: Le32,
}

/// Most ranges in one discard request: what fits [`RequestWire::ranges`].
pub const MAX_RANGES: usize = 16;

/// The bytes of one request the device reads or writes besides its data:
/// the header (device-readable), the status byte (device-writable), and
/// the discard/write-zeroes ranges (device-readable). It lives in each
/// request's per-request data; the shim maps `header` and `status` as one
/// DMA mapping (the header's element, then the status's) and the first
/// ranges as the request's data.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestWire {
    /// The request header.
    pub header: RequestHeader,
    /// The status byte the device writes last.
    pub status: u8,
    _pad: [u8; 7],
    /// The ranges of a discard or write-zeroes request.
    pub ranges: [Range; MAX_RANGES],
}

impl Default for RequestWire {
    fn default() -> Self {
        Self {
            header: RequestHeader::default(),
            status: S_UNWRITTEN,
            _pad: [0; 7],
            ranges: [Range::default(); MAX_RANGES],
        }
    }
}

/// Where the parts of a [`RequestWire`] are, for the shim that maps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireLayout {
    /// Size of the area.
    pub size: usize,
    /// Alignment of the area.
    pub align: usize,
    /// Bytes of the header, from offset 0.
    pub header_len: usize,
    /// Offset of the status byte (the header and the status share one
    /// mapping of `status_offset + 1` bytes).
    pub status_offset: usize,
    /// Offset of the ranges.
    pub payload_offset: usize,
    /// Bytes of the ranges.
    pub payload_max: usize,
}

impl RequestWire {
    /// The layout the shim maps.
    pub const LAYOUT: WireLayout = WireLayout {
        size: size_of::<Self>(),
        align: core::mem::align_of::<Self>(),
        header_len: size_of::<RequestHeader>(),
        status_offset: offset_of!(Self, status),
        payload_offset: offset_of!(Self, ranges),
        payload_max: size_of::<[Range; MAX_RANGES]>(),
    };

    /// Starts a request: writes its header and marks the status unwritten.
    pub fn prepare(&mut self, ty: RequestType, sector: u64) {
        self.header = RequestHeader::new(ty, sector);
        self.status = S_UNWRITTEN;
    }
}

const _: () = {
    assert!(size_of::<RequestHeader>() == 16);
    assert!(size_of::<Range>() == 16);
    // The header and the status byte are adjacent: one mapping covers both.
    assert!(offset_of!(RequestWire, status) == size_of::<RequestHeader>());
    assert!(offset_of!(RequestWire, ranges) % 8 == 0);
    assert!(size_of::<[Range; MAX_RANGES]>() == 256);
};
