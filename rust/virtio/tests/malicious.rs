// SPDX-License-Identifier: GPL-2.0

//! A malicious device: every bad used-ring write must be rejected with the
//! right error, break the queue, and leave teardown working.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

mod common;

use common::*;
use rvirtio_core::queue::{
    Buf,
    LenPolicy,
    QueueOptions,
    RingError,
    Used,
    Virtqueue, //
};

/// Both ways of taking a used buffer: `get_used()`, and `get_used_then()`
/// (its own inline and out-of-line paths), which must see every violation
/// the same way.
const BOTH: [bool; 2] = [false, true];

/// `get_used()`, or `get_used_then()` if `then`.
fn get(q: &mut TestQueue, then: bool) -> Result<Option<Used<u64>>, RingError> {
    if then {
        q.get_used_then(|r| r)
    } else {
        q.get_used()
    }
}

fn opts(len_policy: LenPolicy) -> QueueOptions {
    QueueOptions {
        event_idx: true,
        indirect: false,
        max_indirect: 16,
        legacy: false,
        len_policy,
        start_idx: 0,
    }
}

fn data(i: u64) -> u64 {
    DATA_ADDR + i * 0x1000
}

/// Adds three buffers: token 0 = 1 readable desc (head 0), token 1 = 1
/// readable + 2 writable of 100 bytes (head 1, members 2 and 3), token 2 =
/// 1 writable of 50 bytes (head 4).
fn populated(policy: LenPolicy) -> (TestQueue, VqDevice) {
    let (mut q, dev) = setup(8, opts(policy), 16);
    q.add(&[Buf::new(data(0), 10)], &[], 0).unwrap();
    q.add(
        &[Buf::new(data(1), 10)],
        &[Buf::new(data(2), 100), Buf::new(data(3), 100)],
        1,
    )
    .unwrap();
    q.add(&[], &[Buf::new(data(4), 50)], 2).unwrap();
    (q, dev)
}

/// After a violation every operation fails with `Broken`, teardown still
/// returns all outstanding tokens, and `reinit` recovers the queue.
fn assert_broken_then_recovers(q: &mut TestQueue, mut outstanding: Vec<u64>) {
    assert!(q.is_broken());
    assert_eq!(
        q.add(&[Buf::new(0, 1)], &[], 99).unwrap_err().error,
        RingError::Broken
    );
    assert_eq!(q.get_used(), Err(RingError::Broken));
    assert_eq!(q.get_used_then(|r| r), Err(RingError::Broken));
    assert_eq!(q.more_used(), Err(RingError::Broken));
    assert_eq!(q.prepare_kick(), Err(RingError::Broken));
    assert_eq!(q.enable_cb(), Err(RingError::Broken));
    assert_eq!(q.enable_cb_delayed(), Err(RingError::Broken));
    assert!(q.check_invariants());
    let mut back = Vec::new();
    while let Some(t) = q.detach_unused() {
        back.push(t);
    }
    back.sort();
    outstanding.sort();
    assert_eq!(
        back, outstanding,
        "teardown must return each outstanding token once"
    );
    q.reinit().unwrap();
    assert!(!q.is_broken());
    assert_eq!(q.num_free(), q.size());
}

#[test]
fn id_out_of_range() {
    for then in BOTH {
        for bad in [8u32, 9, 0xffff, 0x1_0000, u32::MAX] {
            let (mut q, mut dev) = populated(LenPolicy::Reject);
            dev.raw_used(bad, 0, 1);
            assert_eq!(get(&mut q, then), Err(RingError::BadId { id: bad }));
            assert_broken_then_recovers(&mut q, vec![0, 1, 2]);
        }
    }
}

#[test]
fn id_not_a_head() {
    for then in BOTH {
        for member in [2u32, 3] {
            let (mut q, mut dev) = populated(LenPolicy::Reject);
            dev.raw_used(member, 0, 1);
            assert_eq!(get(&mut q, then), Err(RingError::NotHead { id: member }));
            assert_broken_then_recovers(&mut q, vec![0, 1, 2]);
        }
    }
}

