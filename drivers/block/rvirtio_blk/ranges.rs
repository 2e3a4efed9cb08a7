// SPDX-License-Identifier: GPL-2.0

//! The payload of discard and write-zeroes requests: a list of
//! `struct virtio_blk_discard_write_zeroes` ranges (§5.2.6).

use kernel::prelude::*;

/// `VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP`: the device may deallocate.
pub const FLAG_UNMAP: u32 = 1;
/// Size of a `struct virtio_blk_discard_write_zeroes` range.
const RANGE_SIZE: usize = 16;
/// Most ranges in one discard request: they fit the request's payload
/// buffer (256 bytes in the shim's per-request data).
pub const MAX_RANGES: u32 = 16;

/// Writes `struct virtio_blk_discard_write_zeroes` ranges (sector,
/// num_sectors, flags; little-endian) into `buf`, one per (first sector,
/// bytes) in `ranges`, at most `max` of them. Returns the bytes written.
/// Refuses an empty list, too many ranges, and sizes that are not whole
/// sectors or do not fit a range.
pub fn encode_ranges(
    buf: &mut [u8],
    ranges: impl Iterator<Item = (u64, u32)>,
    flags: u32,
    max: u32,
) -> Result<usize> {
    let mut n = 0usize;
    for (sector, bytes) in ranges {
        if n >= max as usize || bytes % 512 != 0 || bytes == 0 {
            return Err(EINVAL);
        }
        let at = n * RANGE_SIZE;
        let dst = buf.get_mut(at..at + RANGE_SIZE).ok_or(EINVAL)?;
        let (s, rest) = dst.split_at_mut(8);
        let (num, fl) = rest.split_at_mut(4);
        s.copy_from_slice(&sector.to_le_bytes());
        num.copy_from_slice(&(bytes / 512).to_le_bytes());
        fl.copy_from_slice(&flags.to_le_bytes());
        n += 1;
    }
    if n == 0 {
        return Err(EINVAL);
    }
    Ok(n * RANGE_SIZE)
}
