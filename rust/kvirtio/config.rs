// SPDX-License-Identifier: GPL-2.0

//! The device configuration of a live device, for drivers that read it
//! after probe (on a configuration change) or write a driver-writable
//! field. Reads are consistent: the core's [`read_consistent`] retries
//! across generation changes (legacy: until two reads agree), bounded.

use super::transport::DeviceTransport;
use crate::virtio::{
    config::{read_consistent, ConfigReader, DEFAULT_CONFIG_RETRIES},
    transport::{Transport, TransportError},
};
use kernel::{prelude::*, sync::Arc};

/// A driver's handle on the device configuration. After the device is
/// removed every access fails with `EIO`.
pub struct DeviceConfig {
    transport: Arc<DeviceTransport>,
}

impl DeviceConfig {
    pub(crate) fn new(transport: Arc<DeviceTransport>) -> Self {
        Self { transport }
    }

    /// Reads several fields consistently: `read` runs until the
    /// configuration did not change under it (bounded; `EAGAIN` for a
    /// device that keeps changing it).
    pub fn read<R, F>(&self, read: F) -> Result<R>
    where
        R: PartialEq,
        F: FnMut(&mut ConfigReader<'_, DeviceTransport>) -> Result<R, TransportError>,
    {
        read_consistent(&*self.transport, DEFAULT_CONFIG_RETRIES, read)
            .map_err(super::errno::config)
    }

    /// Reads a 64-bit field at `offset`.
    pub fn read_u64(&self, offset: usize) -> Result<u64> {
        self.read(|r| r.read_u64(offset))
    }

    /// Reads a 32-bit field at `offset`.
    pub fn read_u32(&self, offset: usize) -> Result<u32> {
        self.read(|r| r.read_u32(offset))
    }

    /// Reads a 16-bit field at `offset`.
    pub fn read_u16(&self, offset: usize) -> Result<u16> {
        self.read(|r| r.read_u16(offset))
    }

    /// Reads a byte at `offset`.
    pub fn read_u8(&self, offset: usize) -> Result<u8> {
        self.read(|r| r.read_u8(offset))
    }

    /// Writes a byte at `offset` (a driver-writable field, such as
    /// virtio-blk's `writeback`).
    pub fn write_u8(&self, offset: usize, value: u8) -> Result {
        self.transport
            .write_config_u8(offset, value)
            .map_err(super::errno::transport)
    }

    /// Writes a 32-bit field at `offset` (converted to the interface's
    /// byte order), such as virtio-console's `emerg_wr`. Takes no lock and
    /// does not sleep: usable from an oops or a panic.
    pub fn write_u32(&self, offset: usize, value: u32) -> Result {
        self.transport
            .write_config_u32(offset, value)
            .map_err(super::errno::transport)
    }
}