#[test]
fn id_free_descriptor() {
    for then in BOTH {
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(6, 0, 1);
        assert_eq!(get(&mut q, then), Err(RingError::NotInFlight { id: 6 }));
        assert_broken_then_recovers(&mut q, vec![0, 1, 2]);
    }
}

#[test]
fn duplicate_completion() {
    for then in BOTH {
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        let c = dev.pop().unwrap();
        dev.complete(&c, 0);
        assert_eq!(get(&mut q, then).unwrap().unwrap().token, 0);
        // The same head again.
        dev.raw_used(u32::from(c.head), 0, 1);
        assert_eq!(
            get(&mut q, then),
            Err(RingError::NotInFlight {
                id: u32::from(c.head)
            })
        );
        assert_broken_then_recovers(&mut q, vec![1, 2]);
    }
}

#[test]
fn duplicate_in_one_batch() {
    for then in BOTH {
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(4, 50, 1);
        dev.raw_used(4, 50, 1);
        assert_eq!(get(&mut q, then).unwrap().unwrap().token, 2);
        assert_eq!(get(&mut q, then), Err(RingError::NotInFlight { id: 4 }));
        assert_broken_then_recovers(&mut q, vec![0, 1]);
    }
}

#[test]
fn oversized_len() {
    for then in BOTH {
        // Readable-only buffer: nothing may be written.
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(0, 1, 1);
        assert_eq!(
            get(&mut q, then),
            Err(RingError::BadLen {
                id: 0,
                len: 1,
                max: 0
            })
        );
        assert_broken_then_recovers(&mut q, vec![0, 1, 2]);

        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(1, 201, 1);
        assert_eq!(
            get(&mut q, then),
            Err(RingError::BadLen {
                id: 1,
                len: 201,
                max: 200
            })
        );
        assert_broken_then_recovers(&mut q, vec![0, 1, 2]);

        // Exactly the writable size is fine.
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(1, 200, 1);
        let u = get(&mut q, then).unwrap().unwrap();
        assert_eq!((u.token, u.len), (1, 200));
        assert!(!q.is_broken());
    }
}

#[test]
fn oversized_len_clamped_for_legacy_quirks() {
    for then in BOTH {
        let (mut q, mut dev) = populated(LenPolicy::Clamp);
        dev.raw_used(4, u32::MAX, 1);
        let u = get(&mut q, then).unwrap().unwrap();
        assert_eq!((u.token, u.len), (2, 50));
        assert!(!q.is_broken());
        // Ids are still validated.
        dev.raw_used(7, 0, 1);
        assert_eq!(get(&mut q, then), Err(RingError::NotInFlight { id: 7 }));
    }
}

#[test]
fn used_idx_jumps() {
    for then in BOTH {
        // 3 in flight: moving by 4 is a violation, also via more_used().
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(0, 0, 4);
        assert_eq!(
            q.more_used(),
            Err(RingError::IdxJump {
                used_idx: 4,
                last_used: 0,
                in_flight: 3
            })
        );
        assert_broken_then_recovers(&mut q, vec![0, 1, 2]);

        // More than the queue size.
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(0, 0, 9);
        assert!(matches!(
            get(&mut q, then),
            Err(RingError::IdxJump { used_idx: 9, .. })
        ));
        assert_broken_then_recovers(&mut q, vec![0, 1, 2]);

        // Backwards (wraps to 0xffff ahead).
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(0, 0, 0xffff);
        assert!(matches!(
            q.poll(0),
            Err(RingError::IdxJump {
                used_idx: 0xffff,
                ..
            })
        ));
        assert_broken_then_recovers(&mut q, vec![0, 1, 2]);
    }
}

#[test]
fn used_idx_jump_found_at_the_next_read() {
    for then in BOTH {
        // `used.idx` is read again once the entries of the last (validated)
        // value are consumed: those come back, then the jump breaks the queue.
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        let c0 = dev.pop().unwrap();
        let c1 = dev.pop().unwrap();
        dev.complete(&c0, 0);
        dev.complete(&c1, 200);
        assert_eq!(get(&mut q, then).unwrap().unwrap().token, 0);
        dev.raw_used(4, 0, 100);
        assert_eq!(get(&mut q, then).unwrap().unwrap().token, 1);
        assert!(matches!(
            get(&mut q, then),
            Err(RingError::IdxJump {
                last_used: 2,
                in_flight: 1,
                ..
            })
        ));
        assert_broken_then_recovers(&mut q, vec![2]);
    }
}

