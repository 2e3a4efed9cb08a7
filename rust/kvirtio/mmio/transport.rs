// SPDX-License-Identifier: GPL-2.0

//! The virtio-mmio transport on the kernel: the core's
//! [`MmioTransport`](crate::virtio::mmio::MmioTransport) over an
//! `ioremap()`ed register window ([`IoWindow`]).
//!
//! All the register logic (both versions, the checks of untrusted
//! values, the legacy PFN limit, the configuration byte order) is the
//! core's, host-tested in `rust/virtio/tests/mmio.rs` and tested in the
//! kernel against a fake window (KUnit suite `rvirtio_mmio`). This file
//! only gives it the kernel's register accessors.

use crate::{
    kext::mmio::IoWindow,
    virtio::{
        mmio::{self as vmmio, HeaderError, Registers},
        transport::TransportError,
    },
};
use kernel::prelude::*;

/// A virtio-mmio device's transport.
pub type MmioTransport = vmmio::MmioTransport<IoWindow>;

fn io_err(_: Error) -> TransportError {
    // The window checks bounds and alignment; that is the only way its
    // accessors fail.
    TransportError::OutOfRange
}

impl Registers for IoWindow {
    fn len(&self) -> usize {
        IoWindow::len(self)
    }

    fn read32(&self, off: usize) -> Result<u32, TransportError> {
        IoWindow::read32(self, off).map_err(io_err)
    }

    fn write32(&self, off: usize, value: u32) -> Result<(), TransportError> {
        IoWindow::write32(self, off, value).map_err(io_err)
    }

    fn read16(&self, off: usize) -> Result<u16, TransportError> {
        IoWindow::read16(self, off).map_err(io_err)
    }

    fn write16(&self, off: usize, value: u16) -> Result<(), TransportError> {
        IoWindow::write16(self, off, value).map_err(io_err)
    }

    fn read8(&self, off: usize) -> Result<u8, TransportError> {
        IoWindow::read8(self, off).map_err(io_err)
    }

    fn write8(&self, off: usize, value: u8) -> Result<(), TransportError> {
        IoWindow::write8(self, off, value).map_err(io_err)
    }

    fn delay(&self) {
        kernel::time::delay::fsleep(kernel::time::Delta::from_micros(100));
    }
}

impl vmmio::MmioTransport<IoWindow> {
    /// Stops the device's DMA without its cooperation: MMIO has no bus
    /// mastering switch, so it cannot; returns `false` (a device that did
    /// not reset may still use every buffer it holds).
    pub fn stop_dma(&self) -> bool {
        false
    }
}

/// Maps the window `[start, start + size)` for a peek at its header,
/// without claiming it: another driver (another rvirtio module, or the C
/// `virtio_mmio`) may own it.
pub fn peek_header(start: u64, size: u64) -> Result<vmmio::Header, HeaderError> {
    let len = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .min(vmmio::MIN_WINDOW);
    let window =
        IoWindow::peek(start, len).map_err(|_| HeaderError::Transport(TransportError::Io))?;
    vmmio::identify(&window)
}
