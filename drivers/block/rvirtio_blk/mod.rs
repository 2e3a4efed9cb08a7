// SPDX-License-Identifier: GPL-2.0

//! The parts of rvirtio_blk that its KUnit suite tests in the kernel: block
//! statuses and the protocol-violation count, and disk names with their
//! IDA. The kernel-independent protocol logic (request types, discard
//! ranges, GET_ID, limits, completions, name formatting) is in the core,
//! `rust/virtio/blk.rs`, tested on the host.
//!
//! It is compiled into two crates with `#[path]`: the driver
//! (`rvirtio_blk_main.rs`) and its test module `rvirtio_blk_kunit.ko`
//! (`tests/rvirtio_blk_kunit_main.rs`, which holds the KUnit suite). Both
//! crate roots also include `rust/virtio`, `rust/kext` and `rust/kext/blk/`
//! as `virtio`, `kext` and `blk`, which these files use through `crate::`.
//! One facet per file; nothing here registers or binds.

pub mod completion;
pub mod names;
