// SPDX-License-Identifier: GPL-2.0

//! The one mapping of the core's errors to kernel errnos.
//!
//! A ring full of buffers is `ENOSPC`, a request the ring cannot express
//! is `EINVAL`, a device that broke the rules is `EIO`; transport failures
//! keep their meaning (`ETIMEDOUT`, `ENOENT` for a missing queue, ...).

use crate::virtio::{
    config::ConfigError, init::InitError, queue::RingError, transport::TransportError,
};
use kernel::prelude::*;

/// Maps a ring error to the error a driver's caller sees.
pub fn ring(e: RingError) -> Error {
    match e {
        RingError::NoSpace => ENOSPC,
        RingError::EmptyChain | RingError::ChainTooLong | RingError::ChainTooLarge => EINVAL,
        RingError::Busy => EBUSY,
        _ => EIO,
    }
}

/// Whether a ring error means the device broke the ring rules (as opposed
/// to the driver asking for something the ring cannot do right now).
pub fn is_violation(e: RingError) -> bool {
    !matches!(
        e,
        RingError::NoSpace
            | RingError::EmptyChain
            | RingError::ChainTooLong
            | RingError::ChainTooLarge
            | RingError::Busy
    )
}

/// Maps a transport error.
pub fn transport(e: TransportError) -> Error {
    match e {
        TransportError::NoQueue => ENOENT,
        TransportError::InvalidQueue | TransportError::OutOfRange => EINVAL,
        TransportError::NotSupported => ENOTSUPP,
        TransportError::Timeout => ETIMEDOUT,
        TransportError::Errno(e) => Error::from_errno(e),
        TransportError::Io => EIO,
    }
}

/// Maps an initialization error.
pub fn init(e: InitError) -> Error {
    match e {
        InitError::Transport(t) => transport(t),
        InitError::ResetTimeout => ETIMEDOUT,
        InitError::Negotiation(_) | InitError::FeaturesRejected | InitError::Addressing(_) => {
            ENODEV
        }
        InitError::ConfigUnstable => EAGAIN,
        _ => EIO,
    }
}

/// Maps a consistent-read error: a configuration that kept changing is
/// `EAGAIN`.
pub fn config(e: ConfigError) -> Error {
    match e {
        ConfigError::Transport(t) => transport(t),
        ConfigError::Unstable => EAGAIN,
    }
}
