// SPDX-License-Identifier: GPL-2.0

//! The split ring against rust-vmm's `virtio-queue` as the device.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

mod common;

use common::*;
use rvirtio_core::{
    layout::SplitLayout,
    queue::{
        Buf,
        LenPolicy,
        QueueOptions,
        RingError,
        Used,
        Virtqueue, //
    },
    spec::VIRTQ_AVAIL_F_NO_INTERRUPT,
};
use vm_memory::{Bytes, GuestAddress};

fn opts(event_idx: bool, indirect: bool) -> QueueOptions {
    QueueOptions {
        event_idx,
        indirect,
        max_indirect: 16,
        legacy: false,
        len_policy: LenPolicy::Reject,
        start_idx: 0,
    }
}

fn data(i: u64) -> u64 {
    DATA_ADDR + i * 0x1000
}

fn assert_chain(seen: &SeenChain, out: &[Buf], inb: &[Buf]) {
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
    assert_eq!(seen.descs, expect, "device saw a different chain");
}

#[test]
fn chains_round_trip_with_data() {
    let (mut q, mut dev) = setup(256, opts(false, false), 16);
    let shapes: &[(usize, usize)] = &[(1, 0), (0, 1), (1, 1), (2, 3), (3, 2), (5, 0), (0, 5)];
    let mut next = 0u64;
    let mut added = Vec::new();
    for (t, &(no, ni)) in shapes.iter().enumerate() {
        let out: Vec<Buf> = (0..no)
            .map(|_| {
                next += 1;
                Buf::new(data(next), 100 + next as u32)
            })
            .collect();
        let inb: Vec<Buf> = (0..ni)
            .map(|_| {
                next += 1;
                Buf::new(data(next), 200 + next as u32)
            })
            .collect();
        q.add(&out, &inb, t as u64).unwrap();
        added.push((out, inb));
    }
    assert!(q.check_invariants());
    // The device sees every chain, in order, exactly as added.
    let mut seen = Vec::new();
    while let Some(c) = dev.pop() {
        seen.push(c);
    }
    assert_eq!(seen.len(), shapes.len());
    for (c, (out, inb)) in seen.iter().zip(&added) {
        assert!(!c.indirect);
        assert_chain(c, out, inb);
    }
    // Complete in reverse order, writing a pattern into writable buffers.
    for (t, c) in seen.iter().enumerate().rev() {
        let mut written = 0u32;
        for d in c.descs.iter().filter(|d| d.writable) {
            let fill = vec![t as u8 ^ 0x5a; d.len as usize];
            dev.mem.write_slice(&fill, GuestAddress(d.addr)).unwrap();
            written += d.len;
        }
        dev.complete(c, written);
    }
    let mut got = Vec::new();
    while let Some(u) = q.get_used().unwrap() {
        got.push((u.token, u.len));
    }
    let expect: Vec<(u64, u32)> = seen
        .iter()
        .enumerate()
        .rev()
        .map(|(t, c)| (t as u64, c.writable_len()))
        .collect();
    assert_eq!(got, expect);
    // The data the device wrote is where the driver put its buffers.
    let (_, inb) = &added[3];
    let mut buf = vec![0u8; inb[0].len as usize];
    dev.mem
        .read_slice(&mut buf, GuestAddress(inb[0].addr))
        .unwrap();
    assert!(buf.iter().all(|b| *b == 3 ^ 0x5a));
    assert_eq!(q.num_free(), 256);
    assert!(q.check_invariants());
}

