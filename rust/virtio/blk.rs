// SPDX-License-Identifier: GPL-2.0

//! The virtio-blk protocol, without a kernel: which request an operation
//! becomes, what a completion means, the discard/write-zeroes ranges, the
//! GET_ID serial, queue limits from the configuration space, and disk
//! names. The device is untrusted: every value it supplies is checked here.
//!
//! The wire format is in [`wire`]. The kernel driver
//! (`drivers/block/rvirtio_blk_main.rs`) and its blk-mq glue
//! (`rust/kext/blk/`) use this module; host tests are in
//! `tests/blk.rs`.
//!
//! Ref: virtio v1.4 §5.2; C version: `drivers/block/virtio_blk.c`.

pub mod wire;

use wire::{
    Range,
    RequestType,
    ID_BYTES,
    MAX_RANGES,
    S_IOERR,
    S_OK,
    S_UNSUPP, //
};

/// A block-layer operation, as far as the protocol cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read.
    Read,
    /// Write.
    Write,
    /// Flush the volatile cache.
    Flush,
    /// Discard.
    Discard,
    /// Write zeroes.
    WriteZeroes,
    /// A driver-private read: the driver sends GET_ID with it.
    DrvIn,
    /// Anything else (the kernel's operation number).
    Other(u32),
}

/// What the negotiated features let the driver send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    /// `VIRTIO_BLK_F_FLUSH`.
    pub flush: bool,
    /// `VIRTIO_BLK_F_DISCARD`.
    pub discard: bool,
    /// `VIRTIO_BLK_F_WRITE_ZEROES`.
    pub write_zeroes: bool,
}

/// The request type and header sector of an operation at `pos`, or `None`
/// for one the device cannot do. Flush, discard, write zeroes and GET_ID
/// carry sector 0 in the header (§5.2.6).
pub fn request_type(op: Op, pos: u64, caps: Caps) -> Option<(RequestType, u64)> {
    match op {
        Op::Read => Some((RequestType::In, pos)),
        Op::Write => Some((RequestType::Out, pos)),
        Op::Flush if caps.flush => Some((RequestType::Flush, 0)),
        Op::Discard if caps.discard => Some((RequestType::Discard, 0)),
        Op::WriteZeroes if caps.write_zeroes => Some((RequestType::WriteZeroes, 0)),
        Op::DrvIn => Some((RequestType::GetId, 0)),
        _ => None,
    }
}

/// A request's answer, read once its buffers are unmapped (so the device
/// can no longer change it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status byte ([`wire::S_UNWRITTEN`] if the device never wrote it).
    pub status: u8,
    /// The length the device reported writing.
    pub used_len: u32,
    /// The device-writable bytes of the request: its data for reads, and
    /// the status byte.
    pub in_len: u32,
}

/// How a request ended, for the block layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success.
    Ok,
    /// The device does not support the request.
    Unsupported,
    /// An I/O error.
    IoError,
}

impl Outcome {
    /// What a status byte means: `VIRTIO_BLK_S_OK` success,
    /// `VIRTIO_BLK_S_UNSUPP` unsupported, `VIRTIO_BLK_S_IOERR` and any
    /// other byte an I/O error.
    pub fn from_status(status: u8) -> Self {
        match status {
            S_OK => Self::Ok,
            S_UNSUPP => Self::Unsupported,
            _ => Self::IoError,
        }
    }
}

/// How a completed request ends, and whether the device broke the
/// protocol with it: a status byte it must not write, or (when the length
/// can be trusted: `check_len`, a modern device) success with another
/// length than the request's writable bytes (a short read that claims
/// success would hand stale memory to the reader). A length above the
/// writable bytes never gets here: the ring rejects it.
pub fn completion(a: Answer, check_len: bool) -> (Outcome, bool) {
    match a.status {
        S_OK if check_len && a.used_len != a.in_len => (Outcome::IoError, true),
        S_OK | S_IOERR | S_UNSUPP => (Outcome::from_status(a.status), false),
        _ => (Outcome::IoError, true),
    }
}

/// Protocol violations after which the driver fails the device.
pub const MAX_VIOLATIONS: u32 = 8;

/// What a request timeout means for the device (the blk timeout handler's
/// decision, [`on_timeout`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutVerdict {
    /// Keep waiting: re-arm the request's timer.
    Wait,
    /// The driver itself failed the device (protocol violations, a broken
    /// ring): whatever the device's status says, it gets nothing more.
    DriverFailed,
    /// The device is failed, asks for a reset, or is gone (all-ones).
    DeviceBroken,
    /// The device lost DRIVER_OK: it no longer processes its queues.
    NotLive,
    /// The device looks live but left the request unanswered through
    /// every allowed re-arm.
    NoAnswer,
}

