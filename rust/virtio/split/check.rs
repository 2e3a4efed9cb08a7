// SPDX-License-Identifier: GPL-2.0

//! The consistency check of a split queue's bookkeeping, for tests,
//! fuzzing and debug assertions.

use super::*;

impl<P: Platform, T> SplitQueue<P, T> {
    /// Checks the driver bookkeeping for consistency (O(size)): the free
    /// list holds exactly the free descriptors, every in-flight chain has
    /// the recorded number of member descriptors, free plus used
    /// descriptors add up to the queue size, and a stopped queue knows no
    /// used entries. For tests, fuzzing and debug assertions.
    pub fn check_invariants(&self) -> bool {
        let size = usize::from(self.layout.size());
        let mut free = 0usize;
        let mut heads = 0usize;
        let mut members = 0usize;
        let mut chain_members = 0usize;
        for i in 0..size {
            let Some(d) = self.descs.get(i) else {
                return false;
            };
            // A head is a descriptor with a token; without one, a
            // descriptor is free or a chain member, nothing else.
            match d.head_descs() {
                // Counters are bounded by `size`: no wrap.
                None if d.state == FREE => free = free.wrapping_add(1),
                None if d.state == MEMBER => members = members.wrapping_add(1),
                None => return false,
                Some(n) => {
                    heads = heads.wrapping_add(1);
                    // A chain head has `limit` 0: the inline completion
                    // never takes it.
                    if n == 0 || usize::from(n) > size || (n > 1 && d.limit != 0) {
                        return false;
                    }
                    chain_members = chain_members.wrapping_add(usize::from(n.wrapping_sub(1)));
                    // Every link of the chain must be a member.
                    let mut cur = d.next;
                    for _ in 1..n {
                        if !matches!(self.descs.get(usize::from(cur)), Some(m) if m.state == MEMBER)
                        {
                            return false;
                        }
                        cur = match self.descs.get(usize::from(cur)) {
                            Some(m) => m.next,
                            None => return false,
                        };
                    }
                }
            }
        }
        if free != usize::from(self.num_free) || members != chain_members {
            return false;
        }
        if free.wrapping_add(members).wrapping_add(heads) != size
            || heads != usize::from(self.in_flight())
        {
            return false;
        }
        // The free list reaches `num_free` free descriptors.
        let mut cur = self.free_head;
        for _ in 0..self.num_free {
            cur = match self.descs.get(usize::from(cur)) {
                Some(d) if d.state == FREE && d.token.is_none() => d.next,
                _ => return false,
            };
        }
        // A stopped queue knows no used entries (`get_used()` takes those
        // without checking `stop`).
        if self.stop != 0 && self.used_seen != self.last_used {
            return false;
        }
        // The remembered `used.idx` covers only buffers in flight (outside
        // teardown, which moves `last_used` on its own).
        self.stop & STOP_DETACHED != 0
            || self.used_seen.wrapping_sub(self.last_used) <= self.in_flight()
    }
}