#[test]
fn indirect_chains_seen_by_device() {
    let (mut q, mut dev) = setup(8, opts(false, true), 16);
    // 3 multi-element buffers need only 3 ring descriptors.
    for t in 0..3u64 {
        let out = [Buf::new(data(10 * t), 12), Buf::new(data(10 * t + 1), 34)];
        let inb = [
            Buf::new(data(10 * t + 2), 56),
            Buf::new(data(10 * t + 3), 78),
            Buf::new(data(10 * t + 4), 1),
        ];
        q.add(&out, &inb, t).unwrap();
    }
    assert_eq!(q.num_free(), 5);
    assert_eq!(q.platform().stats().indirect_live, 3);
    // A single-element buffer stays direct.
    q.add(&[Buf::new(data(99), 4)], &[], 3).unwrap();
    for t in 0..3u64 {
        let c = dev.pop().unwrap();
        assert!(c.indirect, "multi-element buffer not indirect");
        let out = [Buf::new(data(10 * t), 12), Buf::new(data(10 * t + 1), 34)];
        let inb = [
            Buf::new(data(10 * t + 2), 56),
            Buf::new(data(10 * t + 3), 78),
            Buf::new(data(10 * t + 4), 1),
        ];
        assert_chain(&c, &out, &inb);
        dev.complete(&c, 135);
    }
    let c = dev.pop().unwrap();
    assert!(!c.indirect);
    dev.complete(&c, 0);
    for t in 0..4u64 {
        let u = q.get_used().unwrap().unwrap();
        assert_eq!(u.token, t);
    }
    assert_eq!(q.num_free(), 8);
    // Each head keeps its table. The free list gives back the last head
    // used first: descriptor 3 (which headed the direct buffer) gets a
    // table once, then heads the next buffers again and reuses it.
    assert_eq!(q.platform().stats().indirect_live, 3);
    for t in 0..3u64 {
        let inb = [Buf::new(data(t), 8), Buf::new(data(t + 1), 8)];
        q.add(&[], &inb, 10 + t).unwrap();
        let c = dev.pop().unwrap();
        assert!(c.indirect, "multi-element buffer not indirect");
        assert_chain(&c, &[], &inb);
        dev.complete(&c, 16);
        assert_eq!(
            q.get_used().unwrap().unwrap(),
            Used {
                token: 10 + t,
                len: 16
            }
        );
    }
    let stats = q.platform().stats();
    assert_eq!((stats.indirect_live, stats.indirect_allocs), (4, 4));
    // Teardown gives every table back.
    assert_eq!(q.detach_unused(), None);
    assert_eq!(
        q.platform().stats().indirect_live,
        0,
        "indirect tables not returned"
    );
    q.reinit().unwrap();
}

#[test]
fn indirect_falls_back_to_direct() {
    let (mut q, mut dev) = setup(8, opts(false, true), 16);
    let mut p = q.platform().clone();
    drop(p.clone());
    p.set_fail_indirect(true);
    // Rebuild the queue with a failing pool.
    let layout = SplitLayout::modern(8).unwrap();
    let ring = HostRegion::new(
        p.memory().clone(),
        mem_offset(RING_ADDR),
        layout.total_size(),
    );
    q = rvirtio_core::split::SplitQueue::new(p, ring, layout, opts(false, true)).unwrap();
    dev = VqDevice::new(dev.mem.clone(), &q, false, 0);
    q.add(
        &[Buf::new(data(1), 1)],
        &[Buf::new(data(2), 2), Buf::new(data(3), 3)],
        7,
    )
    .unwrap();
    assert_eq!(q.num_free(), 5);
    let c = dev.pop().unwrap();
    assert!(!c.indirect);
    assert_eq!(c.descs.len(), 3);
    // Too long for the free descriptors and no indirect table: NoSpace.
    let big = vec![Buf::new(data(4), 1); 6];
    let e = q.add(&big, &[], 8).unwrap_err();
    assert_eq!(e.error, RingError::NoSpace);
    assert_eq!(e.token, 8);
    // Longer than the queue: ChainTooLong, whatever the features.
    let huge = vec![Buf::new(data(4), 1); 9];
    assert_eq!(
        q.add(&huge, &[], 9).unwrap_err().error,
        RingError::ChainTooLong
    );
}