impl TimeoutVerdict {
    /// Whether the device must be stopped and its requests failed.
    pub fn fails_device(self) -> bool {
        self != Self::Wait
    }
}

/// What the device's state says when a request times out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutState {
    /// The driver failed the device (it may ignore the FAILED write and
    /// keep DRIVER_OK: the driver's own state is what counts).
    pub driver_failed: bool,
    /// The status has FAILED or DEVICE_NEEDS_RESET, reads all-ones, or
    /// cannot be read.
    pub device_broken: bool,
    /// The status has DRIVER_OK.
    pub device_live: bool,
    /// How often this request has timed out, this time included (1 on its
    /// first timeout).
    pub timeouts: u32,
}

/// Decides what a request timeout means: the driver's own failure first,
/// then the device status, then the bound on waiting for a device that
/// looks live: after `max_rearms` re-arms of the request's timer (so on its
/// `max_rearms + 1`th timeout) it is given up as [`TimeoutVerdict::NoAnswer`].
pub fn on_timeout(s: TimeoutState, max_rearms: u32) -> TimeoutVerdict {
    if s.driver_failed {
        TimeoutVerdict::DriverFailed
    } else if s.device_broken {
        TimeoutVerdict::DeviceBroken
    } else if !s.device_live {
        TimeoutVerdict::NotLive
    } else if s.timeouts > max_rearms {
        TimeoutVerdict::NoAnswer
    } else {
        TimeoutVerdict::Wait
    }
}

/// Why ranges were not encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// No range at all.
    Empty,
    /// More ranges than allowed, or than fit.
    TooMany,
    /// A range of 0 bytes, or not whole sectors.
    BadSize,
}

/// Writes one [`Range`] per (first sector, bytes) of `ranges` into `out`,
/// at most `max` of them, with `flags`; returns how many. Refuses an empty
/// list, more ranges than `max` or `out` hold, and sizes that are 0 or not
/// whole 512-byte sectors. On error `out` may be partly written.
pub fn encode_ranges(
    out: &mut [Range],
    ranges: impl Iterator<Item = (u64, u32)>,
    flags: u32,
    max: usize,
) -> Result<usize, RangeError> {
    let mut n = 0usize;
    let mut slots = out.iter_mut();
    for (sector, bytes) in ranges {
        let slot = match slots.next() {
            Some(slot) if n < max => slot,
            _ => return Err(RangeError::TooMany),
        };
        if bytes == 0 || bytes % 512 != 0 {
            return Err(RangeError::BadSize);
        }
        *slot = Range {
            sector: sector.into(),
            num_sectors: (bytes / 512).into(),
            flags: flags.into(),
        };
        n = n.saturating_add(1);
    }
    if n == 0 {
        return Err(RangeError::Empty);
    }
    Ok(n)
}

/// Bytes of `n` ranges, the request's data length.
pub const fn ranges_bytes(n: usize) -> usize {
    n.saturating_mul(core::mem::size_of::<Range>())
}

/// The device sent a GET_ID answer that is not printable ASCII.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadId;

/// The serial number in a GET_ID answer: up to the first NUL (none if all
/// 20 bytes are used); bytes past 20 are ignored. A device that sends
/// anything but printable ASCII gets no serial shown, so it cannot inject
/// text into sysfs.
pub fn serial_from_id(id: &[u8]) -> Result<&[u8], BadId> {
    let id = id.get(..ID_BYTES).unwrap_or(id);
    let len = id.iter().position(|&b| b == 0).unwrap_or(id.len());
    let s = id.get(..len).ok_or(BadId)?;
    if s.iter().all(|b| (0x20..0x7f).contains(b)) {
        Ok(s)
    } else {
        Err(BadId)
    }
}

/// Most data segments per request: bounds the driver's on-stack element
/// arrays.
pub const MAX_SEGMENTS: u32 = 64;

/// What the device's configuration says, read consistently. A field whose
/// feature was not negotiated is 0 (`num_queues`: 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// `capacity`, in 512-byte sectors.
    pub capacity: u64,
    /// `size_max`.
    pub size_max: u32,
    /// `seg_max`.
    pub seg_max: u32,
    /// `blk_size`.
    pub blk_size: u32,
    /// `topology.physical_block_exp`.
    pub physical_block_exp: u8,
    /// `topology.alignment_offset`.
    pub alignment_offset: u8,
    /// `topology.min_io_size`.
    pub min_io_size: u16,
    /// `topology.opt_io_size`.
    pub opt_io_size: u32,
    /// `num_queues`.
    pub num_queues: u16,
    /// `max_discard_sectors`.
    pub max_discard_sectors: u32,
    /// `max_discard_seg`.
    pub max_discard_seg: u32,
    /// `discard_sector_alignment`.
    pub discard_sector_alignment: u32,
    /// `max_write_zeroes_sectors`.
    pub max_write_zeroes_sectors: u32,
}