#[test]
fn used_idx_jump_detected_by_enable_cb() {
    let (mut q, mut dev) = populated(LenPolicy::Reject);
    q.disable_cb();
    dev.raw_used(0, 0, 100);
    assert!(matches!(q.enable_cb(), Err(RingError::IdxJump { .. })));
    assert!(q.is_broken());
}

#[test]
fn garbage_suppression_fields_are_harmless() {
    for then in BOTH {
        let (mut q, dev) = populated(LenPolicy::Reject);
        let cfg = q.config();
        let avail_event = vm_memory::GuestAddress(cfg.device + 4 + 8 * 8);
        let used_flags = vm_memory::GuestAddress(cfg.device);
        // avail_event and used.flags are only hints: any value just changes
        // whether to notify.
        for (t, v) in (10..).zip([1u16, 0x7fff, 0xffff]) {
            vm_memory::Bytes::write_obj(&*dev.mem, v, avail_event).unwrap();
            vm_memory::Bytes::write_obj(&*dev.mem, v, used_flags).unwrap();
            q.add(&[Buf::new(data(9), 1)], &[], t).unwrap();
            q.prepare_kick().unwrap();
            assert_eq!(get(&mut q, then), Ok(None));
            q.disable_cb();
            q.enable_cb().unwrap();
        }
        assert!(!q.is_broken());
        let mut n = 0;
        while q.detach_unused().is_some() {
            n += 1;
        }
        assert_eq!(n, 6);
    }
}

#[test]
fn mark_broken_from_outside() {
    let (mut q, _dev) = populated(LenPolicy::Reject);
    q.mark_broken();
    assert_broken_then_recovers(&mut q, vec![0, 1, 2]);
}

/// `get_used` takes entries a `used.idx` read already showed without
/// checking for a broken queue (stopping forgets them): once broken, with
/// entries known used, it must still fail, and so must `more_used`.
#[test]
fn broken_with_entries_known_used() {
    for then in BOTH {
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(4, 50, 1);
        dev.raw_used(0, 0, 1);
        dev.raw_used(1, 200, 1);
        // Reads used.idx (3) and completes the first; two more are known used.
        assert_eq!(get(&mut q, then).unwrap().unwrap().token, 2);
        q.mark_broken();
        assert!(q.check_invariants());
        assert_broken_then_recovers(&mut q, vec![0, 1]);
    }
}

/// A violation in the middle of entries known used (the second of three
/// has a bad id) also stops the inline path.
#[test]
fn violation_with_entries_known_used() {
    for then in BOTH {
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(4, 50, 1);
        dev.raw_used(9, 0, 1);
        dev.raw_used(0, 0, 1);
        assert_eq!(get(&mut q, then).unwrap().unwrap().token, 2);
        assert_eq!(get(&mut q, then), Err(RingError::BadId { id: 9 }));
        // Entry 3 (a valid completion of token 0) is never handed out.
        assert_broken_then_recovers(&mut q, vec![0, 1]);
    }
}

/// Teardown in the middle of entries known used: `get_used` must refuse
/// (the queue is detached) instead of completing from stale knowledge.
#[test]
fn detach_with_entries_known_used() {
    for then in BOTH {
        let (mut q, mut dev) = populated(LenPolicy::Reject);
        dev.raw_used(4, 50, 1);
        dev.raw_used(0, 0, 1);
        assert_eq!(get(&mut q, then).unwrap().unwrap().token, 2);
        let first = q.detach_unused();
        assert!(first.is_some());
        assert_eq!(get(&mut q, then), Err(RingError::Detached));
        assert!(q.check_invariants());
        let mut back = vec![first.unwrap()];
        while let Some(t) = q.detach_unused() {
            back.push(t);
        }
        back.sort();
        assert_eq!(back, vec![0, 1]);
        q.reinit().unwrap();
    }
}