#[test]
fn indirect_table_size_is_bounded() {
    let (mut q, mut dev) = setup(64, opts(false, true), 4);
    // max_indirect 16 > slot size 4: the pool refuses 5+ descriptors, so
    // the buffer goes direct.
    let segs = vec![Buf::new(data(1), 8); 5];
    q.add(&segs, &[], 1).unwrap();
    assert_eq!(q.num_free(), 59);
    let c = dev.pop().unwrap();
    assert!(!c.indirect);
    // Capped at the queue size.
    let (q2, _) = setup(4, opts(false, true), 16);
    assert_eq!(q2.options().max_indirect, 4);
}

#[test]
fn kick_suppression_event_idx() {
    let (mut q, mut dev) = setup(16, opts(true, false), 16);
    // Device waits for a notification at avail index 0.
    assert!(!dev.enable_notification());
    q.add(&[Buf::new(data(1), 1)], &[], 1).unwrap();
    assert!(
        q.prepare_kick().unwrap(),
        "first buffer after enable must notify"
    );
    // The device has not re-armed: no more notifications.
    q.add(&[Buf::new(data(2), 1)], &[], 2).unwrap();
    assert!(!q.prepare_kick().unwrap());
    // The device drains and re-arms at 2; both pops seen.
    assert!(dev.pop().is_some());
    assert!(dev.pop().is_some());
    assert!(!dev.enable_notification());
    q.add(&[Buf::new(data(3), 1)], &[], 3).unwrap();
    q.add(&[Buf::new(data(4), 1)], &[], 4).unwrap();
    assert!(
        q.prepare_kick().unwrap(),
        "batch crossing avail_event must notify"
    );
    // Nothing added: no notification.
    assert!(!q.prepare_kick().unwrap());
    // Device re-arms while buffers are pending: enable reports them.
    assert!(dev.enable_notification());
}

#[test]
fn kick_suppression_flags() {
    let (mut q, mut dev) = setup(16, opts(false, false), 16);
    q.add(&[Buf::new(data(1), 1)], &[], 1).unwrap();
    assert!(q.prepare_kick().unwrap());
    dev.disable_notification(); // used.flags = NO_NOTIFY
    q.add(&[Buf::new(data(2), 1)], &[], 2).unwrap();
    assert!(!q.prepare_kick().unwrap());
    assert!(dev.enable_notification());
    q.add(&[Buf::new(data(3), 1)], &[], 3).unwrap();
    assert!(q.prepare_kick().unwrap());
}

#[test]
fn interrupt_suppression_event_idx() {
    let (mut q, mut dev) = setup(16, opts(true, false), 16);
    for t in 0..8 {
        q.add(&[], &[Buf::new(data(t), 64)], t).unwrap();
    }
    assert!(q.enable_cb().unwrap(), "nothing pending yet");
    let c0 = dev.pop().unwrap();
    dev.complete(&c0, 1);
    assert!(
        dev.needs_notification(),
        "enabled callbacks must be notified"
    );
    // While disabled, the device is told not to notify.
    q.disable_cb();
    let c1 = dev.pop().unwrap();
    dev.complete(&c1, 1);
    assert!(!dev.needs_notification());
    // Re-enable with buffers pending: enable_cb says poll again.
    assert!(!q.enable_cb().unwrap());
    assert_eq!(q.get_used().unwrap().unwrap().token, 0);
    assert_eq!(q.get_used().unwrap().unwrap().token, 1);
    assert!(q.get_used().unwrap().is_none());
    // The get_used that found nothing moved used_event to last_used
    // first: the next completion notifies.
    let c2 = dev.pop().unwrap();
    dev.complete(&c2, 1);
    assert!(dev.needs_notification());
    assert_eq!(q.get_used().unwrap().unwrap().token, 2);
}

