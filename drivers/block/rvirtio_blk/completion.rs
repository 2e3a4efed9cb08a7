// SPDX-License-Identifier: GPL-2.0

//! Completions: the block status of a device's answer, and counting the
//! answers that break the protocol.

use crate::{
    blk::Status,
    virtio::blk::{
        completion,
        Answer,
        MAX_VIOLATIONS, //
    },
};
use kernel::sync::atomic::{
    Atomic,
    Relaxed, //
};

/// The block status of a completed request, and whether the device broke
/// the protocol with it (see [`completion`]).
pub fn completion_status(a: Answer, check_len: bool) -> (Status, bool) {
    let (outcome, violation) = completion(a, check_len);
    (outcome.into(), violation)
}

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
