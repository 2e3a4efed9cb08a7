// SPDX-License-Identifier: GPL-2.0

//! Host (userspace) support: a [`Platform`] over ordinary memory, and the
//! malicious-device fuzz harness.
//!
//! Only built with the `host` feature; never part of a kernel module.
//!
//! The barriers here are `core::sync::atomic::fence` calls. That is fine
//! for host tests, where the "device" is test code in the same process;
//! the kernel implementation uses the `virt_*mb()` C helpers instead.

use crate::platform::{
    AllocError,
    Barriers,
    DmaRegion,
    Platform, //
};
use core::sync::atomic::{
    fence,
    AtomicU8,
    Ordering, //
};
use std::{
    boxed::Box,
    sync::{
        Arc,
        Mutex, //
    },
    vec::Vec,
};

/// A flat simulated bus address space shared by driver and device code.
///
/// Bytes are atomics so that shared access is safe Rust; accesses are
/// byte-wise, which is enough for single-threaded tests and fuzzing.
pub struct HostMemory {
    base: u64,
    bytes: Box<[AtomicU8]>,
}

impl HostMemory {
    /// Zeroed memory of `len` bytes whose first byte has bus address
    /// `base`.
    pub fn new(base: u64, len: usize) -> Arc<Self> {
        let bytes = (0..len)
            .map(|_| AtomicU8::new(0))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Arc::new(Self { base, bytes })
    }

    /// Bus address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Returns `true` if the memory is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Reads `N` bytes at memory offset `off` (zeros if out of range).
    pub fn read<const N: usize>(&self, off: usize) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            if let Some(a) = off.checked_add(i).and_then(|o| self.bytes.get(o)) {
                *b = a.load(Ordering::Relaxed);
            }
        }
        out
    }

    /// Writes bytes at memory offset `off` (dropped if out of range).
    pub fn write(&self, off: usize, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            if let Some(a) = off.checked_add(i).and_then(|o| self.bytes.get(o)) {
                a.store(*b, Ordering::Relaxed);
            }
        }
    }
}

/// A region of [`HostMemory`].
#[derive(Clone)]
pub struct HostRegion {
    mem: Arc<HostMemory>,
    offset: usize,
    len: usize,
}

impl HostRegion {
    /// The region `offset..offset + len` of `mem`.
    pub fn new(mem: Arc<HostMemory>, offset: usize, len: usize) -> Self {
        Self { mem, offset, len }
    }

    /// Offset of the region in its memory.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The memory.
    pub fn memory(&self) -> &Arc<HostMemory> {
        &self.mem
    }

    fn at(&self, off: usize, width: usize) -> Option<usize> {
        let end = off.checked_add(width)?;
        if end > self.len {
            return None;
        }
        self.offset.checked_add(off)
    }

    /// Reads a `u64` in CPU byte order.
    pub fn read_u64(&self, offset: usize) -> u64 {
        self.at(offset, 8)
            .map(|o| u64::from_ne_bytes(self.mem.read(o)))
            .unwrap_or(0)
    }

    /// Reads a `u8`.
    pub fn read_u8(&self, offset: usize) -> u8 {
        self.at(offset, 1)
            .map(|o| self.mem.read::<1>(o)[0])
            .unwrap_or(0)
    }
}

impl DmaRegion for HostRegion {
    fn len(&self) -> usize {
        self.len
    }

    fn dma_addr(&self) -> u64 {
        self.mem.base.wrapping_add(self.offset as u64)
    }

    fn read_u16(&self, offset: usize) -> u16 {
        self.at(offset, 2)
            .map(|o| u16::from_ne_bytes(self.mem.read(o)))
            .unwrap_or(0)
    }

    fn read_u32(&self, offset: usize) -> u32 {
        self.at(offset, 4)
            .map(|o| u32::from_ne_bytes(self.mem.read(o)))
            .unwrap_or(0)
    }

    fn write_u16(&self, offset: usize, value: u16) {
        if let Some(o) = self.at(offset, 2) {
            self.mem.write(o, &value.to_ne_bytes());
        }
    }

    fn write_u32(&self, offset: usize, value: u32) {
        if let Some(o) = self.at(offset, 4) {
            self.mem.write(o, &value.to_ne_bytes());
        }
    }

