// SPDX-License-Identifier: GPL-2.0

//! libFuzzer target: device-written ring memory (used index, used
//! elements, flags, avail_event) against the split ring driver side.
//! See `rvirtio_core::host::fuzz::used_ring` for the input format and the
//! invariants checked.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvirtio_core::host::fuzz::used_ring(data);
});
