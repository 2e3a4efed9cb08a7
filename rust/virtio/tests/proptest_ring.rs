// SPDX-License-Identifier: GPL-2.0

//! Property tests: random driver/device interleavings against
//! `virtio-queue`, checking chains, completions, notification suppression
//! in both directions, invariants and teardown.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use rvirtio_core::queue::{
    Buf,
    LenPolicy,
    QueueOptions,
    RingError,
    Virtqueue, //
};
use std::collections::VecDeque;

#[derive(Clone, Debug)]
enum Step {
    /// Driver adds a buffer with these readable and writable lengths.
    Add(Vec<u32>, Vec<u32>),
    /// Device pops up to n chains.
    Pop(u8),
    /// Device completes the pending chain at (index % len), writing
    /// `frac`/255 of its writable bytes.
    Complete(u16, u8),
    /// Driver reaps up to n used buffers, alternately with `get_used()`
    /// and `get_used_then()`, starting with the latter if the flag is set.
    Reap(u8, bool),
    Kick,
    DeviceEnableNotify,
    DeviceDisableNotify,
    EnableCb,
    DisableCb,
    EnableCbDelayed,
}

fn step() -> impl Strategy<Value = Step> {
    let lens = || prop::collection::vec(0u32..5000, 0..4);
    prop_oneof![
        4 => (lens(), lens()).prop_map(|(o, i)| Step::Add(o, i)),
        2 => any::<u8>().prop_map(|n| Step::Pop(n % 6)),
        3 => (any::<u16>(), any::<u8>()).prop_map(|(i, f)| Step::Complete(i, f)),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(n, t)| Step::Reap(n % 6, t)),
        1 => Just(Step::Kick),
        1 => Just(Step::DeviceEnableNotify),
        1 => Just(Step::DeviceDisableNotify),
        1 => Just(Step::EnableCb),
        1 => Just(Step::DisableCb),
        1 => Just(Step::EnableCbDelayed),
    ]
}

fn start_idx() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), 0xfff0u16..=0xffff, any::<u16>()]
}

fn queue_size() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(1u16),
        Just(2),
        Just(4),
        Just(8),
        Just(16),
        Just(256),
        Just(32768)
    ]
}

struct Model {
    next_token: u64,
    /// Published, not yet popped by the device: (token, out, in).
    avail: VecDeque<(u64, Vec<Buf>, Vec<Buf>)>,
    /// Popped by the device, not completed: (chain, token).
    pending: Vec<(SeenChain, u64)>,
    /// Completed by the device in order, not reaped: (token, len).
    used: VecDeque<(u64, u32)>,
    /// Buffers added and not yet returned to the driver.
    outstanding: std::collections::BTreeSet<u64>,
    /// The device re-armed notifications while idle.
    device_waiting: bool,
    /// The driver re-armed callbacks while idle.
    driver_waiting: bool,
    driver_disabled: bool,
    /// Callbacks re-enabled with `enable_cb_delayed()` that said to wait:
    /// the notification may come later than the next buffer, until a
    /// `get_used()` finds nothing (which moves the event back).
    driver_delayed: bool,
}

