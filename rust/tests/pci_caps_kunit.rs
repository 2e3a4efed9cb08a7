// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rvirtio_pci_caps`: the virtio-PCI capability walk
//! (`crate::virtio::pci::parse_caps`, virtio 1.4 §4.1.4) run in the
//! kernel on crafted configuration spaces, built into the module exactly
//! as the PCI transport uses it. The host tests
//! (`rust/virtio/tests/pci_caps.rs`) cover the same parser in depth.

use kernel::prelude::kunit_tests;

#[kunit_tests(rvirtio_pci_caps)]
mod tests {
    use crate::virtio::pci::{
        parse_caps,
        BarInfo,
        CapError,
        ConfigSpace,
        ModernCaps,
        Region,
        CAP_COMMON_CFG,
        CAP_DEVICE_CFG,
        CAP_ISR_CFG,
        CAP_NOTIFY_CFG,
        CAP_PCI_CFG,
        PCI_CAPABILITY_LIST,
        PCI_CAP_ID_MSIX,
        PCI_CAP_ID_VNDR,
        PCI_STATUS,
        PCI_STATUS_CAP_LIST, //
    };
    use kernel::prelude::*;

    /// Compares two values; on a difference prints where, what and both
    /// values, and fails the test (KUnit's `assert_eq!` prints neither).
    macro_rules! check {
        ($got:expr, $want:expr) => {{
            let got = $got;
            let want = $want;
            if got != want {
                pr_err!(
                    "line {}: {}: got {:?}, want {:?}\n",
                    line!(),
                    stringify!($got),
                    got,
                    want
                );
                return Err(EINVAL);
            }
        }};
    }

    // Field offsets in `struct virtio_pci_cap` / `virtio_pci_notify_cap`.
    const CAP_LEN: usize = 2;
    const OFFSET: usize = 8;
    const LENGTH: usize = 12;
    const MULT: usize = 16;

    /// A 256-byte configuration space, and a builder for its capability
    /// list: each capability added is linked from the previous one's
    /// `cap_next` (the first from `PCI_CAPABILITY_LIST`). Reads of byte
    /// `fail`, and past 256 bytes, fail.
    struct Space {
        b: [u8; 256],
        /// Where the pointer to the next capability added goes.
        link: usize,
        fail: Option<u16>,
    }

    impl ConfigSpace for Space {
        fn read8(&self, offset: u16) -> Option<u8> {
            if self.fail == Some(offset) {
                return None;
            }
            self.b.get(usize::from(offset)).copied()
        }
    }

    impl Space {
        /// A header with `CAP_LIST` in its status and an empty list.
        fn new() -> Self {
            let mut s = Space {
                b: [0; 256],
                link: usize::from(PCI_CAPABILITY_LIST),
                fail: None,
            };
            s.put(usize::from(PCI_STATUS), &PCI_STATUS_CAP_LIST.to_le_bytes());
            s
        }

        /// Writes `bytes` at `at`, dropping what falls past config space.
        fn put(&mut self, at: usize, bytes: &[u8]) -> &mut Self {
            for (i, v) in bytes.iter().enumerate() {
                if let Some(x) = self.b.get_mut(at.wrapping_add(i)) {
                    *x = *v;
                }
            }
            self
        }

        fn put32(&mut self, at: usize, v: u32) -> &mut Self {
            self.put(at, &v.to_le_bytes())
        }

        /// Points the last capability's `cap_next` (or the list head) at
        /// `ptr`.
        fn link_to(&mut self, ptr: u8) -> &mut Self {
            let link = self.link;
            self.put(link, &[ptr])
        }

        /// Appends a capability with ID `id` at `pos`, ending the list.
        fn cap(&mut self, pos: u8, id: u8) -> &mut Self {
            self.link_to(pos);
            self.link = usize::from(pos).wrapping_add(1);
            self.put(usize::from(pos), &[id, 0])
        }

        /// Appends a `virtio_pci_cap` with an explicit `cap_len`.
        fn vndr(
            &mut self,
            pos: u8,
            cap_len: u8,
            cfg_type: u8,
            bar: u8,
            offset: u32,
            length: u32,
        ) -> &mut Self {
            let p = usize::from(pos);
            self.cap(pos, PCI_CAP_ID_VNDR)
                .put(p.wrapping_add(CAP_LEN), &[cap_len, cfg_type, bar])
                .put32(p.wrapping_add(OFFSET), offset)
                .put32(p.wrapping_add(LENGTH), length)
        }

