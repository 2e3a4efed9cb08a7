// SPDX-License-Identifier: GPL-2.0

//! Malicious-device fuzz harness for the split ring.
//!
//! [`used_ring`] interprets its input as a script: queue parameters, then
//! a sequence of driver operations and device writes to the ring memory
//! the device controls (`used.idx`, used elements, `used.flags`,
//! `avail_event`). A model device follows the protocol unless the input
//! tells it to corrupt an id, a length or the index. After every step the
//! harness checks:
//!
//! - no panic (the harness itself only panics on a broken invariant);
//! - [`SplitQueue::check_invariants`]: free + in-use descriptors == size;
//! - every token comes back at most once, only if it was added, with a
//!   used length within the buffer's writable bytes;
//! - a protocol violation is reported as one, and the queue stays broken
//!   (every later operation fails with [`RingError::Broken`]);
//! - teardown ([`Virtqueue::detach_unused`]) returns exactly the tokens
//!   still outstanding and releases every indirect table.
//!
//! The same function backs the cargo-fuzz target
//! (`fuzz/fuzz_targets/used_ring.rs`) and the bounded-time
//! `tests/fuzz_smoke.rs` driver.

use super::{
    HostMemory,
    HostPlatform,
    HostRegion, //
};
use crate::{
    layout::SplitLayout,
    platform::DmaRegion,
    queue::{
        Buf,
        LenPolicy,
        QueueOptions,
        RingError,
        Virtqueue, //
    },
    split::SplitQueue,
};
use std::{collections::BTreeMap, vec::Vec};

/// Byte source that yields zeros once the input is exhausted.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// The device's view: it reads the avail ring and writes the used ring.
struct Device {
    ring: HostRegion,
    layout: SplitLayout,
    next_avail: u16,
    next_used: u16,
    /// Heads read from the avail ring, not yet completed.
    taken: Vec<u16>,
}

impl Device {
    fn avail_idx(&self) -> u16 {
        u16::from_le(self.ring.read_u16(self.layout.avail_idx()))
    }

    /// Takes the next available head, if any.
    fn pop(&mut self) -> Option<u16> {
        if self.next_avail == self.avail_idx() {
            return None;
        }
        let slot = self.next_avail & (self.layout.size() - 1);
        let head = u16::from_le(self.ring.read_u16(self.layout.avail_ring(slot)));
        self.next_avail = self.next_avail.wrapping_add(1);
        self.taken.push(head);
        Some(head)
    }

    /// Writes a used element and publishes it.
    fn push_used(&mut self, id: u32, len: u32) {
        let slot = self.next_used & (self.layout.size() - 1);
        self.ring
            .write_u32(self.layout.used_elem_id(slot), id.to_le());
        self.ring
            .write_u32(self.layout.used_elem_len(slot), len.to_le());
        self.next_used = self.next_used.wrapping_add(1);
        self.ring
            .write_u16(self.layout.used_idx(), self.next_used.to_le());
    }

    /// Device-readable length of the chain at `head` as the device would
    /// see it (for indirect chains, the table is read too).
    fn writable_len(&self, head: u16) -> u32 {
        let mut total: u32 = 0;
        let mut table: (HostRegion, u16, bool) = (self.ring.clone(), head, false);
        // Bounded walk: at most one table switch and `size` (or 64) steps.
        let mut steps = 0usize;
        let mut idx = head;
        loop {
            steps += 1;
            if steps > usize::from(self.layout.size()) + 64 {
                break;
            }
            let base = usize::from(idx) * 16;
            let addr = table.0.read_u64(base);
            let len = u32::from_le(table.0.read_u32(base + 8));
            let flags = u16::from_le(table.0.read_u16(base + 12));
            let next = u16::from_le(table.0.read_u16(base + 14));
            if flags & crate::spec::VIRTQ_DESC_F_INDIRECT != 0 && !table.2 {
                let mem = table.0.memory().clone();
                let off = addr.wrapping_sub(mem.base()) as usize;
                table = (HostRegion::new(mem, off, len as usize), 0, true);
                idx = 0;
                continue;
            }
            if flags & crate::spec::VIRTQ_DESC_F_WRITE != 0 {
                total = total.saturating_add(len);
            }
            if flags & crate::spec::VIRTQ_DESC_F_NEXT == 0 {
                break;
            }
            idx = next;
            let _ = table.1;
        }
        total
    }
}

/// What the harness knows about an outstanding buffer.
#[derive(Clone, Copy)]
struct Expect {
    writable: u64,
}

const MAX_OPS: usize = 2048;
const POOL_DESCS: u16 = 8;

