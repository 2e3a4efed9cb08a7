// SPDX-License-Identifier: GPL-2.0

//! Completions: the device's status byte (§5.2.6), what it means for the
//! block layer, and counting the answers that break the protocol.

use crate::blk::{status, Unmapped};
use kernel::sync::atomic::{Atomic, Relaxed};

/// Device status values (§5.2.6).
pub const S_OK: u8 = 0;
/// `VIRTIO_BLK_S_IOERR`.
pub const S_IOERR: u8 = 1;
/// `VIRTIO_BLK_S_UNSUPP`.
pub const S_UNSUPP: u8 = 2;

/// Maps a virtio-blk status byte to a `blk_status_t`.
pub fn blk_status(status: u8) -> u32 {
    match status {
        S_OK => status::OK,
        S_UNSUPP => status::NOTSUPP,
        // S_IOERR, and anything a device should not write.
        _ => status::IOERR,
    }
}

/// The block status of a completed request, and whether the device broke
/// the protocol with it: a status byte it must not write, or (when the
/// length can be trusted: `check_len`, a modern device) success with fewer
/// bytes written than the request's data and status (a short read that
/// claims success would hand stale memory to the reader). A length above
/// the writable bytes never gets here: the ring rejects it.
pub fn completion_status(a: Unmapped, check_len: bool) -> (u32, bool) {
    match a.status {
        S_OK if check_len && a.used_len != a.in_len => (status::IOERR, true),
        S_OK | S_IOERR | S_UNSUPP => (blk_status(a.status), false),
        _ => (status::IOERR, true),
    }
}

/// Protocol violations (see [`completion_status`]) after which the device is
/// failed.
pub const MAX_VIOLATIONS: u32 = 8;

/// Counts a device's protocol violations.
pub struct Violations(Atomic<u32>);

impl Default for Violations {
    fn default() -> Self {
        Self::new()
    }
}

impl Violations {
    /// No violations yet.
    pub const fn new() -> Self {
        Self(Atomic::new(0))
    }

    /// Records one; returns how many there have been, and whether this one
    /// is the `MAX_VIOLATIONS`th (fail the device now; exactly once).
    pub fn record(&self) -> (u32, bool) {
        let n = self.0.fetch_add(1, Relaxed).saturating_add(1);
        (n, n == MAX_VIOLATIONS)
    }
}
