// SPDX-License-Identifier: GPL-2.0

//! Per-queue statistics, shown in debugfs ([`super::debugfs`]): what the
//! driver asked of the queue and what the device did, for benchmarks
//! (kicks and interrupts per request) and for diagnosing a misbehaving
//! device.

use core::fmt;
use kernel::sync::atomic::{Atomic, Relaxed};

/// The counters of one queue.
///
/// Each counter has one writer at a time: `added`, `kicks` and `used`
/// change under the queue's lock; `interrupts` and `spurious` (a drain
/// that found nothing) in the queue's interrupt handler (a queue is on one
/// vector, and handlers of one vector do not run concurrently). So an
/// increment is a relaxed load and store, not a locked read-modify-write;
/// `violations` is rare and uses one.
pub struct QueueStats {
    added: Atomic<u64>,
    kicks: Atomic<u64>,
    interrupts: Atomic<u64>,
    spurious: Atomic<u64>,
    used: Atomic<u64>,
    violations: Atomic<u64>,
}

#[inline]
fn bump(c: &Atomic<u64>, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

impl QueueStats {
    /// All zero.
    pub(crate) fn new() -> Self {
        Self {
            added: Atomic::new(0),
            kicks: Atomic::new(0),
            interrupts: Atomic::new(0),
            spurious: Atomic::new(0),
            used: Atomic::new(0),
            violations: Atomic::new(0),
        }
    }

    /// A buffer was exposed to the device (under the queue lock).
    #[inline]
    pub(crate) fn added(&self) {
        bump(&self.added, 1);
    }

    /// The device was notified (decided under the queue lock).
    #[inline]
    pub(crate) fn kicked(&self) {
        bump(&self.kicks, 1);
    }

    /// The queue's interrupt handler ran (in that handler).
    #[inline]
    pub(crate) fn interrupted(&self) {
        bump(&self.interrupts, 1);
    }

    /// `n` used buffers were taken back (under the queue lock).
    #[inline]
    pub(crate) fn used(&self, n: u64) {
        bump(&self.used, n);
    }

    /// A drain (in the queue's interrupt handler) found nothing.
    #[inline]
    pub(crate) fn spurious(&self) {
        bump(&self.spurious, 1);
    }

    /// The device broke the ring rules.
    pub(crate) fn violation(&self) {
        self.violations.fetch_add(1, Relaxed);
    }
}

/// Readers, for a driver's own statistics (rvirtio_net's `ethtool -S`).
impl QueueStats {
    /// Notifications sent.
    pub fn kicks(&self) -> u64 {
        self.kicks.load(Relaxed)
    }

    /// Interrupts the queue's handler took.
    pub fn interrupts(&self) -> u64 {
        self.interrupts.load(Relaxed)
    }
}

impl fmt::Display for QueueStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "added {} kicks {} interrupts {} spurious {} used {} violations {}",
            self.added.load(Relaxed),
            self.kicks.load(Relaxed),
            self.interrupts.load(Relaxed),
            self.spurious.load(Relaxed),
            self.used.load(Relaxed),
            self.violations.load(Relaxed),
        )
    }
}
