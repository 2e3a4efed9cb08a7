// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rvirtio_mmio`: the virtio-mmio transport
//! (`crate::virtio::mmio::MmioTransport`, built into the module exactly as
//! the platform driver uses it) against a fake register window in kernel
//! memory with scripted values, for what QEMU cannot produce: a wrong
//! `MagicValue`, an unsupported `Version`, `QueueNumMax` 0, and a version 1
//! ring whose page frame number does not fit `QueuePFN`. Each must be a
//! clean refusal with a clear error. The fake implements the same
//! register access trait (`crate::virtio::mmio::Registers`) as the real
//! `ioremap()`ed window (`kext::mmio::IoWindow`). The host tests
//! (`rust/virtio/tests/mmio.rs`) cover the transport in depth.

use kernel::prelude::kunit_tests;

#[kunit_tests(rvirtio_mmio)]
mod tests {
    use crate::virtio::{
        mmio::{reg, HeaderError, MmioTransport, Registers, Version, MAGIC},
        queue::QueueConfig,
        transport::{activate_queue, Transport, TransportError, TransportKind},
    };
    use core::sync::atomic::{AtomicU32, Ordering};
    use kernel::{prelude::*, str::CString};

    const WORDS: usize = 0x200 / 4;

    /// A 0x200-byte register window in kernel memory: each 32-bit register
    /// holds what was scripted or last written, except `QueueNumMax`, which
    /// reads the scripted maximum of the selected queue.
    struct FakeWindow {
        words: KBox<[AtomicU32; WORDS]>,
        queue_max: [u32; 2],
        writes: AtomicU32,
    }

    impl FakeWindow {
        fn new(magic: u32, version: u32, device_id: u32, queue_max: [u32; 2]) -> Result<Self> {
            let words = KBox::new([const { AtomicU32::new(0) }; WORDS], GFP_KERNEL)?;
            let w = Self {
                words,
                queue_max,
                writes: AtomicU32::new(0),
            };
            w.set(reg::MAGIC_VALUE, magic);
            w.set(reg::VERSION, version);
            w.set(reg::DEVICE_ID, device_id);
            Ok(w)
        }

        fn word(&self, off: usize) -> Result<&AtomicU32, TransportError> {
            if off % 4 != 0 {
                return Err(TransportError::OutOfRange);
            }
            self.words.get(off / 4).ok_or(TransportError::OutOfRange)
        }

        fn set(&self, off: usize, v: u32) {
            if let Ok(w) = self.word(off) {
                w.store(v, Ordering::Relaxed);
            }
        }

        fn get(&self, off: usize) -> u32 {
            self.word(off).map_or(0, |w| w.load(Ordering::Relaxed))
        }
    }

    impl Registers for FakeWindow {
        fn len(&self) -> usize {
            WORDS * 4
        }

        fn read32(&self, off: usize) -> Result<u32, TransportError> {
            if off == reg::QUEUE_NUM_MAX {
                let sel = self.get(reg::QUEUE_SEL) as usize;
                return Ok(self.queue_max.get(sel).copied().unwrap_or(0));
            }
            Ok(self.word(off)?.load(Ordering::Relaxed))
        }

        fn write32(&self, off: usize, value: u32) -> Result<(), TransportError> {
            self.word(off)?.store(value, Ordering::Relaxed);
            self.writes.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }

        fn read16(&self, off: usize) -> Result<u16, TransportError> {
            let w = self.read32(off & !3)?.to_le_bytes();
            let i = off & 2;
            Ok(u16::from_le_bytes([w[i], w[i + 1]]))
        }

        fn write16(&self, _off: usize, _value: u16) -> Result<(), TransportError> {
            Err(TransportError::NotSupported)
        }

        fn read8(&self, off: usize) -> Result<u8, TransportError> {
            Ok(self.read32(off & !3)?.to_le_bytes()[off & 3])
        }

        fn write8(&self, _off: usize, _value: u8) -> Result<(), TransportError> {
            Err(TransportError::NotSupported)
        }
    }

    /// Whether `e` formats to a message containing `needle`.
    fn says(e: &HeaderError, needle: &[u8]) -> Result<bool> {
        let s = CString::try_from_fmt(fmt!("{}", e))?;
        pr_info!("refusal message: {}\n", e);
        Ok(s.to_bytes().windows(needle.len()).any(|w| w == needle))
    }

