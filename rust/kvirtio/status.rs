// SPDX-License-Identifier: GPL-2.0

//! The device status of a live device, for drivers: FAILED when the
//! device breaks the rules, a reset to stop a device that stopped
//! answering, and the health checks a timeout handler needs.
//!
//! Setting FAILED and the reset with its bounded wait are the core's
//! ([`set_failed`], [`reset_device`]); this is the driver's handle on
//! them.

use super::{errno, transport::DeviceTransport};
use crate::virtio::{
    init::{reset_device, set_failed, stop_device, Stopped},
    spec::Status,
    transport::Transport,
};
use kernel::{prelude::*, sync::Arc};

/// Status polls of a reset before giving up (with 100 µs sleeps between
/// them: about 100 ms or more).
pub(crate) const RESET_POLLS: u32 = 1000;

/// A driver's handle on the device status.
pub struct DeviceStatus {
    transport: Arc<DeviceTransport>,
}

impl DeviceStatus {
    pub(crate) fn new(transport: Arc<DeviceTransport>) -> Self {
        Self { transport }
    }

    /// Sets FAILED: the driver gave up on the device (spec §2.1).
    pub fn fail(&self) {
        set_failed(&*self.transport);
    }

    /// Resets the device and waits, bounded, for the reset to complete: it
    /// stops all DMA and interrupts. For drivers that must stop a device
    /// that stopped answering before completing its requests. May sleep.
    pub fn reset(&self) -> Result {
        reset_device(&*self.transport, RESET_POLLS).map_err(errno::init)
    }

    /// Stops the device before its buffers are taken back: a bounded
    /// reset, and if the device does not come out of it, the transport's
    /// DMA cut-off ([`stop_device`]). Only when the result
    /// [`may_reclaim`](Stopped::may_reclaim) may the driver take back and
    /// hand on the buffers the device holds. May sleep.
    pub fn stop(&self) -> Stopped {
        stop_device(&*self.transport, RESET_POLLS, || self.transport.stop_dma())
    }

    fn status(&self) -> Option<u8> {
        self.transport.read_status().ok().map(Status::bits)
    }

    /// Whether DRIVER_OK is set (a device that lost it, e.g. after bus
    /// mastering was switched off, no longer processes queues).
    pub fn is_live(&self) -> bool {
        self.status()
            .is_some_and(|s| s != 0xff && s & Status::DRIVER_OK.bits() != 0)
    }

    /// Whether the device asked to be reset, or was marked failed (or is
    /// gone: all-ones, or its transport revoked).
    pub fn is_broken(&self) -> bool {
        self.status().is_none_or(|s| {
            s & (Status::DEVICE_NEEDS_RESET.bits() | Status::FAILED.bits()) != 0 || s == 0xff
        })
    }
}
