// SPDX-License-Identifier: GPL-2.0

//! KUnit suites for the rvirtio core, run in the kernel.
//!
//! The split virtqueue of `rust/virtio` runs here on the kernel platform
//! (`rust/kvirtio`: DMA-coherent rings, the indirect arena, `virt_*()`
//! barriers) against an in-kernel fake device (`rust/kvirtio/fakedev.rs`)
//! that works on the same DMA memory. The host tests in `rust/virtio/tests`
//! cover the same ring against rust-vmm's `virtio-queue`; these prove it
//! behaves the same way built into a module, on real DMA memory.
//!
//! The module binds no device: load it to run the suites.

use kernel::prelude::*;

#[path = "../virtio/mod.rs"]
pub mod virtio;

#[path = "../kext/mod.rs"]
pub mod kext;

#[path = "../kvirtio/mod.rs"]
pub mod kvirtio;

#[path = "../kvirtio/fakedev.rs"]
pub mod fakedev;

#[path = "pci_caps_kunit.rs"]
mod pci_caps_kunit;

#[path = "mmio_kunit.rs"]
mod mmio_kunit;

#[path = "dma_kunit.rs"]
mod dma_kunit;

module! {
    type: RvirtioCoreTest,
    name: "rvirtio_core_test",
    authors: ["rvirtio developers"],
    description: "KUnit suites of the rvirtio core against in-kernel fake devices",
    license: "GPL",
}

struct RvirtioCoreTest;

impl kernel::Module for RvirtioCoreTest {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // The same check every driver module makes at load.
        kvirtio::module::HelpersAbi::check()?;
        Ok(RvirtioCoreTest)
    }
}

#[kunit_tests(rvirtio_split_ring)]
mod tests {
    use super::*;
    use crate::fakedev::FakeDevice;
    use crate::kext::dma::TestDmaDevice;
    use crate::kvirtio::platform::{DeviceView, KernelPlatform, Ring};
    use crate::virtio::dma::Addressing;
    use crate::virtio::{
        layout::{SplitLayout, USED_ALIGN},
        queue::{Buf, LenPolicy, QueueOptions, RingError, Virtqueue},
        split::SplitQueue,
    };

    type Queue = SplitQueue<KernelPlatform, u32>;