#[test]
fn enable_cb_delayed_event_idx() {
    let (mut q, mut dev) = setup(16, opts(true, false), 16);
    for t in 0..8 {
        q.add(&[], &[Buf::new(data(t), 64)], t).unwrap();
    }
    q.disable_cb();
    // 8 in flight: ask for a notification after 3/4 of them (6) are used.
    assert!(q.enable_cb_delayed().unwrap());
    let mut notified_at = None;
    for n in 1..=8 {
        let c = dev.pop().unwrap();
        dev.complete(&c, 1);
        if dev.needs_notification() && notified_at.is_none() {
            notified_at = Some(n);
        }
    }
    assert_eq!(
        notified_at,
        Some(7),
        "notification should come once used_event (last_used + 6) is crossed"
    );
    // With more than `bufs` already used, delayed enable says poll.
    let (mut q, mut dev) = setup(16, opts(true, false), 16);
    for t in 0..8 {
        q.add(&[], &[Buf::new(data(t), 64)], t).unwrap();
    }
    for _ in 0..7 {
        let c = dev.pop().unwrap();
        dev.complete(&c, 1);
    }
    assert!(!q.enable_cb_delayed().unwrap());
}

#[test]
fn interrupt_suppression_flags() {
    let (mut q, dev) = setup(16, opts(false, false), 16);
    let cfg = q.config();
    let flags =
        |dev: &VqDevice| -> u16 { dev.mem.read_obj::<u16>(GuestAddress(cfg.driver)).unwrap() };
    assert_eq!(flags(&dev), 0);
    q.disable_cb();
    assert_eq!(flags(&dev), VIRTQ_AVAIL_F_NO_INTERRUPT);
    assert!(q.enable_cb().unwrap());
    assert_eq!(flags(&dev), 0);
}

#[test]
fn event_idx_keeps_avail_flags_zero() {
    let (mut q, dev) = setup(16, opts(true, false), 16);
    let cfg = q.config();
    q.disable_cb();
    assert_eq!(
        dev.mem.read_obj::<u16>(GuestAddress(cfg.driver)).unwrap(),
        0
    );
}

#[test]
fn detach_returns_in_flight_tokens() {
    let (mut q, mut dev) = setup(8, opts(true, true), 16);
    for t in 0..5u64 {
        q.add(&[Buf::new(data(t), 4)], &[Buf::new(data(t + 10), 4)], t)
            .unwrap();
    }
    let c = dev.pop().unwrap();
    dev.complete(&c, 4);
    assert_eq!(q.get_used().unwrap().unwrap().token, 0);
    // Device reset; reclaim the rest.
    let mut tokens = Vec::new();
    while let Some(t) = q.detach_unused() {
        tokens.push(t);
    }
    tokens.sort();
    assert_eq!(tokens, vec![1, 2, 3, 4]);
    assert_eq!(q.platform().stats().indirect_live, 0);
    assert_eq!(
        q.add(&[Buf::new(0, 1)], &[], 9).unwrap_err().error,
        RingError::Detached
    );
    q.reinit().unwrap();
    // Works again with a fresh device.
    let mut dev = VqDevice::new(dev.mem.clone(), &q, true, 0);
    q.add(&[Buf::new(data(1), 4)], &[], 42).unwrap();
    let c = dev.pop().unwrap();
    dev.complete(&c, 0);
    assert_eq!(q.get_used().unwrap().unwrap().token, 42);
}

#[test]
fn reinit_refuses_in_flight() {
    let (mut q, _dev) = setup(8, opts(false, false), 16);
    q.add(&[Buf::new(data(1), 4)], &[], 1).unwrap();
    assert_eq!(q.reinit(), Err(RingError::Busy));
}

#[test]
fn notification_data_tracks_avail_idx() {
    let o = QueueOptions {
        start_idx: 0x7ffe,
        ..opts(false, false)
    };
    let (mut q, _dev) = setup(4, o, 16);
    let d = q.notification_data();
    assert_eq!((d.next_off, d.next_wrap), (0x7ffe, false));
    q.add(&[Buf::new(data(1), 4)], &[], 1).unwrap();
    q.add(&[Buf::new(data(1), 4)], &[], 2).unwrap();
    let d = q.notification_data();
    assert_eq!((d.next_off, d.next_wrap), (0, true));
    assert_eq!(d.to_u32(3), 0x8000_0003);
}

