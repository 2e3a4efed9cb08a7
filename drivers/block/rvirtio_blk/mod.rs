// SPDX-License-Identifier: GPL-2.0

//! The device-independent logic of rvirtio_blk: what the driver computes
//! from status bytes, operations, GET_ID answers and the configuration
//! space, without touching a device.
//!
//! It is compiled into two crates with `#[path]`: the driver
//! (`rvirtio_blk_main.rs`) and its test module `rvirtio_blk_kunit.ko`
//! (`tests/rvirtio_blk_kunit_main.rs`, which holds the KUnit suite). Both
//! crate roots also include `rust/virtio`, `rust/kext` and `rust/kext/blk.rs`
//! as `virtio`, `kext` and `blk`, which these files use through `crate::`.
//! One facet per file; nothing here registers, allocates or binds.

pub mod completion;
pub mod id;
pub mod limits;
pub mod ranges;
pub mod request;