    #[test]
    fn bad_magic_is_refused() -> Result {
        let w = FakeWindow::new(0x1234_5678, 2, 4, [8, 8])?;
        match MmioTransport::new(w) {
            Err(e) => {
                assert_eq!(e, HeaderError::BadMagic(0x1234_5678));
                assert!(says(&e, b"MagicValue 0x12345678")?);
            }
            Ok(_) => {
                pr_err!("a wrong MagicValue was accepted\n");
                assert!(false);
            }
        }
        Ok(())
    }

    #[test]
    fn version_3_is_refused() -> Result {
        let w = FakeWindow::new(MAGIC, 3, 4, [8, 8])?;
        match MmioTransport::new(w) {
            Err(e) => {
                assert_eq!(e, HeaderError::BadVersion(3));
                assert!(says(&e, b"Version 3")?);
            }
            Ok(_) => {
                pr_err!("Version 3 was accepted\n");
                assert!(false);
            }
        }
        Ok(())
    }

    #[test]
    fn versions_1_and_2_are_accepted() -> Result {
        let Ok(t) = MmioTransport::new(FakeWindow::new(MAGIC, 1, 2, [8, 8])?) else {
            return Err(EINVAL);
        };
        assert_eq!(t.version(), Version::Legacy);
        assert!(t.kind() == TransportKind::MmioLegacy);
        let Ok(t) = MmioTransport::new(FakeWindow::new(MAGIC, 2, 2, [8, 8])?) else {
            return Err(EINVAL);
        };
        assert_eq!(t.version(), Version::Modern);
        Ok(())
    }

    #[test]
    fn queue_num_max_0_is_no_queue() -> Result {
        let Ok(t) = MmioTransport::new(FakeWindow::new(MAGIC, 2, 4, [0, 8])?) else {
            return Err(EINVAL);
        };
        let cfg = QueueConfig {
            size: 8,
            desc: 0x10_0000,
            driver: 0x10_1000,
            device: 0x10_2000,
            legacy_align: 0,
        };
        assert_eq!(t.queue_max(0), Ok(0));
        assert_eq!(
            activate_queue(&mut &t, 0, &cfg),
            Err(TransportError::NoQueue)
        );
        assert_eq!(t.program_queue(0, &cfg), Err(TransportError::NoQueue));
        let w = t.registers();
        assert_eq!(w.get(reg::QUEUE_NUM), 0);
        assert_eq!(w.get(reg::QUEUE_READY), 0);
        assert_eq!(w.get(reg::QUEUE_DESC_LOW), 0);
        // The queue that exists works.
        assert_eq!(activate_queue(&mut &t, 1, &cfg), Ok(()));
        assert_eq!(w.get(reg::QUEUE_NUM), 8);
        assert_eq!(w.get(reg::QUEUE_READY), 1);
        Ok(())
    }

    #[test]
    fn legacy_ring_beyond_pfn_is_refused() -> Result {
        let Ok(t) = MmioTransport::new(FakeWindow::new(MAGIC, 1, 4, [16, 16])?) else {
            return Err(EINVAL);
        };
        for desc in [1u64 << 44, !0xfffu64, 0x1_0000_0800] {
            let cfg = QueueConfig {
                size: 16,
                desc,
                driver: 0,
                device: 0,
                legacy_align: 4096,
            };
            let writes = t.registers().writes.load(Ordering::Relaxed);
            // The transport refuses it before writing any register...
            assert_eq!(t.program_queue(0, &cfg), Err(TransportError::InvalidQueue));
            assert_eq!(t.registers().writes.load(Ordering::Relaxed), writes);
            // ...and so does the core's activation (which selects the
            // queue first, to read its maximum).
            assert_eq!(
                activate_queue(&mut &t, 0, &cfg),
                Err(TransportError::InvalidQueue)
            );
        }
        let w = t.registers();
        assert_eq!(w.get(reg::QUEUE_PFN), 0);
        assert_eq!(w.get(reg::QUEUE_NUM), 0);
        assert_eq!(w.get(reg::GUEST_PAGE_SIZE), 0);
        // The highest ring that fits: PFN 0xffffffff.
        let cfg = QueueConfig {
            size: 16,
            desc: 0xffff_ffffu64 << 12,
            driver: 0,
            device: 0,
            legacy_align: 4096,
        };
        assert_eq!(activate_queue(&mut &t, 0, &cfg), Ok(()));
        assert_eq!(w.get(reg::QUEUE_PFN), 0xffff_ffff);
        assert_eq!(w.get(reg::GUEST_PAGE_SIZE), 4096);
        assert_eq!(w.get(reg::QUEUE_ALIGN), 4096);
        Ok(())
    }
}
