// SPDX-License-Identifier: GPL-2.0

//! Consistent reads of the device configuration space.
//!
//! Reads wider than 32 bits, and reads of several fields, are not atomic
//! (spec §2.5.1). [`read_consistent`] wraps them in the generation loop of
//! the spec, with a bound on the number of tries so a device that keeps
//! changing its configuration cannot stall the driver. Interfaces without
//! a generation counter (legacy) read twice and compare instead, as spec
//! §2.5.4 recommends.
//!
//! Ref: virtio v1.4 §2.5 "Device Configuration Space".

use super::transport::{
    Transport,
    TransportError, //
};

/// Default bound on the tries of [`read_consistent`].
pub const DEFAULT_CONFIG_RETRIES: u32 = 64;

/// Why a consistent configuration read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The transport failed.
    Transport(TransportError),
    /// The configuration kept changing for every allowed try.
    Unstable,
}

impl From<TransportError> for ConfigError {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}

/// Read-only access to the device configuration space.
///
/// Handed to the closure of [`read_consistent`]; it cannot write, so it is
/// also what a driver may use during feature negotiation, when writing
/// the configuration is forbidden (spec §3.1.1).
pub struct ConfigReader<'a, T: Transport + ?Sized> {
    transport: &'a T,
}

impl<'a, T: Transport + ?Sized> ConfigReader<'a, T> {
    /// Wraps a transport.
    pub fn new(transport: &'a T) -> Self {
        Self { transport }
    }

    /// Reads a `u8` at `offset`.
    pub fn read_u8(&mut self, offset: usize) -> Result<u8, TransportError> {
        self.transport.read_config_u8(offset)
    }

    /// Reads a `u16` at `offset` (interface byte order, converted).
    pub fn read_u16(&mut self, offset: usize) -> Result<u16, TransportError> {
        self.transport.read_config_u16(offset)
    }

    /// Reads a `u32` at `offset` (interface byte order, converted).
    pub fn read_u32(&mut self, offset: usize) -> Result<u32, TransportError> {
        self.transport.read_config_u32(offset)
    }

    /// Reads a `u64` at `offset` (interface byte order, converted).
    pub fn read_u64(&mut self, offset: usize) -> Result<u64, TransportError> {
        self.transport.read_config_u64(offset)
    }

    /// Reads `buf.len()` bytes starting at `offset`, one byte at a time
    /// (e.g. a MAC address or a name string).
    pub fn read_bytes(&mut self, offset: usize, buf: &mut [u8]) -> Result<(), TransportError> {
        let mut off = offset;
        for b in buf.iter_mut() {
            *b = self.transport.read_config_u8(off)?;
            off = off.checked_add(1).ok_or(TransportError::OutOfRange)?;
        }
        Ok(())
    }
}

/// Runs `read` until it observes a consistent configuration, at most
/// `max_tries` times (at least once).
///
/// With a generation counter: read the generation, run `read`, read the
/// generation again, and accept the result if both agree (spec §2.5.1).
/// Without one (legacy): run `read` twice and accept when two consecutive
/// results are equal.
///
/// Returns [`ConfigError::Unstable`] if no try succeeded.
pub fn read_consistent<T, R, F>(
    transport: &T,
    max_tries: u32,
    mut read: F,
) -> Result<R, ConfigError>
where
    T: Transport + ?Sized,
    R: PartialEq,
    F: FnMut(&mut ConfigReader<'_, T>) -> Result<R, TransportError>,
{
    let tries = core::cmp::max(max_tries, 1);
    if transport.kind().has_config_generation() {
        for _ in 0..tries {
            let before = transport.config_generation()?;
            let value = read(&mut ConfigReader::new(transport))?;
            let after = transport.config_generation()?;
            if before == after {
                return Ok(value);
            }
        }
    } else {
        let mut prev = read(&mut ConfigReader::new(transport))?;
        for _ in 0..tries {
            let value = read(&mut ConfigReader::new(transport))?;
            if value == prev {
                return Ok(value);
            }
            prev = value;
        }
    }
    Err(ConfigError::Unstable)
}
