// SPDX-License-Identifier: GPL-2.0

//! Queue limits from the device's configuration (§5.2.4), refusing values no
//! real device has: the device is untrusted.

use super::{ranges::MAX_RANGES, request::Caps};
use crate::blk::Limits;
use kernel::prelude::*;

/// Most data segments per request: bounds the on-stack element arrays.
pub const MAX_SEGMENTS: u32 = 64;

/// What the device's configuration says, read consistently. A field whose
/// feature was not negotiated is 0 (`num_queues`: 1).
#[derive(Clone, Copy, PartialEq, Eq)]
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

/// Turns the device's configuration into queue limits, refusing values no
/// real device has (the device is untrusted). Discard and write zeroes are
/// enabled as `caps` says; a limit of 0 from the device means no limit.
pub fn limits(c: &Config, caps: Caps) -> Result<Limits> {
    let lbs = if c.blk_size == 0 { 512 } else { c.blk_size };
    if !(512..=65536).contains(&lbs) || !lbs.is_power_of_two() {
        pr_err!("invalid block size {}\n", c.blk_size);
        return Err(EINVAL);
    }
    if c.physical_block_exp > 16 {
        pr_err!("invalid physical block exponent {}\n", c.physical_block_exp);
        return Err(EINVAL);
    }
    let pbs = lbs << c.physical_block_exp;
    let seg_max = match c.seg_max {
        0 => MAX_SEGMENTS,
        n => n.min(MAX_SEGMENTS),
    };
    // A segment is at most 4 GiB - 1 on the ring; 0 means no limit.
    let size_max = match c.size_max {
        0 => u32::MAX,
        n => n.max(4096),
    };
    let (max_discard_sectors, max_discard_segments, discard_granularity) = if caps.discard {
        let granularity = match c.discard_sector_alignment {
            0 => lbs,
            n => n.checked_mul(512).ok_or_else(|| {
                pr_err!("invalid discard sector alignment {}\n", n);
                EINVAL
            })?,
        };
        let segs = match c.max_discard_seg {
            0 => MAX_RANGES,
            n => n.min(MAX_RANGES),
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
        alignment_offset: u32::from(c.alignment_offset) * lbs,
        io_min: u32::from(c.min_io_size) * lbs,
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

fn nonzero_or_max(v: u32) -> u32 {
    if v == 0 {
        u32::MAX
    } else {
        v
    }
}