        /// Appends a 16-byte `virtio_pci_cap`.
        fn virtio(
            &mut self,
            pos: u8,
            cfg_type: u8,
            bar: u8,
            offset: u32,
            length: u32,
        ) -> &mut Self {
            self.vndr(pos, 16, cfg_type, bar, offset, length)
        }

        /// Appends a 20-byte `virtio_pci_notify_cap`.
        fn notify(&mut self, pos: u8, bar: u8, offset: u32, length: u32, mult: u32) -> &mut Self {
            self.vndr(pos, 20, CAP_NOTIFY_CFG, bar, offset, length)
                .put32(usize::from(pos).wrapping_add(MULT), mult)
        }

        fn parse(&self) -> core::result::Result<Option<ModernCaps>, CapError> {
            parse_caps(self, &bars())
        }
    }

    /// QEMU's BARs: MSI-X in BAR 1, the virtio structures in the 16 KiB
    /// BAR 4.
    fn bars() -> [BarInfo; 6] {
        let mut b = [BarInfo::default(); 6];
        if let Some(x) = b.get_mut(1) {
            x.len = 0x1000;
        }
        if let Some(x) = b.get_mut(4) {
            x.len = 0x4000;
        }
        b
    }

    fn region(bar: u8, offset: u32, length: u32) -> Region {
        Region {
            bar,
            offset,
            length,
        }
    }

    /// The capability list of a QEMU modern virtio-pci device, at QEMU's
    /// offsets and in its order.
    fn qemu() -> Space {
        let mut s = Space::new();
        s.cap(0x98, PCI_CAP_ID_MSIX)
            .put(0x9a, &[2, 0, 1, 0, 0, 0, 1, 8, 0, 0])
            .vndr(0x84, 20, CAP_PCI_CFG, 0, 0, 0)
            .notify(0x70, 4, 0x3000, 0x1000, 4)
            .virtio(0x60, CAP_DEVICE_CFG, 4, 0x2000, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000);
        s
    }

    fn qemu_caps() -> ModernCaps {
        ModernCaps {
            common: region(4, 0, 0x1000),
            notify: region(4, 0x3000, 0x1000),
            notify_off_multiplier: 4,
            isr: region(4, 0x1000, 0x1000),
            device: Some(region(4, 0x2000, 0x1000)),
        }
    }

    // A minimal valid list: common at 0x40, ISR at 0x50, notify at 0x60
    // (20 bytes); more capabilities can be appended from `FREE` on.
    const COMMON_AT: usize = 0x40;
    const ISR_AT: usize = 0x50;
    const NOTIFY_AT: usize = 0x60;
    const FREE: u8 = 0x78;

    fn minimal() -> Space {
        let mut s = Space::new();
        s.virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .notify(0x60, 4, 0x3000, 0x1000, 4);
        s
    }

    fn minimal_caps() -> ModernCaps {
        ModernCaps {
            device: None,
            ..qemu_caps()
        }
    }