fn run(
    size: u16,
    event_idx: bool,
    indirect: bool,
    start: u16,
    steps: Vec<Step>,
) -> Result<(), TestCaseError> {
    let opts = QueueOptions {
        event_idx,
        indirect,
        max_indirect: 8,
        legacy: false,
        len_policy: LenPolicy::Reject,
        start_idx: start,
    };
    let (mut q, mut dev) = setup(size, opts, 8);
    let mut m = Model {
        next_token: 0,
        avail: VecDeque::new(),
        pending: Vec::new(),
        used: VecDeque::new(),
        outstanding: Default::default(),
        device_waiting: false,
        driver_waiting: false,
        driver_disabled: false,
        driver_delayed: false,
    };
    let mut addr = DATA_ADDR;
    for s in steps {
        match s {
            Step::Add(o, i) => {
                let mut mk = |l: &u32| {
                    addr = DATA_ADDR + (addr + 0x1_0000 - DATA_ADDR) % (DATA_SIZE - 0x2000);
                    Buf::new(addr, *l)
                };
                let out: Vec<Buf> = o.iter().map(&mut mk).collect();
                let inb: Vec<Buf> = i.iter().map(&mut mk).collect();
                let n = out.len() + inb.len();
                let free = usize::from(q.num_free());
                let tok = m.next_token;
                m.next_token += 1;
                match q.add(&out, &inb, tok) {
                    Ok(()) => {
                        prop_assert!(n > 0 && n <= usize::from(size));
                        let ind = indirect && n > 1 && n <= 8;
                        prop_assert_eq!(usize::from(q.num_free()), free - if ind { 1 } else { n });
                        m.avail.push_back((tok, out, inb));
                        m.outstanding.insert(tok);
                    }
                    Err(e) => {
                        prop_assert_eq!(e.token, tok);
                        match e.error {
                            RingError::EmptyChain => prop_assert_eq!(n, 0),
                            RingError::ChainTooLong => prop_assert!(n > usize::from(size)),
                            RingError::NoSpace => prop_assert!(free < n || free == 0),
                            other => prop_assert!(false, "unexpected {:?}", other),
                        }
                    }
                }
            }
            Step::Pop(k) => {
                for _ in 0..k {
                    let Some(c) = dev.pop() else { break };
                    m.device_waiting = false;
                    let (tok, out, inb) = m
                        .avail
                        .pop_front()
                        .expect("device popped an unpublished chain");
                    let expect: Vec<SeenDesc> = out
                        .iter()
                        .map(|b| SeenDesc {
                            addr: b.addr,
                            len: b.len,
                            writable: false,
                        })
                        .chain(inb.iter().map(|b| SeenDesc {
                            addr: b.addr,
                            len: b.len,
                            writable: true,
                        }))
                        .collect();
                    prop_assert_eq!(&c.descs, &expect);
                    prop_assert_eq!(
                        c.indirect,
                        indirect && expect.len() > 1 && expect.len() <= 8
                    );
                    m.pending.push((c, tok));
                }
            }
            Step::Complete(i, frac) => {
                if m.pending.is_empty() {
                    continue;
                }
                let idx = usize::from(i) % m.pending.len();
                let (c, tok) = m.pending.swap_remove(idx);
                let len = (u64::from(c.writable_len()) * u64::from(frac) / 255) as u32;
                dev.complete(&c, len);
                m.used.push_back((tok, len));
                let notify = dev.needs_notification();
                if m.driver_waiting {
                    prop_assert!(notify, "lost used buffer notification");
                    m.driver_waiting = false;
                }
                if event_idx && m.driver_disabled {
                    prop_assert!(!notify, "notified while callbacks disabled");
                }
            }
            Step::Reap(k, then) => {
                let mut consumed = 0;
                let mut drained = false;
                for i in 0..k {
                    // `get_used_then()` must behave as `get_used()` does.
                    let r = if then == (i % 2 == 0) {
                        q.get_used_then(|r| r)
                    } else {
                        q.get_used()
                    };
                    match r.unwrap() {
                        Some(u) => {
                            let (tok, len) =
                                m.used.pop_front().expect("driver got an unused buffer");
                            prop_assert_eq!((u.token, u.len), (tok, len));
                            prop_assert!(m.outstanding.remove(&tok));
                            consumed += 1;
                        }
                        None => {
                            prop_assert!(m.used.is_empty());
                            drained = true;
                            break;
                        }
                    }
                }
                // Taking every used buffer with callbacks enabled re-arms
                // them for the next one, whether or not a get_used found
                // nothing after (Linux's event index follows every
                // virtqueue_get_buf()); a delayed wait only once a
                // get_used found nothing.
                if drained {
                    m.driver_delayed = false;
                }
                if consumed > 0 && m.used.is_empty() && !m.driver_disabled && !m.driver_delayed {
                    m.driver_waiting = true;
                }
            }
            Step::Kick => {
                let kick = q.prepare_kick().unwrap();
                if m.device_waiting && !m.avail.is_empty() {
                    prop_assert!(kick, "lost available buffer notification");
                    m.device_waiting = false;
                }
            }
            Step::DeviceEnableNotify => {
                let pending = dev.enable_notification();
                prop_assert_eq!(pending, !m.avail.is_empty());
                // Only a device with nothing to do sleeps. Buffers added
                // but not yet kicked would be covered by the next kick.
                m.device_waiting = !pending;
            }
            Step::DeviceDisableNotify => {
                dev.disable_notification();
                m.device_waiting = false;
            }
            Step::EnableCb => {
                let idle = q.enable_cb().unwrap();
                prop_assert_eq!(idle, m.used.is_empty());
                m.driver_waiting = idle;
                m.driver_disabled = false;
                m.driver_delayed = false;
            }
            Step::DisableCb => {
                q.disable_cb();
                m.driver_waiting = false;
                m.driver_disabled = true;
                m.driver_delayed = false;
            }
            Step::EnableCbDelayed => {
                let ok = q.enable_cb_delayed().unwrap();
                if !event_idx {
                    prop_assert_eq!(ok, m.used.is_empty());
                }
                m.driver_disabled = false;
                m.driver_waiting = false;
                m.driver_delayed = ok;
            }
        }
        prop_assert!(q.check_invariants());
        prop_assert!(!q.is_broken());
    }
    // Device reset: every outstanding token comes back exactly once.
    let mut back = std::collections::BTreeSet::new();
    while let Some(t) = q.detach_unused() {
        prop_assert!(back.insert(t));
    }
    prop_assert_eq!(back, m.outstanding);
    prop_assert_eq!(q.platform().stats().indirect_live, 0);
    prop_assert_eq!(q.reinit(), Ok(()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Keep failure seeds inside this crate (cargo runs tests from the
        // package root); the default location lands outside it.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/proptest_ring.txt"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_interleavings(
        size in queue_size(),
        event_idx in any::<bool>(),
        indirect in any::<bool>(),
        start in start_idx(),
        steps in prop::collection::vec(step(), 1..300),
    ) {
        run(size, event_idx, indirect, start, steps)?;
    }
}

#[test]
fn need_event_across_wrap() {
    use rvirtio_core::queue::vring_need_event;
    // Crossing the event index notifies, whatever the wrap.
    for base in [0u16, 100, 0xfff0, 0xffff] {
        for event_off in 0u16..8 {
            for n in 1u16..8 {
                let old = base;
                let new = base.wrapping_add(n);
                let event = base.wrapping_add(event_off);
                assert_eq!(
                    vring_need_event(event, new, old),
                    event_off < n,
                    "base {base} ev {event_off} n {n}"
                );
            }
        }
    }
    assert!(!vring_need_event(5, 5, 5));
}
