// SPDX-License-Identifier: GPL-2.0

//! Per-queue statistics, shown in debugfs ([`super::debugfs`]): what the
//! driver asked of the queue and what the device did, for benchmarks
//! (kicks and interrupts per request) and for diagnosing a misbehaving
//! device.

use core::fmt;
use kernel::sync::atomic::{Atomic, Relaxed};

/// The counters of one queue that change under its lock: plain integers
/// inside the lock ([`super::queue::Queue`] keeps them next to the ring),
/// so counting costs an increment and no call (the kernel crate's atomics
/// are out-of-line C helpers).
#[derive(Clone, Copy, Debug, Default)]
pub struct LockedCounts {
    /// Buffers exposed to the device.
    pub(crate) added: u64,
    /// Notifications sent (decided under the lock).
    pub(crate) kicks: u64,
    /// Used buffers taken back.
    pub(crate) used: u64,
    /// Drains (with interrupts re-enabled at their end) that found nothing.
    pub(crate) spurious: u64,
}

impl LockedCounts {
    /// A buffer was exposed to the device.
    #[inline(always)]
    pub(crate) fn added(&mut self) {
        self.added = self.added.wrapping_add(1);
    }

    /// The device was notified.
    #[inline(always)]
    pub(crate) fn kicked(&mut self) {
        self.kicks = self.kicks.wrapping_add(1);
    }

    /// `n` used buffers were taken back.
    #[inline(always)]
    pub(crate) fn used(&mut self, n: u64) {
        self.used = self.used.wrapping_add(n);
    }

    /// A drain found nothing.
    #[inline(always)]
    pub(crate) fn spurious(&mut self) {
        self.spurious = self.spurious.wrapping_add(1);
    }
}

/// The counters of one queue that change outside its lock: interrupts (in
/// the framework's handler, before the driver takes the lock, if it does)
/// and protocol violations (rare).
pub struct QueueStats {
    interrupts: Atomic<u64>,
    violations: Atomic<u64>,
}

impl QueueStats {
    /// All zero.
    pub(crate) fn new() -> Self {
        Self {
            interrupts: Atomic::new(0),
            violations: Atomic::new(0),
        }
    }

    /// The queue's interrupt handler ran (in that handler). One atomic add:
    /// one call of the kernel's helper, where a load and a store were two.
    #[inline]
    pub(crate) fn interrupted(&self) {
        self.interrupts.add(1, Relaxed);
    }

    /// The device broke the ring rules.
    pub(crate) fn violation(&self) {
        self.violations.add(1, Relaxed);
    }
}

/// A copy of all counters of a queue, for debugfs.
#[derive(Clone, Copy, Debug)]
pub struct StatsSnapshot {
    /// The counters kept under the lock.
    pub locked: LockedCounts,
    /// Interrupts.
    pub interrupts: u64,
    /// Protocol violations.
    pub violations: u64,
}

impl StatsSnapshot {
    /// `locked` (read under the queue's lock) and the rest of `s`.
    pub(crate) fn new(locked: LockedCounts, s: &QueueStats) -> Self {
        Self {
            locked,
            interrupts: s.interrupts.load(Relaxed),
            violations: s.violations.load(Relaxed),
        }
    }
}

/// Readers, for a driver's own statistics (rvirtio_net's `ethtool -S`).
impl StatsSnapshot {
    /// Notifications sent.
    pub fn kicks(&self) -> u64 {
        self.locked.kicks
    }

    /// Interrupts the queue's handler took.
    pub fn interrupts(&self) -> u64 {
        self.interrupts
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "added {} kicks {} interrupts {} spurious {} used {} violations {}",
            self.locked.added,
            self.locked.kicks,
            self.interrupts,
            self.locked.spurious,
            self.locked.used,
            self.violations,
        )
    }
}