/// Runs one fuzz input. Panics only if the queue misbehaves.
pub fn used_ring(data: &[u8]) {
    let mut inp = Input { data, pos: 0 };
    let size: u16 = 1 << (inp.u8() % 9);
    let flags = inp.u8();
    let event_idx = flags & 1 != 0;
    let indirect = flags & 2 != 0;
    let clamp = flags & 4 != 0;
    let legacy = flags & 8 != 0;
    let start_idx = if flags & 16 != 0 { inp.u16() } else { 0 };

    let layout = match if legacy {
        SplitLayout::legacy(size, 4096)
    } else {
        SplitLayout::modern(size)
    } {
        Ok(l) => l,
        Err(_) => return,
    };
    let ring_len = layout.total_size();
    let pool_off = ring_len.next_multiple_of(4096);
    let pool_len = usize::from(size) * usize::from(POOL_DESCS) * 16;
    let mem = HostMemory::new(0x1_0000_0000, pool_off + pool_len);
    let ring = HostRegion::new(mem.clone(), 0, ring_len);
    let platform = HostPlatform::new(mem.clone(), pool_off, usize::from(size), POOL_DESCS);
    let opts = QueueOptions {
        event_idx,
        indirect,
        max_indirect: POOL_DESCS,
        legacy: false,
        len_policy: if clamp {
            LenPolicy::Clamp
        } else {
            LenPolicy::Reject
        },
        start_idx,
    };
    let mut q: SplitQueue<HostPlatform, u32> =
        match SplitQueue::new(platform.clone(), ring.clone(), layout, opts) {
            Ok(q) => q,
            Err(e) => panic!("queue creation failed: {e:?}"),
        };
    let mut dev = Device {
        ring,
        layout,
        next_avail: start_idx,
        next_used: start_idx,
        taken: Vec::new(),
    };
    let mut outstanding: BTreeMap<u32, Expect> = BTreeMap::new();
    let mut next_token: u32 = 0;
    let mut broken = false;

    let check_broken = |r: Result<(), RingError>, broken: &mut bool| match r {
        Err(e) if e.is_violation() => {
            *broken = true;
        }
        Err(RingError::Broken) => assert!(*broken, "Broken without a prior violation"),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(()) => assert!(!*broken, "operation succeeded on a broken queue"),
    };

    let mut ops = 0;
    while !inp.done() && ops < MAX_OPS {
        ops += 1;
        match inp.u8() % 12 {
            // Driver adds a buffer.
            0 | 1 => {
                let shape = inp.u8();
                let nout = usize::from(shape & 3);
                let nin = usize::from((shape >> 2) & 3);
                let mut out = Vec::new();
                let mut inb = Vec::new();
                for _ in 0..nout {
                    out.push(Buf::new(
                        0x8000_0000 + u64::from(inp.u16()),
                        u32::from(inp.u8()),
                    ));
                }
                for _ in 0..nin {
                    inb.push(Buf::new(
                        0x9000_0000 + u64::from(inp.u16()),
                        u32::from(inp.u8()) + 1,
                    ));
                }
                let token = next_token;
                next_token += 1;
                let writable: u64 = inb.iter().map(|b| u64::from(b.len)).sum();
                let free_before = q.num_free();
                match q.add(&out, &inb, token) {
                    Ok(()) => {
                        assert!(!broken, "add succeeded on a broken queue");
                        assert!(nout + nin > 0);
                        assert!(q.num_free() < free_before);
                        outstanding.insert(token, Expect { writable });
                    }
                    Err(e) => {
                        assert_eq!(e.token, token, "token not given back");
                        match e.error {
                            RingError::EmptyChain => assert_eq!(nout + nin, 0),
                            RingError::NoSpace => {
                                assert!(usize::from(free_before) < nout + nin || free_before == 0)
                            }
                            RingError::ChainTooLong => assert!(nout + nin > usize::from(size)),
                            RingError::Broken => assert!(broken),
                            other => panic!("unexpected add error {other:?}"),
                        }
                        assert_eq!(q.num_free(), free_before);
                    }
                }
            }
            // Device completes the next available buffer, maybe corrupted.
            2 | 3 => {
                let mode = inp.u8();
                let head = match dev.taken.pop().or_else(|| dev.pop()) {
                    Some(h) => h,
                    None => continue,
                };
                let good_len = dev.writable_len(head);
                let id = if mode & 0x10 != 0 {
                    inp.u32()
                } else {
                    u32::from(head)
                };
                let len = match mode & 0x3 {
                    0 => good_len,
                    1 => good_len / 2,
                    2 => good_len.wrapping_add(1 + u32::from(inp.u8())),
                    _ => inp.u32(),
                };
                dev.push_used(id, len);
            }
            // Device takes several buffers without completing them.
            4 => {
                for _ in 0..(inp.u8() % 4) {
                    if dev.pop().is_none() {
                        break;
                    }
                }
            }
            // Device writes raw ring fields.
            5 => {
                let v = inp.u16();
                match inp.u8() % 4 {
                    0 => {
                        dev.ring.write_u16(layout.used_idx(), v.to_le());
                        dev.next_used = v;
                    }
                    1 => dev.ring.write_u16(layout.used_flags(), v.to_le()),
                    2 => dev.ring.write_u16(layout.avail_event(), v.to_le()),
                    _ => {
                        let slot = inp.u16() & (size - 1);
                        dev.ring.write_u32(layout.used_elem_id(slot), inp.u32());
                        dev.ring.write_u32(layout.used_elem_len(slot), inp.u32());
                    }
                }
            }
            // Driver reaps used buffers.
            6 | 7 => {
                // Bit 3: through `get_used_then()`, which must behave as
                // `get_used()` does.
                let how = inp.u8();
                for _ in 0..=(how % 8) {
                    let r = if how & 8 != 0 {
                        q.get_used_then(|r| r)
                    } else {
                        q.get_used()
                    };
                    match r {
                        Ok(Some(u)) => {
                            assert!(!broken);
                            let exp = match outstanding.remove(&u.token) {
                                Some(e) => e,
                                None => panic!("token {} returned but not outstanding", u.token),
                            };
                            assert!(u64::from(u.len) <= exp.writable, "len above writable");
                        }
                        Ok(None) => {
                            assert!(!broken);
                            break;
                        }
                        Err(e) => {
                            check_broken(Err(e), &mut broken);
                            break;
                        }
                    }
                }
            }
            8 => {
                let r = q.more_used().map(|_| ());
                check_broken(r, &mut broken);
            }
            9 => {
                let r = q.prepare_kick().map(|_| ());
                check_broken(r, &mut broken);
                let _ = q.notification_data();
            }
            10 => match inp.u8() % 4 {
                0 => q.disable_cb(),
                1 => check_broken(q.enable_cb().map(|_| ()), &mut broken),
                2 => check_broken(q.enable_cb_delayed().map(|_| ()), &mut broken),
                _ => {
                    let r = q.enable_cb_prepare().and_then(|o| q.poll(o)).map(|_| ());
                    check_broken(r, &mut broken);
                }
            },
            // Device reset: tear down and reuse the queue.
            _ => {
                if !inp.u8().is_multiple_of(4) {
                    continue;
                }
                teardown(&mut q, &mut outstanding);
                assert_eq!(platform.stats().indirect_live, 0, "indirect table leaked");
                assert_eq!(q.reinit(), Ok(()));
                assert!(!q.is_broken());
                broken = false;
                dev.next_avail = start_idx;
                dev.next_used = start_idx;
                dev.taken.clear();
            }
        }
        assert!(q.check_invariants(), "queue invariants broken");
        assert_eq!(q.is_broken(), broken, "broken state mismatch");
        if broken {
            let e = q.add(&[Buf::new(0, 1)], &[], u32::MAX);
            assert!(matches!(e, Err(ref e) if e.error == RingError::Broken));
            assert_eq!(q.get_used().err(), Some(RingError::Broken));
        }
    }
    teardown(&mut q, &mut outstanding);
    assert_eq!(platform.stats().indirect_live, 0, "indirect table leaked");
    assert!(q.check_invariants());
    assert_eq!(q.reinit(), Ok(()));
    assert_eq!(q.num_free(), size);
}

