// SPDX-License-Identifier: GPL-2.0

//! A fake virtio device for KUnit suites: the device side of a split
//! virtqueue, written from the spec (virtio 1.4 §2.7) independently of
//! the driver side in `rust/virtio/split/`, working on the same
//! DMA-coherent memory the driver uses.
//!
//! It resolves bus addresses through the [`DeviceView`]s it is given (the
//! ring, the indirect arena, the test's buffer pool), bounds every walk by
//! the queue size, and reports malformed chains instead of trusting them.

use crate::kext::barrier;
use crate::kvirtio::platform::DeviceView;
use crate::virtio::queue::QueueConfig;
use kernel::prelude::*;

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const F_INDIRECT: u16 = 4;

/// One element of a chain, as the device found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    /// Bus address.
    pub addr: u64,
    /// Length.
    pub len: u32,
    /// Device-writable.
    pub write: bool,
}

/// A chain popped from the available ring.
pub struct Chain {
    /// Head descriptor index (the used-ring id).
    pub head: u16,
    /// The elements in order.
    pub segs: KVec<Seg>,
    /// Whether it came through an indirect table.
    pub indirect: bool,
}

/// The device side of one split virtqueue.
pub struct FakeDevice {
    mem: KVec<DeviceView>,
    cfg: QueueConfig,
    last_avail: u16,
    used_idx: u16,
}

impl FakeDevice {
    /// A device for the queue at `cfg`, able to reach the memory in `mem`.
    pub fn new(cfg: QueueConfig, mem: &[DeviceView]) -> Result<Self> {
        let mut v = KVec::with_capacity(mem.len(), GFP_KERNEL)?;
        for m in mem {
            v.push(*m, GFP_KERNEL)?;
        }
        Ok(Self {
            mem: v,
            cfg,
            last_avail: 0,
            used_idx: 0,
        })
    }

    fn find(&self, addr: u64, len: u64) -> Option<(DeviceView, usize)> {
        self.mem
            .iter()
            .find_map(|m| m.offset_of(addr, len).map(|off| (*m, off)))
    }

    fn r16(&self, addr: u64) -> u16 {
        self.find(addr, 2)
            .map_or(0, |(m, o)| u16::from_le(m.read_u16(o)))
    }

    fn w16(&self, addr: u64, v: u16) {
        if let Some((m, o)) = self.find(addr, 2) {
            m.write_u16(o, v.to_le());
        }
    }

    fn w32(&self, addr: u64, v: u32) {
        if let Some((m, o)) = self.find(addr, 4) {
            m.write_u32(o, v.to_le());
        }
    }

    fn desc(&self, table: u64, i: u16) -> Option<(u64, u32, u16, u16)> {
        let at = table.checked_add(u64::from(i) * 16)?;
        let (m, o) = self.find(at, 16)?;
        Some((
            u64::from_le(m.read_u64(o)),
            u32::from_le(m.read_u32(o + 8)),
            u16::from_le(m.read_u16(o + 12)),
            u16::from_le(m.read_u16(o + 14)),
        ))
    }

    fn size(&self) -> u16 {
        self.cfg.size
    }

    /// The driver's `avail->idx`.
    pub fn avail_idx(&self) -> u16 {
        self.r16(self.cfg.driver + 2)
    }

    /// The driver's `avail->flags`.
    pub fn avail_flags(&self) -> u16 {
        self.r16(self.cfg.driver)
    }

    /// The driver's `used_event` (after the available ring).
    pub fn used_event(&self) -> u16 {
        self.r16(self.cfg.driver + 4 + 2 * u64::from(self.size()))
    }

    /// Sets `avail_event` (after the used ring): "notify me when the
    /// available index passes `v`".
    pub fn set_avail_event(&self, v: u16) {
        self.w16(self.cfg.device + 4 + 8 * u64::from(self.size()), v);
    }

    /// Sets `used->flags`.
    pub fn set_used_flags(&self, v: u16) {
        self.w16(self.cfg.device, v);
    }

    /// Pops the next available chain. `Err` for a malformed chain.
    pub fn pop(&mut self) -> Result<Option<Chain>> {
        if self.avail_idx() == self.last_avail {
            return Ok(None);
        }
        // Read the ring entry only after the index (spec §2.7.13.3 seen
        // from the device: the driver published the entry first).
        barrier::virt_rmb();
        let size = self.size();
        let slot = self.last_avail.checked_rem(size).ok_or(EINVAL)?;
        let head = self.r16(self.cfg.driver + 4 + 2 * u64::from(slot));
        self.last_avail = self.last_avail.wrapping_add(1);
        if head >= size {
            return Err(EINVAL);
        }
        let mut segs = KVec::new();
        let mut indirect = false;
        let (mut table, mut limit, mut i) = (self.cfg.desc, size, head);
        let mut steps = 0u32;
        loop {
            steps += 1;
            if steps > u32::from(limit) + 1 {
                return Err(EINVAL);
            }
            let (addr, len, flags, next) = self.desc(table, i).ok_or(EFAULT)?;
            if flags & F_INDIRECT != 0 {
                // Only from the main table, alone (spec §2.7.5.3.2).
                if indirect || !segs.is_empty() || flags & F_NEXT != 0 || len % 16 != 0 || len == 0
                {
                    return Err(EINVAL);
                }
                indirect = true;
                table = addr;
                // CAST: `len / 16` fits: checked to be at most 16 * 2^16 below.
                limit = u16::try_from(len / 16).map_err(|_| EINVAL)?;
                i = 0;
                steps = 0;
                continue;
            }
            segs.push(
                Seg {
                    addr,
                    len,
                    write: flags & F_WRITE != 0,
                },
                GFP_KERNEL,
            )?;
            if flags & F_NEXT == 0 {
                break;
            }
            if next >= limit {
                return Err(EINVAL);
            }
            i = next;
        }
        Ok(Some(Chain {
            head,
            segs,
            indirect,
        }))
    }

    /// Fills the writable elements of `chain` with `byte`, up to `max`
    /// bytes; returns how many were written.
    pub fn fill(&self, chain: &Chain, byte: u8, max: u32) -> u32 {
        let mut done = 0u32;
        for s in chain.segs.iter().filter(|s| s.write) {
            let n = s.len.min(max.saturating_sub(done));
            if let Some((m, o)) = self.find(s.addr, u64::from(n)) {
                // CAST: a `u32` always fits `usize` here (64-bit).
                for k in 0..n as usize {
                    m.write_u8(o.saturating_add(k), byte);
                }
                done = done.saturating_add(n);
            }
            if done == max {
                break;
            }
        }
        done
    }

    /// Publishes a used element `(id, len)`: the entry, a write barrier,
    /// then the index.
    pub fn push_used(&mut self, id: u32, len: u32) {
        let slot = u64::from(self.used_idx.checked_rem(self.size()).unwrap_or(0));
        let e = self.cfg.device + 4 + 8 * slot;
        self.w32(e, id);
        self.w32(e + 4, len);
        barrier::virt_wmb();
        self.used_idx = self.used_idx.wrapping_add(1);
        self.w16(self.cfg.device + 2, self.used_idx);
    }

    /// Writes `used->idx` directly (for malicious-device tests).
    pub fn set_used_idx(&mut self, idx: u16) {
        self.used_idx = idx;
        self.w16(self.cfg.device + 2, idx);
    }
}
