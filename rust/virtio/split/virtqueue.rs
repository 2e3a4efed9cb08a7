// SPDX-License-Identifier: GPL-2.0

//! [`Virtqueue`] for [`SplitQueue`]: the driver-facing operations, on top
//! of the add and completion paths of the queue itself.

use super::*;

impl<P: Platform, T> Virtqueue for SplitQueue<P, T> {
    type Token = T;

    fn size(&self) -> u16 {
        self.layout.size()
    }

    fn num_free(&self) -> u16 {
        self.num_free
    }

    // Always inlined: a driver that adds from two paths (rvirtio_blk's
    // queue_rq through `Queue::add_kick`, and queue_rqs through
    // `Batch::add`) would otherwise get it as a call.
    #[inline(always)]
    fn add(&mut self, out: &[Buf], inb: &[Buf], token: T) -> Result<(), AddError<T>> {
        if let Err(error) = self.check_usable() {
            return Err(AddError { error, token });
        }
        match (out, inb) {
            ([buf], []) => return self.add_one(buf, 0, 0, token),
            ([], [buf]) => return self.add_one(buf, VIRTQ_DESC_F_WRITE, buf.len, token),
            _ => {}
        }
        let total = out.len().saturating_add(inb.len());
        if total == 0 {
            return Err(AddError {
                error: RingError::EmptyChain,
                token,
            });
        }
        let n = match u16::try_from(total) {
            Ok(n) if n <= self.layout.size() => n,
            _ => {
                return Err(AddError {
                    error: RingError::ChainTooLong,
                    token,
                })
            }
        };
        // At most 32768 elements of at most 2^32 - 1 bytes: no overflow.
        let readable: u64 = out
            .iter()
            .fold(0u64, |a, b| a.saturating_add(u64::from(b.len)));
        let writable: u64 = inb
            .iter()
            .fold(0u64, |a, b| a.saturating_add(u64::from(b.len)));
        if readable.saturating_add(writable) > MAX_CHAIN_BYTES {
            return Err(AddError {
                error: RingError::ChainTooLarge,
                token,
            });
        }
        // At most 2^32: the cap only turns 2^32 into 2^32 - 1 (see `Desc`).
        let writable = u32::try_from(writable).unwrap_or(u32::MAX);
        if self.num_free == 0 {
            return Err(AddError {
                error: RingError::NoSpace,
                token,
            });
        }
        // Like Linux: go indirect for any multi-element buffer when
        // negotiated, fall back to direct descriptors if no table.
        if self.opts.indirect && n > 1 && n <= self.opts.max_indirect && self.ready_table(n) {
            return self.add_indirect(out, inb, n, writable, token);
        }
        if self.num_free < n {
            return Err(AddError {
                error: RingError::NoSpace,
                token,
            });
        }
        self.add_direct(out, inb, n, writable, token)
    }

    fn prepare_kick(&mut self) -> Result<bool, RingError> {
        self.check_usable()?;
        // ORDERING (2): publish `avail.idx` before reading the device's
        // suppression state, or a notification can be lost.
        self.platform.virt_mb();
        let new = self.avail_idx;
        let added = self.num_added;
        self.num_added = 0;
        if added > u64::from(u16::MAX) {
            // The 16-bit window cannot represent this many; notifying
            // gratuitously is always allowed (spec §2.7.13.4).
            return Ok(true);
        }
        // CAST: `added <= u16::MAX` checked above.
        let old = new.wrapping_sub(added as u16);
        if self.opts.event_idx {
            let event = self.ring.avail_event();
            Ok(vring_need_event(event, new, old))
        } else {
            Ok(self.ring.used_flags() & VIRTQ_USED_F_NO_NOTIFY == 0)
        }
    }

    fn notification_data(&self) -> NotifyData {
        NotifyData {
            next_off: self.avail_idx & 0x7fff,
            next_wrap: self.avail_idx & 0x8000 != 0,
        }
    }

    fn more_used(&mut self) -> Result<bool, RingError> {
        // Entries known used imply a usable queue (see `used_seen`).
        Ok(self.used_seen != self.last_used || self.refresh()?)
    }

    #[inline]
    fn get_used(&mut self) -> Result<Option<Used<T>>, RingError> {
        loop {
            let last_used = self.last_used;
            // Entries before `used_seen` are known used, and the queue
            // usable (see `used_seen`); the barrier after the `used.idx`
            // load that showed them orders the element load (ORDERING (3)).
            if self.used_seen != last_used {
                let (id, len) = self.read_used_elem(last_used);
                if let Some(token) = self.complete_one(id, len) {
                    self.last_used = last_used.wrapping_add(1);
                    return Ok(Some(Used { token, len }));
                }
                return self.get_used_slow(id, len).into_result();
            }
            // Those are consumed: read `used.idx` again.
            match self.refresh_used() {
                Refresh::Found => {}
                Refresh::Empty => return Ok(None),
                Refresh::Fault => return Err(self.fault()),
            }
        }
    }