/// Detaches everything and checks each outstanding token comes back once.
fn teardown(q: &mut SplitQueue<HostPlatform, u32>, outstanding: &mut BTreeMap<u32, Expect>) {
    let mut n = 0usize;
    while let Some(t) = q.detach_unused() {
        n += 1;
        assert!(
            n <= usize::from(q.size()),
            "detached more buffers than the queue holds"
        );
        assert!(
            outstanding.remove(&t).is_some(),
            "detached token {t} was not outstanding"
        );
    }
    assert!(
        outstanding.is_empty(),
        "tokens lost: {:?}",
        outstanding.keys().collect::<Vec<_>>()
    );
    assert_eq!(q.num_free(), q.size());
    assert_eq!(q.in_flight(), 0);
}

/// A small deterministic PRNG (xorshift64*), for bounded fuzz runs without
/// extra crates.
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (0 is replaced by a constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Runs [`used_ring`] on `iterations` random inputs from `seed`, with
/// lengths up to `max_len`. Returns the number of inputs run.
pub fn run_random(seed: u64, iterations: usize, max_len: usize) -> usize {
    let mut rng = XorShift::new(seed);
    let mut buf = Vec::new();
    for _ in 0..iterations {
        let len = (rng.next_u64() as usize) % (max_len + 1);
        buf.resize(len, 0);
        rng.fill(&mut buf);
        used_ring(&buf);
    }
    iterations
}
