// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rvirtio_dma`: DMA addressing in the kernel. The core's
//! decision (`crate::virtio::dma::addressing`, host-tested in
//! `rust/virtio/tests/dma.rs`) with this kernel's answer to "does the
//! guest restrict memory access", and the kernel side that follows it:
//! rings, indirect tables and buffers addressed physically (no
//! `ACCESS_PLATFORM`) carry a split ring to the fake device as those in
//! coherent DMA memory do, and a physical mapping is the address the
//! direct DMA mapping gives on this platform (a faux device without an
//! IOMMU or bounce buffers).

use kernel::prelude::kunit_tests;

#[kunit_tests(rvirtio_dma)]
mod tests {
    use crate::kext::dma::{self, DmaDevice, MappedBuffer, SharedMem, TestDmaDevice};
    use crate::tests::{buf, rig_with};
    use crate::virtio::{
        dma::{addressing, Addressing, AddressingError},
        features::{Feature, Features},
        queue::Virtqueue,
    };
    use kernel::{dma::DataDirection, prelude::*};

    /// The guest the tests run in is not a confidential one: devices
    /// without ACCESS_PLATFORM are driven with physical addresses, and the
    /// same device is refused where memory access is restricted.
    #[test]
    fn decision_in_this_guest() {
        let modern = Features::single(Feature::VERSION_1);
        assert!(!dma::restricted_memory_access());
        assert_eq!(
            addressing(modern, dma::restricted_memory_access()),
            Ok(Addressing::Physical)
        );
        assert_eq!(
            addressing(modern, true),
            Err(AddressingError::NeedsAccessPlatform)
        );
        assert_eq!(
            addressing(modern.with(Feature::ACCESS_PLATFORM), true),
            Ok(Addressing::Platform)
        );
    }

    /// Buffers go out and come back through a ring, indirect tables and a
    /// buffer pool in physically addressed pages.
    #[test]
    fn physical_ring_round_trip() -> Result {
        let mut r = rig_with(8, true, true, Addressing::Physical)?;
        for t in 0..8u32 {
            let out = [buf(&r, u64::from(t) * 512, 16)];
            let inb = [buf(&r, u64::from(t) * 512 + 16, 32), buf(&r, 8192, 1)];
            r.q.add(&out, &inb, t).map_err(|e| {
                pr_err!("add: {:?}\n", e.error);
                EIO
            })?;
        }
        for t in 0..8u32 {
            let c = r.dev.pop()?.ok_or(EIO)?;
            assert!(c.indirect);
            assert_eq!(c.segs.len(), 3);
            assert_eq!(c.segs[0].addr, r.pool_view.dma_addr() + u64::from(t) * 512);
            let n = r.dev.fill(&c, 0x50 + t as u8, 32);
            r.dev.push_used(u32::from(c.head), n);
        }
        for t in 0..8u32 {
            let u = r.q.get_used().map_err(|_| EIO)?.ok_or(EIO)?;
            assert_eq!((u.token, u.len), (t, 32));
            assert_eq!(r.pool_view.read_u8(t as usize * 512 + 16), 0x50 + t as u8);
        }
        assert_eq!(r.q.num_free(), 8);
        Ok(())
    }

    /// Physically addressed memory is page-aligned and its address is
    /// what the direct DMA mapping of the same bytes gives here.
    #[test]
    fn physical_addresses_are_the_direct_mapping() -> Result {
        let t = TestDmaDevice::new(c"rvirtio-kunit-dma")?;
        let d = t.device();
        let mem = SharedMem::new(d, false, 100)?;
        assert_eq!(mem.len(), 100);
        assert_eq!(mem.dma_addr() % 4096, 0);
        assert_ne!(mem.dma_addr(), 0);

        let mut b = KVec::with_capacity(512, GFP_KERNEL)?;
        b.resize(512, 0u8, GFP_KERNEL)?;
        let phys = MappedBuffer::map(&DmaDevice::new(d, false), b, DataDirection::FromDevice)
            .map_err(|(e, _)| e)?;
        let paddr = phys.dma_addr();
        let b = phys.unmap();
        let api = MappedBuffer::map(&DmaDevice::new(d, true), b, DataDirection::FromDevice)
            .map_err(|(e, _)| e)?;
        assert_eq!(api.dma_addr(), paddr);
        drop(api);
        Ok(())
    }
}
