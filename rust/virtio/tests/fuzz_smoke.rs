// SPDX-License-Identifier: GPL-2.0

//! Bounded-time driver for the `used_ring` fuzz target, runnable with
//! stable `cargo test` (cargo-fuzz needs nightly).
//!
//! - `RVIRTIO_FUZZ_SECS` (default 2): how long to feed random inputs.
//! - `RVIRTIO_FUZZ_SEED` (default: from the clock): PRNG seed; printed so a
//!   failure can be replayed.
//! - Every file in `fuzz/corpus/used_ring/` and `fuzz/artifacts/used_ring/`
//!   is replayed first, if present.

use rvirtio_core::host::fuzz::{
    used_ring,
    XorShift, //
};
use std::time::{
    Duration,
    Instant,
    SystemTime, //
};

fn replay_dir(dir: &str) -> usize {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        if let Ok(data) = std::fs::read(e.path()) {
            used_ring(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_used_ring_bounded() {
    let replayed = replay_dir("fuzz/corpus/used_ring") + replay_dir("fuzz/artifacts/used_ring");
    let secs: u64 = std::env::var("RVIRTIO_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let seed: u64 = std::env::var("RVIRTIO_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("fuzz_used_ring_bounded: seed {seed} ({secs} s), replayed {replayed} corpus files");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut rng = XorShift::new(seed);
    let mut buf = Vec::new();
    let mut runs = 0u64;
    while Instant::now() < deadline {
        // Mostly short scripts, sometimes long ones.
        let max = if rng.next_u64().is_multiple_of(8) {
            4096
        } else {
            256
        };
        let len = (rng.next_u64() % max) as usize;
        buf.resize(len, 0);
        rng.fill(&mut buf);
        used_ring(&buf);
        runs += 1;
    }
    eprintln!("fuzz_used_ring_bounded: {runs} inputs, no failure");
    assert!(runs > 0);
}

#[test]
fn fuzz_used_ring_fixed_seeds() {
    // Deterministic coverage independent of the clock.
    for seed in 1..=8u64 {
        rvirtio_core::host::fuzz::run_random(seed, 200, 512);
    }
}