    /// Unwraps a `Result`; on `Err` prints where and why and fails the
    /// test (a bare `?` would fail it without a line number).
    macro_rules! t {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(why) => {
                    pr_err!("line {}: {} failed: {:?}\n", line!(), stringify!($e), why);
                    return Err(EIO);
                }
            }
        };
    }

    /// Unwraps an `Option`; on `None` prints where and fails the test.
    macro_rules! some {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => {
                    pr_err!("line {}: {} is None\n", line!(), stringify!($e));
                    return Err(EIO);
                }
            }
        };
    }

    /// A queue of `size` entries on a faux device, its fake device, and a
    /// 64 KiB pool of DMA buffer memory. Field order is drop order: the
    /// device views are dropped before the memory they describe.
    pub(crate) struct Rig {
        pub(crate) dev: FakeDevice,
        pub(crate) pool_view: DeviceView,
        pub(crate) q: Queue,
        _pool: Ring,
        _dma: TestDmaDevice,
    }

    const POOL: usize = 64 * 1024;

    fn rig(size: u16, event_idx: bool, indirect: bool) -> Result<Rig> {
        rig_with(size, event_idx, indirect, Addressing::Platform)
    }

    /// [`rig`] with the ring, the indirect arena and the buffer pool in
    /// memory addressed as `addressing` says.
    pub(crate) fn rig_with(
        size: u16,
        event_idx: bool,
        indirect: bool,
        addressing: Addressing,
    ) -> Result<Rig> {
        let dma = TestDmaDevice::new(c"rvirtio-kunit")?;
        let d = dma.device();
        let layout = t!(SplitLayout::new(size, USED_ALIGN));
        let ring = Ring::new(d, addressing, layout.total_size())?;
        let platform = if indirect {
            KernelPlatform::with_indirect(d, addressing, size, 8)?
        } else {
            KernelPlatform::new()
        };
        let pool = Ring::new(d, addressing, POOL)?;
        // SAFETY: the views are used only by `Rig`, whose field order drops
        // them (in `dev` and `pool_view`) before the queue and the pool.
        let (ring_view, arena_view, pool_view) = unsafe {
            (
                ring.device_view(),
                platform.indirect_view(),
                pool.device_view(),
            )
        };
        let opts = QueueOptions {
            event_idx,
            indirect,
            max_indirect: 8,
            legacy: false,
            len_policy: LenPolicy::Reject,
            start_idx: 0,
        };
        let q = t!(SplitQueue::new(platform, ring, layout, opts));
        let mut views = KVec::new();
        views.push(ring_view, GFP_KERNEL)?;
        views.push(pool_view, GFP_KERNEL)?;
        if let Some(a) = arena_view {
            views.push(a, GFP_KERNEL)?;
        }
        let dev = FakeDevice::new(q.config(), &views)?;
        Ok(Rig {
            dev,
            pool_view,
            q,
            _pool: pool,
            _dma: dma,
        })
    }

    pub(crate) fn buf(r: &Rig, off: u64, len: u32) -> Buf {
        Buf::new(r.pool_view.dma_addr() + off, len)
    }

    /// Buffers go out with the right elements and come back with their
    /// tokens and lengths, and the data the device wrote is in memory.
    #[test]
    fn round_trip() -> Result {
        let mut r = t!(rig(16, false, false));
        for t in 0..8u32 {
            let out = [buf(&r, u64::from(t) * 512, 64)];
            let inb = [buf(&r, u64::from(t) * 512 + 64, 256)];
            t!(r.q.add(&out, &inb, t));
        }
        assert!(t!(r.q.prepare_kick()));
        for t in 0..8u32 {
            let c = some!(t!(r.dev.pop()));
            assert_eq!(c.segs.len(), 2);
            assert!(!c.segs[0].write && c.segs[1].write);
            assert_eq!(c.segs[0].addr, r.pool_view.dma_addr() + u64::from(t) * 512);
            assert_eq!(c.segs[1].len, 256);
            let n = r.dev.fill(&c, 0xa0 + t as u8, 100);
            r.dev.push_used(u32::from(c.head), n);
        }
        assert!(t!(r.dev.pop()).is_none());
        for t in 0..8u32 {
            let u = some!(t!(r.q.get_used()));
            assert_eq!(u.token, t);
            assert_eq!(u.len, 100);
            let off = (t as usize) * 512 + 64;
            assert_eq!(r.pool_view.read_u8(off), 0xa0 + t as u8);
            assert_eq!(r.pool_view.read_u8(off + 99), 0xa0 + t as u8);
            assert_eq!(r.pool_view.read_u8(off + 100), 0);
        }
        assert!(t!(r.q.get_used()).is_none());
        assert_eq!(r.q.num_free(), 16);
        Ok(())
    }

    /// With indirect descriptors a multi-element buffer takes one ring
    /// entry, and the device finds every element through the table.
    #[test]
    fn indirect_chain() -> Result {
        // A chain may not be longer than the queue (spec §2.7.5.3.1), even
        // through an indirect table.
        let mut r = t!(rig(8, false, true));
        let out = [buf(&r, 0, 16), buf(&r, 16, 16)];
        let inb = [buf(&r, 4096, 1024), buf(&r, 8192, 1024), buf(&r, 12288, 1)];
        t!(r.q.add(&out, &inb, 7));
        assert_eq!(r.q.num_free(), 7);
        let c = some!(t!(r.dev.pop()));
        assert!(c.indirect);
        assert_eq!(c.segs.len(), 5);
        assert_eq!(c.segs[2].addr, r.pool_view.dma_addr() + 4096);
        assert!(c.segs[4].write && c.segs[4].len == 1);
        r.dev.push_used(u32::from(c.head), 2049);
        let u = some!(t!(r.q.get_used()));
        assert_eq!((u.token, u.len), (7, 2049));
        assert_eq!(r.q.num_free(), 8);
        Ok(())
    }

    /// 70,000 buffers through a 4-entry queue: the free-running 16-bit
    /// indices wrap past 65535 and every token comes back once, in order.
    #[test]
    fn index_wrap() -> Result {
        let mut r = t!(rig(4, true, false));
        let mut next_tok = 0u32;
        let mut want = 0u32;
        while want < 70_000 {
            while r.q.num_free() > 0 && next_tok < 70_000 {
                let b = [buf(&r, 0, 8)];
                t!(r.q.add(&[], &b, next_tok));
                next_tok += 1;
            }
            let _ = r.q.prepare_kick();
            while let Some(c) = t!(r.dev.pop()) {
                r.dev.push_used(u32::from(c.head), 8);
            }
            while let Some(u) = t!(r.q.get_used()) {
                if u.token != want || u.len != 8 {
                    return Err(EIO);
                }
                want += 1;
            }
        }
        assert_eq!(r.q.avail_idx(), (70_000u32 % 65536) as u16);
        assert_eq!(r.q.last_used_idx(), (70_000u32 % 65536) as u16);
        Ok(())
    }

    /// Notification suppression: without EVENT_IDX the used ring's
    /// NO_NOTIFY flag decides; with it, `avail_event` does, and
    /// `enable_cb` publishes `used_event`.
    #[test]
    fn notification_suppression() -> Result {
        let mut r = t!(rig(8, false, false));
        t!(r.q.add(&[], &[buf(&r, 0, 8)], 0));
        assert!(t!(r.q.prepare_kick()));
        r.dev.set_used_flags(1); // VIRTQ_USED_F_NO_NOTIFY
        t!(r.q.add(&[], &[buf(&r, 0, 8)], 1));
        assert!(!t!(r.q.prepare_kick()));

        drop(r);
        let mut r = t!(rig(8, true, false));
        // The device wants a kick once the available index passes 1.
        r.dev.set_avail_event(1);
        t!(r.q.add(&[], &[buf(&r, 0, 8)], 0));
        assert!(!t!(r.q.prepare_kick())); // 0 -> 1: event 1 not passed
        t!(r.q.add(&[], &[buf(&r, 0, 8)], 1));
        assert!(t!(r.q.prepare_kick())); // 1 -> 2: passed
                                         // Interrupt side: enable_cb asks for an interrupt at the next used
                                         // entry, and reports none pending.
        assert!(t!(r.q.enable_cb()));
        assert_eq!(r.dev.used_event(), r.q.last_used_idx());
        // A used entry published before the re-check is reported.
        r.q.disable_cb();
        let c = some!(t!(r.dev.pop()));
        r.dev.push_used(u32::from(c.head), 0);
        assert!(!t!(r.q.enable_cb()));
        Ok(())
    }

    /// A device that completes an id out of range, or one not in flight,
    /// breaks the queue with an error; every outstanding token comes back
    /// from `detach_unused` and the queue can be reinitialised.
    #[test]
    fn malicious_device() -> Result {
        let mut r = t!(rig(8, false, false));
        for t in 0..3u32 {
            t!(r.q.add(&[], &[buf(&r, 0, 8)], t));
        }
        r.dev.push_used(8, 0);
        assert!(matches!(r.q.get_used(), Err(RingError::BadId { .. })));
        assert!(r.q.is_broken());
        assert!(r.q.add(&[], &[buf(&r, 0, 8)], 9).is_err());
        let mut back = 0u32;
        while let Some(t) = r.q.detach_unused() {
            back |= 1 << t;
        }
        assert_eq!(back, 0b111);
        t!(r.q.reinit());
        assert!(!r.q.is_broken());

        // An id that is free (never added) is not in flight.
        drop(r);
        let mut r = t!(rig(8, false, false));
        t!(r.q.add(&[], &[buf(&r, 0, 8)], 0));
        r.dev.push_used(5, 0);
        assert!(matches!(r.q.get_used(), Err(RingError::NotInFlight { .. })));

        // A length beyond the writable bytes.
        drop(r);
        let mut r = t!(rig(8, false, false));
        t!(r.q.add(&[], &[buf(&r, 0, 8)], 0));
        let c = some!(t!(r.dev.pop()));
        r.dev.push_used(u32::from(c.head), 9);
        assert!(matches!(r.q.get_used(), Err(RingError::BadLen { .. })));

        // A used index that jumps past the queue size.
        drop(r);
        let mut r = t!(rig(8, false, false));
        t!(r.q.add(&[], &[buf(&r, 0, 8)], 0));
        r.dev.set_used_idx(9);
        assert!(matches!(r.q.get_used(), Err(RingError::IdxJump { .. })));
        assert!(r.q.is_broken());
        Ok(())
    }
}