    fn write_u64(&self, offset: usize, value: u64) {
        if let Some(o) = self.at(offset, 8) {
            self.mem.write(o, &value.to_ne_bytes());
        }
    }
}

/// Statistics of a [`HostPlatform`], shared with test code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Indirect tables currently allocated.
    pub indirect_live: usize,
    /// Indirect tables allocated in total.
    pub indirect_allocs: usize,
    /// `virt_wmb()` calls.
    pub wmb: usize,
    /// `virt_rmb()` calls.
    pub rmb: usize,
    /// `virt_mb()` calls.
    pub mb: usize,
}

/// A [`Platform`] over [`HostMemory`].
///
/// Indirect tables come from a pool of fixed-size slots in the same
/// memory. `Clone` shares the pool and the statistics.
#[derive(Clone)]
pub struct HostPlatform {
    mem: Arc<HostMemory>,
    pool_offset: usize,
    slot_descs: u16,
    free_slots: Arc<Mutex<Vec<usize>>>,
    stats: Arc<Mutex<HostStats>>,
    fail_indirect: bool,
}

impl HostPlatform {
    /// A platform whose indirect pool has `slots` tables of `slot_descs`
    /// descriptors at memory offset `pool_offset` (16-byte aligned).
    pub fn new(mem: Arc<HostMemory>, pool_offset: usize, slots: usize, slot_descs: u16) -> Self {
        let free = (0..slots).rev().collect();
        Self {
            mem,
            pool_offset,
            slot_descs,
            free_slots: Arc::new(Mutex::new(free)),
            stats: Arc::new(Mutex::new(HostStats::default())),
            fail_indirect: false,
        }
    }

    /// Makes every indirect allocation fail (tests the direct fallback).
    pub fn set_fail_indirect(&mut self, fail: bool) {
        self.fail_indirect = fail;
    }

    /// Current statistics.
    pub fn stats(&self) -> HostStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    fn bump(&self, f: impl FnOnce(&mut HostStats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }
}

impl Barriers for HostPlatform {
    fn virt_wmb(&self) {
        // Test only: a Rust fence stands in for the kernel's virt_wmb().
        fence(Ordering::Release);
        self.bump(|s| s.wmb += 1);
    }

    fn virt_rmb(&self) {
        // Test only: a Rust fence stands in for the kernel's virt_rmb().
        fence(Ordering::Acquire);
        self.bump(|s| s.rmb += 1);
    }

    fn virt_mb(&self) {
        // Test only: a Rust fence stands in for the kernel's virt_mb().
        fence(Ordering::SeqCst);
        self.bump(|s| s.mb += 1);
    }
}

impl Platform for HostPlatform {
    type Region = HostRegion;
    type IndirectTable = HostRegion;
    type Slice<T> = Vec<T>;

    fn alloc_slice<T, F: FnMut(usize) -> T>(
        &mut self,
        len: usize,
        init: F,
    ) -> Result<Vec<T>, AllocError> {
        let mut v = Vec::new();
        v.try_reserve_exact(len).map_err(|_| AllocError)?;
        v.extend((0..len).map(init));
        Ok(v)
    }

    fn alloc_indirect(&mut self, descs: u16) -> Option<HostRegion> {
        if self.fail_indirect || descs > self.slot_descs {
            return None;
        }
        let slot = self.free_slots.lock().ok()?.pop()?;
        let bytes = usize::from(self.slot_descs) * 16;
        self.bump(|s| {
            s.indirect_live += 1;
            s.indirect_allocs += 1;
        });
        Some(HostRegion::new(
            self.mem.clone(),
            self.pool_offset + slot * bytes,
            usize::from(descs) * 16,
        ))
    }

    fn free_indirect(&mut self, table: HostRegion) {
        let bytes = usize::from(self.slot_descs) * 16;
        let slot = (table.offset - self.pool_offset) / bytes;
        if let Ok(mut f) = self.free_slots.lock() {
            assert!(!f.contains(&slot), "indirect table freed twice");
            f.push(slot);
        }
        self.bump(|s| s.indirect_live -= 1);
    }
}

pub mod fuzz;