/// Queue limits of a disk, as the block layer takes them. Laid out as the
/// kernel shim's `struct rvirtio_blk_limits` (`rust/helpers/blk.c`), which
/// takes it as is; `kext::blk::check_abi` compares the two.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Logical block size in bytes.
    pub logical_block_size: u32,
    /// Physical block size in bytes.
    pub physical_block_size: u32,
    /// Alignment offset in bytes.
    pub alignment_offset: u32,
    /// Minimum I/O size in bytes.
    pub io_min: u32,
    /// Optimal I/O size in bytes.
    pub io_opt: u32,
    /// Largest request in 512-byte sectors.
    pub max_hw_sectors: u32,
    /// Most data segments per request.
    pub max_segments: u32,
    /// Largest data segment in bytes.
    pub max_segment_size: u32,
    /// DMA alignment mask.
    pub dma_alignment: u32,
    /// Largest discard in 512-byte sectors (0: no discard).
    pub max_discard_sectors: u32,
    /// Most ranges in one discard request.
    pub max_discard_segments: u32,
    /// Discard granularity in bytes.
    pub discard_granularity: u32,
    /// Largest write-zeroes request in 512-byte sectors (0: none).
    pub max_write_zeroes_sectors: u32,
    /// The device has a volatile write cache (flushes are sent).
    pub write_cache: bool,
    /// The device supports FUA writes.
    pub fua: bool,
}

/// A configuration value no real device has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitsError {
    /// `blk_size` is not a power of two from 512 to 64 KiB.
    BlockSize(u32),
    /// `physical_block_exp` is above 16.
    PhysicalBlockExp(u8),
    /// The physical block size (`blk_size << physical_block_exp`) does not
    /// fit 32 bits.
    PhysicalBlockSize {
        /// The logical block size.
        lbs: u32,
        /// The exponent.
        exp: u8,
    },
    /// `discard_sector_alignment` in bytes does not fit 32 bits.
    DiscardAlignment(u32),
    /// `size_max` is below [`MIN_SEGMENT_SIZE`]: the driver must not
    /// exceed it (spec §5.2.5), and the block layer cannot make segments
    /// that small (`BLK_MIN_SEGMENT_SIZE`; it warns and refuses the
    /// limits), so the device cannot be driven.
    SizeMax(u32),
    /// The DMA layer's largest mapping (see [`Limits::bound_segments`]) is
    /// below [`MIN_SEGMENT_SIZE`]: no segment the block layer can build
    /// could be mapped.
    DmaSegment(u32),
}

/// The smallest segment the block layer can build (`BLK_MIN_SEGMENT_SIZE`,
/// a page on 4 KiB-page kernels).
pub const MIN_SEGMENT_SIZE: u32 = 4096;

/// Largest `physical_block_exp` accepted.
pub const MAX_PHYSICAL_BLOCK_EXP: u8 = 16;

/// Turns the device's configuration into queue limits, refusing values no
/// real device has (the device is untrusted). Discard and write zeroes are
/// enabled as `caps` says; a limit of 0 from the device means no limit.
/// `write_cache` and `fua` are left off for the caller.
pub fn limits(c: &Config, caps: Caps) -> Result<Limits, LimitsError> {
    let lbs = if c.blk_size == 0 { 512 } else { c.blk_size };
    if !(512..=65536).contains(&lbs) || !lbs.is_power_of_two() {
        return Err(LimitsError::BlockSize(c.blk_size));
    }
    let exp = c.physical_block_exp;
    if exp > MAX_PHYSICAL_BLOCK_EXP {
        return Err(LimitsError::PhysicalBlockExp(exp));
    }
    // 64 KiB << 16 is 2^32: it would wrap to 0.
    let pbs = 1u32
        .checked_shl(u32::from(exp))
        .and_then(|m| lbs.checked_mul(m))
        .ok_or(LimitsError::PhysicalBlockSize { lbs, exp })?;
    let seg_max = match c.seg_max {
        0 => MAX_SEGMENTS,
        n => n.min(MAX_SEGMENTS),
    };
    // A segment is at most 4 GiB - 1 on the ring; 0 means no limit. A
    // limit is honoured exactly, or the device refused.
    let size_max = match c.size_max {
        0 => u32::MAX,
        n if n < MIN_SEGMENT_SIZE => return Err(LimitsError::SizeMax(n)),
        n => n,
    };
    let (max_discard_sectors, max_discard_segments, discard_granularity) = if caps.discard {
        let granularity = match c.discard_sector_alignment {
            0 => lbs,
            n => n.checked_mul(512).ok_or(LimitsError::DiscardAlignment(n))?,
        };
        // CAST: `MAX_RANGES` is 16.
        let most = MAX_RANGES as u32;
        let segs = match c.max_discard_seg {
            0 => most,
            n => n.min(most),
        };
        (nonzero_or_max(c.max_discard_sectors), segs, granularity)
    } else {
        (0, 0, 0)
    };
    let max_write_zeroes_sectors = if caps.write_zeroes {
        nonzero_or_max(c.max_write_zeroes_sectors)
    } else {
        0
    };
    Ok(Limits {
        logical_block_size: lbs,
        physical_block_size: pbs,
        alignment_offset: u32::from(c.alignment_offset).saturating_mul(lbs),
        io_min: u32::from(c.min_io_size).saturating_mul(lbs),
        io_opt: c.opt_io_size.saturating_mul(lbs),
        max_hw_sectors: u32::MAX,
        max_segments: seg_max,
        max_segment_size: size_max,
        dma_alignment: 511,
        max_discard_sectors,
        max_discard_segments,
        discard_granularity,
        max_write_zeroes_sectors,
        write_cache: false,
        fua: false,
    })
}

