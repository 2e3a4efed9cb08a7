// SPDX-License-Identifier: GPL-2.0

//! The add paths of [`SplitQueue`]: one descriptor, a direct chain, an
//! indirect table, and publishing the head to the available ring.

use super::*;

impl<P: Platform, T> SplitQueue<P, T> {
    /// Adds the entry for `head` to the available ring and publishes it.
    #[inline(always)]
    pub(super) fn publish(&mut self, head: u16) {
        let idx = self.avail_idx;
        self.avail_idx = idx.wrapping_add(1);
        // ORDERING (1): the descriptors and the ring entry must be visible
        // to the device before the new index exposes them.
        let platform = &self.platform;
        self.ring.publish(idx, head, || platform.virt_wmb());
        // 64 bits: never wraps. (The buffers in flight, `avail_idx -
        // last_used`, cannot exceed the queue size: each holds at least one
        // descriptor.)
        self.num_added = self.num_added.wrapping_add(1);
    }

    /// Adds a buffer of one element (`flags` 0 or `VIRTQ_DESC_F_WRITE`):
    /// one descriptor, never indirect, never too long or too large.
    #[inline(always)]
    pub(super) fn add_one(
        &mut self,
        buf: &Buf,
        flags: u16,
        writable: u32,
        token: T,
    ) -> Result<(), AddError<T>> {
        if self.num_free == 0 {
            return Err(AddError {
                error: RingError::NoSpace,
                token,
            });
        }
        let head = self.free_head;
        let Some(d) = self.descs.get_mut(usize::from(head)) else {
            return Err(self.internal_add(token));
        };
        self.free_head = d.next;
        // `d.state` is `FREE`, as for the head of a one-descriptor buffer.
        d.limit = Desc::<T>::one_limit(writable);
        d.token = Some(token);
        self.num_free = self.num_free.wrapping_sub(1);
        let idx = self.avail_idx;
        self.avail_idx = idx.wrapping_add(1);
        // The descriptor, the ring entry and `avail.idx`, with ORDERING (1)
        // before the index as in `publish()`.
        let platform = &self.platform;
        self.ring
            .add_one(head, buf, flags, idx, || platform.virt_wmb());
        // 64 bits: never wraps (see `publish()`).
        self.num_added = self.num_added.wrapping_add(1);
        Ok(())
    }

    /// Adds a direct chain of `n` descriptors (`n <= num_free`).
    pub(super) fn add_direct(
        &mut self,
        out: &[Buf],
        inb: &[Buf],
        n: u16,
        writable: u32,
        token: T,
    ) -> Result<(), AddError<T>> {
        let head = self.free_head;
        let mut idx = head;
        let mut k: u16 = 0;
        for (segs, wflag) in [(out, 0u16), (inb, VIRTQ_DESC_F_WRITE)] {
            for buf in segs {
                let Some(d) = self.descs.get_mut(usize::from(idx)) else {
                    return Err(self.internal_add(token));
                };
                let next = d.next;
                // The head's state is set below.
                d.state = MEMBER;
                k = k.wrapping_add(1);
                let (flags, link) = if k == n {
                    (wflag, 0)
                } else {
                    (wflag | VIRTQ_DESC_F_NEXT, next)
                };
                self.ring.write_desc(idx, buf, flags, link);
                idx = next;
            }
        }
        // The chain's writable bytes go to its first member (`n >= 2`),
        // the head's shadow link.
        let first = self.descs.get(usize::from(head)).map(|d| d.next);
        let Some(m) = first.and_then(|f| self.descs.get_mut(usize::from(f))) else {
            return Err(self.internal_add(token));
        };
        m.limit = writable;
        let Some(d) = self.descs.get_mut(usize::from(head)) else {
            return Err(self.internal_add(token));
        };
        d.state = n;
        d.limit = 0;
        d.token = Some(token);
        // `idx` is now the shadow `next` of the chain's last descriptor:
        // the rest of the free list.
        self.free_head = idx;
        self.num_free = self.num_free.wrapping_sub(n);
        self.publish(head);
        Ok(())
    }

    /// Makes sure the next free descriptor (the head of the next buffer)
    /// keeps an indirect table able to hold `n` descriptors: the one it
    /// kept from an earlier indirect buffer, or a new one of
    /// `max_indirect` descriptors from the platform. `false`: none (the
    /// buffer then goes direct).
    pub(super) fn ready_table(&mut self, n: u16) -> bool {
        let need = usize::from(n).wrapping_mul(DESC_SIZE);
        let fits = |t: &P::IndirectTable| t.len() >= need && t.dma_addr() & 0xf == 0;
        let Some(slot) = self.tables.get_mut(usize::from(self.free_head)) else {
            return false;
        };
        if slot.as_ref().is_some_and(fits) {
            return true;
        }
        if let Some(t) = slot.take() {
            self.platform.free_indirect(t);
        }
        match self.platform.alloc_indirect(self.opts.max_indirect) {
            Some(t) if fits(&t) => {
                *slot = Some(t);
                true
            }
            Some(t) => {
                self.platform.free_indirect(t);
                false
            }
            None => false,
        }
    }

    /// Adds a buffer of `n` elements in the indirect table that
    /// [`Self::ready_table`] readied for the next free descriptor.
    pub(super) fn add_indirect(
        &mut self,
        out: &[Buf],
        inb: &[Buf],
        n: u16,
        writable: u32,
        token: T,
    ) -> Result<(), AddError<T>> {
        let head = self.free_head;
        let Some(Some(table)) = self.tables.get(usize::from(head)) else {
            return Err(self.internal_add(token));
        };
        let mut k: u16 = 0;
        for (segs, wflag) in [(out, 0u16), (inb, VIRTQ_DESC_F_WRITE)] {
            for buf in segs {
                let i = k;
                k = k.wrapping_add(1);
                let (flags, link) = if k == n {
                    (wflag, 0)
                } else {
                    (wflag | VIRTQ_DESC_F_NEXT, k)
                };
                write_desc(
                    table,
                    self.ring.swap(),
                    usize::from(i).wrapping_mul(DESC_SIZE),
                    buf,
                    flags,
                    link,
                );
            }
        }
        // CAST: `n <= 32768`, so `n * 16 <= 2^19` fits a `u32`.
        let table_len = u32::from(n).wrapping_mul(DESC_SIZE as u32);
        let desc = Buf::new(table.dma_addr(), table_len);
        let Some(d) = self.descs.get_mut(usize::from(head)) else {
            return Err(self.internal_add(token));
        };
        self.ring.write_desc(head, &desc, VIRTQ_DESC_F_INDIRECT, 0);
        self.free_head = d.next;
        // One descriptor of the main table (`d.state` is `FREE`, as for the
        // head of a one-descriptor buffer); the table stays with it.
        d.limit = Desc::<T>::one_limit(writable);
        d.token = Some(token);
        self.num_free = self.num_free.wrapping_sub(1);
        self.publish(head);
        Ok(())
    }
}