#[test]
fn queue_sizes_one_and_max() {
    for &size in &[1u16, 2, 32768] {
        let (mut q, mut dev) = setup(size, opts(true, size > 1), 16);
        let n = u64::from(size);
        for t in 0..n {
            q.add(&[], &[Buf::new(data(t % 512), 8)], t).unwrap();
        }
        assert_eq!(q.num_free(), 0);
        assert_eq!(
            q.add(&[Buf::new(0, 1)], &[], n).unwrap_err().error,
            RingError::NoSpace
        );
        let mut chains = Vec::new();
        while let Some(c) = dev.pop() {
            chains.push(c);
        }
        assert_eq!(chains.len() as u64, n);
        // Complete in reverse order.
        for c in chains.iter().rev() {
            dev.complete(c, 8);
        }
        let mut got = Vec::new();
        while let Some(u) = q.get_used().unwrap() {
            assert_eq!(u.len, 8);
            got.push(u.token);
        }
        got.reverse();
        assert_eq!(got, (0..n).collect::<Vec<_>>());
        assert!(q.check_invariants());
    }
}

#[test]
fn index_wrap_past_65536() {
    for &(size, event_idx, indirect) in &[(4u16, true, true), (1, false, false), (256, true, false)]
    {
        let (mut q, mut dev) = setup(size, opts(event_idx, indirect), 16);
        let mut token = 0u64;
        let mut done = 0u64;
        dev.enable_notification();
        q.enable_cb().unwrap();
        while done < 70_000 {
            while q.num_free() >= 2 || (q.num_free() >= 1 && size < 2) {
                let inb = [Buf::new(data(token % 64), 16)];
                let out = [Buf::new(data(token % 64 + 64), 8)];
                let r = if size < 2 {
                    q.add(&[], &inb, token)
                } else {
                    q.add(&out, &inb, token)
                };
                r.unwrap();
                token += 1;
            }
            let kicked = q.prepare_kick().unwrap();
            // The device drained everything before: it must be told.
            assert!(kicked, "lost notification at {}", q.avail_idx());
            while let Some(c) = dev.pop() {
                dev.complete(&c, 16);
            }
            // Interrupts were enabled with nothing pending: must notify.
            assert!(
                dev.needs_notification(),
                "lost interrupt at used {}",
                q.last_used_idx()
            );
            while let Some(u) = q.get_used().unwrap() {
                assert_eq!(u.token, done);
                assert_eq!(u.len, 16);
                done += 1;
            }
            assert!(q.enable_cb().unwrap());
            dev.enable_notification();
        }
        assert!(q.check_invariants());
        assert_eq!(
            q.avail_idx(),
            token as u16,
            "avail index must wrap naturally"
        );
    }
}

#[test]
fn start_index_near_wrap_matches_device() {
    let o = QueueOptions {
        start_idx: 0xfffd,
        ..opts(true, true)
    };
    let (mut q, mut dev) = setup(8, o, 16);
    for t in 0..6u64 {
        q.add(&[Buf::new(data(t), 4)], &[Buf::new(data(t + 8), 4)], t)
            .unwrap();
    }
    for _ in 0..6 {
        let c = dev.pop().unwrap();
        dev.complete(&c, 4);
    }
    for t in 0..6u64 {
        assert_eq!(q.get_used().unwrap().unwrap().token, t);
    }
    assert_eq!(q.avail_idx(), 3);
    assert_eq!(q.last_used_idx(), 3);
}

/// One buffer in flight, callbacks on, and a driver that takes each used
/// buffer without then draining to `None` (as Linux drivers may: the event
/// index follows every `virtqueue_get_buf()`): every completion must still
/// be notified.
#[test]
fn event_idx_notifies_without_draining() {
    let (mut q, mut dev) = setup(16, opts(true, false), 16);
    assert!(q.enable_cb().unwrap());
    for t in 0..40u64 {
        q.add(&[], &[Buf::new(data(t % 8), 64)], t).unwrap();
        q.prepare_kick().unwrap();
        let c = dev.pop().unwrap();
        dev.complete(&c, 1);
        assert!(dev.needs_notification(), "completion {t} not notified");
        assert_eq!(q.get_used().unwrap().unwrap().token, t);
    }
}