impl Limits {
    /// Bounds every data segment by `max` bytes: the largest segment the
    /// DMA layer can map for the device
    /// ([`Addressing::max_segment`](crate::dma::Addressing::max_segment):
    /// 256 KiB under swiotlb, no bound with physical addressing), as the C
    /// driver bounds `max_segment_size` by `virtio_max_dma_size()`. A
    /// request is mapped segment by segment, so the request size
    /// (`max_hw_sectors`) needs no bound of its own. Without the bound a
    /// larger segment can never be mapped and its request would be
    /// retried for ever.
    pub fn bound_segments(&mut self, max: u32) -> Result<(), LimitsError> {
        if max < MIN_SEGMENT_SIZE {
            return Err(LimitsError::DmaSegment(max));
        }
        self.max_segment_size = self.max_segment_size.min(max);
        Ok(())
    }
}

fn nonzero_or_max(v: u32) -> u32 {
    if v == 0 {
        u32::MAX
    } else {
        v
    }
}

/// Room for a disk name with its NUL (`DISK_NAME_LEN`).
pub const DISK_NAME_LEN: usize = 32;
/// Longest disk name prefix accepted.
pub const MAX_PREFIX: usize = 16;
/// Highest disk index, as the C driver allows (`minor_to_index(1 <<
/// MINORBITS) - 1` with 16 minors per disk): `vd` plus at most 4 letters.
pub const MAX_DISK_INDEX: u32 = (1 << 16) - 1;

/// A disk name prefix that is empty, longer than [`MAX_PREFIX`], or has
/// anything but lowercase letters, digits and `_`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadPrefix;

/// Whether `prefix` can start a disk name (see [`BadPrefix`]).
pub fn check_prefix(prefix: &[u8]) -> Result<(), BadPrefix> {
    let ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_';
    if prefix.is_empty() || prefix.len() > MAX_PREFIX || !prefix.iter().all(ok) {
        return Err(BadPrefix);
    }
    Ok(())
}

/// The name of disk `index` with `prefix`, the C driver's scheme
/// (`virtblk_name_format`, as `sd` names disks): `vda`..`vdz`, then
/// `vdaa`..`vdzz`, `vdaaa`, ... Written into `buf` with a NUL after it;
/// returns the name without the NUL.
pub fn disk_name<'a>(
    prefix: &[u8],
    index: u32,
    buf: &'a mut [u8; DISK_NAME_LEN],
) -> Result<&'a [u8], BadPrefix> {
    check_prefix(prefix)?;
    // Letters, last first: 26^7 > u32::MAX, so 7 suffice.
    let mut letters = [0u8; 7];
    let mut n = 0usize;
    let mut i = index;
    for slot in letters.iter_mut() {
        // CAST: a remainder of 26 fits `u8`.
        *slot = b'a'.wrapping_add((i % 26) as u8);
        n = n.wrapping_add(1);
        i /= 26;
        if i == 0 {
            break;
        }
        i = i.wrapping_sub(1);
    }
    let len = prefix.len().saturating_add(n);
    let (name, rest) = buf.split_at_mut(len.min(DISK_NAME_LEN.saturating_sub(1)));
    let (head, tail) = name.split_at_mut(prefix.len().min(name.len()));
    head.copy_from_slice(prefix.get(..head.len()).ok_or(BadPrefix)?);
    let used = letters.get(..n).ok_or(BadPrefix)?;
    for (d, s) in tail.iter_mut().zip(used.iter().rev()) {
        *d = *s;
    }
    if let Some(nul) = rest.first_mut() {
        *nul = 0;
    }
    Ok(name)
}