    /// A QEMU device's list parses to its four regions, whatever the
    /// capability order; the first instance of a type wins; reserved types
    /// and BARs are ignored.
    #[test]
    fn valid() -> Result {
        check!(qemu().parse(), Ok(Some(qemu_caps())));
        check!(minimal().parse(), Ok(Some(minimal_caps())));

        let mut s = Space::new();
        s.virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .virtio(0x60, CAP_DEVICE_CFG, 4, 0x2000, 0x1000)
            .notify(0x70, 4, 0x3000, 0x1000, 4)
            .vndr(0x84, 20, CAP_PCI_CFG, 0, 0, 0);
        check!(s.parse(), Ok(Some(qemu_caps())));

        // Later instances lose (they overlap the first ones).
        let mut s = minimal();
        s.virtio(0x78, CAP_COMMON_CFG, 4, 0x1000, 0x100)
            .virtio(0x88, CAP_ISR_CFG, 4, 0, 1);
        check!(s.parse(), Ok(Some(minimal_caps())));

        // Reserved cfg_type and BAR values are ignored, however invalid
        // the rest of the capability.
        let mut s = Space::new();
        s.vndr(0xa0, 0, 7, 9, 3, u32::MAX)
            .vndr(0xb0, 0, CAP_COMMON_CFG, 6, 2, 3)
            .vndr(0xc0, 1, CAP_ISR_CFG, 7, u32::MAX, 0)
            .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .notify(0x60, 4, 0x3000, 0x1000, 4);
        check!(s.parse(), Ok(Some(minimal_caps())));

        // Legacy only: no virtio capabilities.
        let mut s = Space::new();
        check!(s.parse(), Ok(None));
        s.cap(0x40, PCI_CAP_ID_MSIX);
        check!(s.parse(), Ok(None));

        // No capability list.
        let mut s = qemu();
        s.put(usize::from(PCI_STATUS), &[0, 0]);
        check!(s.parse(), Err(CapError::NoCapList));

        // Notification offsets stay inside the notify region.
        let caps = qemu_caps();
        check!(caps.notify_offset(3, 2), Some(12));
        check!(caps.notify_offset(1023, 4), Some(4092));
        check!(caps.notify_offset(1024, 2), None);
        check!(caps.notify_offset(u16::MAX, 2), None);
        Ok(())
    }