    #[inline]
    fn get_used_then<R>(&mut self, f: impl FnOnce(Result<Option<Used<T>>, RingError>) -> R) -> R {
        match self.take_known() {
            Some(u) => f(Ok(Some(u))),
            // Nothing changed: the out-of-line path, which calls `f` itself
            // (a tail call).
            None => self.get_used_cold(f),
        }
    }

    fn disable_cb(&mut self) {
        if self.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT != 0 {
            return;
        }
        self.set_cb(false);
        if self.opts.event_idx {
            // `avail.flags` must stay 0 with EVENT_IDX (spec §2.7.7.1). Move
            // the event as far away as possible: the device only notifies
            // once `used.idx` crosses it, 2^16 - 1 buffers from now.
            self.ring.set_used_event(self.last_used.wrapping_sub(1));
        }
    }

    fn enable_cb_prepare(&mut self) -> Result<u32, RingError> {
        self.check_usable()?;
        if self.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT != 0 {
            self.set_cb(true);
        }
        if self.opts.event_idx {
            self.ring.set_used_event(self.last_used);
        }
        Ok(u32::from(self.last_used))
    }

    fn poll(&mut self, opaque: u32) -> Result<bool, RingError> {
        self.check_usable()?;
        // ORDERING (4): the re-enable store must be visible before reading
        // `used.idx`, or a buffer used in between raises no notification
        // and is not seen here either.
        self.platform.virt_mb();
        let used_idx = self.read_used_idx()?;
        self.event_after_known(used_idx);
        // CAST: the opaque value is a `u16` index widened by
        // `enable_cb_prepare()`.
        Ok(used_idx != opaque as u16)
    }

    fn enable_cb_delayed(&mut self) -> Result<bool, RingError> {
        self.check_usable()?;
        if self.avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT != 0 {
            self.set_cb(true);
        }
        let bufs = if self.opts.event_idx {
            // 3/4 of the buffers in flight, as Linux does.
            let pending = u32::from(self.avail_idx.wrapping_sub(self.last_used));
            // CAST: `pending * 3 / 4 < pending <= u16::MAX`.
            let bufs = (pending.wrapping_mul(3) / 4) as u16;
            self.ring.set_used_event(self.last_used.wrapping_add(bufs));
            bufs
        } else {
            0
        };
        // ORDERING (4): as in `poll()`.
        self.platform.virt_mb();
        let used_idx = self.read_used_idx()?;
        let idle = used_idx.wrapping_sub(self.last_used) <= bufs;
        if !idle {
            // The driver takes the entries now; the delayed event would
            // be behind them (a quiet wait keeps it).
            self.event_after_known(used_idx);
        }
        Ok(idle)
    }

    fn detach_unused(&mut self) -> Option<T> {
        self.stop_with(STOP_DETACHED);
        while self.detach_cursor < self.layout.size() {
            let i = self.detach_cursor;
            if self
                .descs
                .get(usize::from(i))
                .is_some_and(|d| d.head_descs().is_some())
            {
                if let Ok(token) = self.release(i) {
                    // The buffer is no longer in flight.
                    self.last_used = self.last_used.wrapping_add(1);
                    self.used_seen = self.last_used;
                    return Some(token);
                }
            }
            self.detach_cursor = self.detach_cursor.wrapping_add(1);
        }
        // Every buffer is back: the device owns no table.
        self.free_tables();
        None
    }

    fn reinit(&mut self) -> Result<(), RingError> {
        if self.in_flight() != 0 || self.num_free != self.layout.size() {
            return Err(RingError::Busy);
        }
        let n = usize::from(self.layout.size());
        for (i, d) in self.descs.iter_mut().enumerate() {
            *d = Desc::free(initial_next(i, n));
        }
        self.free_tables();
        self.free_head = 0;
        self.avail_idx = self.opts.start_idx;
        self.last_used = self.opts.start_idx;
        self.used_seen = self.opts.start_idx;
        self.num_added = 0;
        self.avail_flags = 0;
        self.rearm = self.opts.event_idx;
        self.stop = 0;
        self.detach_cursor = 0;
        self.init_memory();
        Ok(())
    }

    fn is_broken(&self) -> bool {
        self.stop & STOP_BROKEN != 0
    }

    fn mark_broken(&mut self) {
        self.stop_with(STOP_BROKEN);
    }

    fn config(&self) -> QueueConfig {
        let base = self.ring.region().dma_addr();
        // CAST: offsets are below the region length, a `usize` that fits
        // a `u64` on every supported platform.
        let at = |off: usize| base.wrapping_add(off as u64);
        QueueConfig {
            size: self.layout.size(),
            desc: at(self.layout.desc_offset()),
            driver: at(self.layout.avail_offset()),
            device: at(self.layout.used_offset()),
            legacy_align: if self.opts.legacy {
                u32::try_from(self.layout.used_align()).unwrap_or(0)
            } else {
                0
            },
        }
    }
}
