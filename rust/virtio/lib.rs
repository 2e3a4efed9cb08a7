// SPDX-License-Identifier: GPL-2.0

//! Host build of the rvirtio core (`rvirtio-core`).
//!
//! The kernel modules include `mod.rs` directly; this crate root only
//! wraps the same module tree so it can be tested, fuzzed and benchmarked
//! on the host. With the `host` feature it also provides [`host`]: a
//! `std`-based [`platform::Platform`] and the fuzz harness.

#![no_std]

#[cfg(feature = "host")]
extern crate std;

#[path = "mod.rs"]
mod inner;

pub use inner::*;

#[cfg(feature = "host")]
pub mod host;