    /// Two structures sharing bytes of one BAR.
    #[test]
    fn overlapping() -> Result {
        let mut s = minimal();
        s.put32(ISR_AT + OFFSET, 0x800);
        check!(
            s.parse(),
            Err(CapError::Overlap {
                a: CAP_COMMON_CFG,
                b: CAP_ISR_CFG
            })
        );
        let mut s = minimal();
        s.virtio(FREE, CAP_DEVICE_CFG, 4, 0x2000, 0x1004);
        check!(
            s.parse(),
            Err(CapError::Overlap {
                a: CAP_NOTIFY_CFG,
                b: CAP_DEVICE_CFG
            })
        );
        // Adjacent is fine.
        let mut s = minimal();
        s.virtio(FREE, CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
        check!(
            s.parse().map(|c| c.map(|c| c.device)),
            Ok(Some(Some(region(4, 0x2000, 0x1000))))
        );
        Ok(())
    }

    /// A structure (partly) outside its BAR, including an `offset +
    /// length` that wraps in 32 bits.
    #[test]
    fn outside_bar() -> Result {
        let outside = |t| Err(CapError::OutsideBar { cfg_type: t });
        let mut s = minimal();
        s.put32(COMMON_AT + OFFSET, 0x3800);
        check!(s.parse(), outside(CAP_COMMON_CFG));
        let mut s = minimal();
        s.put32(NOTIFY_AT + LENGTH, 0x1001);
        check!(s.parse(), outside(CAP_NOTIFY_CFG));
        // BAR 3 is not implemented.
        let mut s = minimal();
        s.put(ISR_AT + 4, &[3]);
        check!(s.parse(), outside(CAP_ISR_CFG));
        let mut s = minimal();
        s.virtio(FREE, CAP_DEVICE_CFG, 4, 0xffff_fffc, 0x10);
        check!(s.parse(), outside(CAP_DEVICE_CFG));
        let mut s = minimal();
        s.virtio(FREE, CAP_DEVICE_CFG, 4, 0x8000_0000, 0x8000_0000);
        check!(s.parse(), outside(CAP_DEVICE_CFG));
        Ok(())
    }

    /// A capability shorter than its structure, or running past config
    /// space.
    #[test]
    fn truncated() -> Result {
        let trunc = |at| Err(CapError::Truncated { at });
        let mut s = minimal();
        s.put(COMMON_AT + CAP_LEN, &[15]);
        check!(s.parse(), trunc(0x40));
        let mut s = minimal();
        s.put(NOTIFY_AT + CAP_LEN, &[19]);
        check!(s.parse(), trunc(0x60));
        let mut s = minimal();
        s.put(NOTIFY_AT + CAP_LEN, &[16]);
        check!(s.parse(), trunc(0x60));
        let mut s = minimal();
        s.virtio(0xf8, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
        check!(s.parse(), trunc(0xf8));
        let mut s = minimal();
        s.virtio(0xfc, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
        check!(s.parse(), trunc(0xfc));
        let mut s = minimal();
        s.notify(0xf0, 4, 0, 0x100, 0);
        check!(s.parse(), trunc(0xf0));
        // A larger cap_len is accepted, and a capability may end exactly
        // at the end of config space.
        let mut s = minimal();
        s.put(COMMON_AT + CAP_LEN, &[0xff]);
        s.virtio(0xf0, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
        check!(
            s.parse().map(|c| c.map(|c| c.device)),
            Ok(Some(Some(region(4, 0x2000, 0x100))))
        );
        Ok(())
    }

    /// A list that comes back to a capability it visited.
    #[test]
    fn looping() -> Result {
        let looped = |at| Err(CapError::Loop { at });
        // Self-loop.
        let mut s = minimal();
        s.cap(FREE, 0x01).link_to(FREE);
        check!(s.parse(), looped(0x78));
        // Self-loop through the reserved low pointer bits.
        let mut s = minimal();
        s.cap(FREE, 0x01).link_to(FREE | 2);
        check!(s.parse(), looped(0x78));
        // Two capabilities pointing at each other.
        let mut s = Space::new();
        s.cap(0x40, PCI_CAP_ID_MSIX).cap(0x50, 0x01).link_to(0x40);
        check!(s.parse(), looped(0x40));
        // The whole QEMU list, back to its start.
        let mut s = qemu();
        s.link_to(0x98);
        check!(s.parse(), looped(0x98));
        // The longest list config space holds, then a repeat.
        let mut s = Space::new();
        for pos in (0x40..=0xfcu8).step_by(4) {
            s.cap(pos, 0x01);
        }
        check!(s.parse(), Ok(None));
        s.link_to(0x40);
        check!(s.parse(), looped(0x40));
        Ok(())
    }

    /// The other rejections: pointers into the header, misalignment, small
    /// structures, bad multipliers, missing structures, failed reads.
    #[test]
    fn other_rejections() -> Result {
        let mut s = minimal();
        s.link_to(0x3c);
        check!(
            s.parse(),
            Err(CapError::BadPointer {
                at: 0x61,
                ptr: 0x3c
            })
        );

        let mut s = minimal();
        s.put32(COMMON_AT + OFFSET, 2)
            .put32(COMMON_AT + LENGTH, 0x100);
        check!(
            s.parse(),
            Err(CapError::Misaligned {
                cfg_type: CAP_COMMON_CFG
            })
        );
        let mut s = minimal();
        s.put32(NOTIFY_AT + OFFSET, 0x3001)
            .put32(NOTIFY_AT + LENGTH, 0x10);
        check!(
            s.parse(),
            Err(CapError::Misaligned {
                cfg_type: CAP_NOTIFY_CFG
            })
        );

        let mut s = minimal();
        s.put32(COMMON_AT + LENGTH, 55);
        check!(
            s.parse(),
            Err(CapError::TooSmall {
                cfg_type: CAP_COMMON_CFG
            })
        );
        let mut s = minimal();
        s.put32(NOTIFY_AT + LENGTH, 1);
        check!(
            s.parse(),
            Err(CapError::TooSmall {
                cfg_type: CAP_NOTIFY_CFG
            })
        );
        let mut s = minimal();
        s.put32(ISR_AT + LENGTH, 0);
        check!(
            s.parse(),
            Err(CapError::TooSmall {
                cfg_type: CAP_ISR_CFG
            })
        );

        for m in [1u32, 3, 6] {
            let mut s = minimal();
            s.put32(NOTIFY_AT + MULT, m);
            check!(s.parse(), Err(CapError::BadMultiplier(m)));
        }

        let mut s = Space::new();
        s.virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000);
        check!(
            s.parse(),
            Err(CapError::Missing {
                cfg_type: CAP_NOTIFY_CFG
            })
        );

        for off in [PCI_STATUS, PCI_CAPABILITY_LIST, 0x40, 0x4b, 0x63, 0x73] {
            let mut s = qemu();
            s.fail = Some(off);
            check!(s.parse(), Err(CapError::ReadFailed));
        }
        Ok(())
    }
}
