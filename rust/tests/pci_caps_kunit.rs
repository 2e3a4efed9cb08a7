// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `rvirtio_pci_caps`: the virtio-PCI capability walk
//! (`crate::virtio::pci::parse_caps`, virtio 1.4 §4.1.4) run in the
//! kernel on crafted configuration spaces, built into the module exactly
//! as the PCI transport uses it. The host tests
//! (`rust/virtio/tests/pci_caps.rs`) cover the same parser in depth.

use crate::virtio::pci;
use kernel::prelude::kunit_tests;

#[path = "../virtio/tests/common/pci_builder.rs"]
mod pci_builder;

#[kunit_tests(rvirtio_pci_caps)]
mod tests {
    use crate::virtio::pci::{
        parse_caps,
        BarInfo,
        CapError,
        ConfigSpace,
        ModernCaps,
        CAP_COMMON_CFG,
        CAP_DEVICE_CFG,
        CAP_ISR_CFG,
        CAP_NOTIFY_CFG,
        CAP_PCI_CFG,
        PCI_CAPABILITY_LIST,
        PCI_CAP_ID_MSIX,
        PCI_STATUS, //
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

    use super::pci_builder::{
        minimal,
        minimal_caps,
        qemu,
        qemu_bars,
        qemu_caps,
        region,
        Builder,
        CAP_LEN,
        COMMON_AT,
        FREE,
        ISR_AT,
        LENGTH,
        MULT,
        NOTIFY_AT,
        OFFSET, //
    };

    impl ConfigSpace for Builder {
        fn read8(&self, offset: u16) -> Option<u8> {
            self.b.get(usize::from(offset)).copied()
        }
    }

    impl Builder {
        fn parse(&self) -> core::result::Result<Option<ModernCaps>, CapError> {
            parse_caps(self, &bars())
        }
    }

    /// A configuration space whose byte `.1` cannot be read.
    struct Failing(Builder, u16);

    impl ConfigSpace for Failing {
        fn read8(&self, offset: u16) -> Option<u8> {
            if offset == self.1 {
                return None;
            }
            self.0.read8(offset)
        }
    }

    fn bars() -> [BarInfo; 6] {
        qemu_bars()
    }

    /// A QEMU device's list parses to its four regions, whatever the
    /// capability order; the first instance of a type wins; reserved types
    /// and BARs are ignored.
    #[test]
    fn valid() -> Result {
        check!(qemu().parse(), Ok(Some(qemu_caps())));
        check!(minimal().parse(), Ok(Some(minimal_caps())));

        let s = Builder::new()
            .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .virtio(0x60, CAP_DEVICE_CFG, 4, 0x2000, 0x1000)
            .notify(0x70, 4, 0x3000, 0x1000, 4)
            .vndr(0x84, 20, CAP_PCI_CFG, 0, 0, 0);
        check!(s.parse(), Ok(Some(qemu_caps())));

        // Later instances lose (they overlap the first ones).
        let s = minimal()
            .virtio(0x78, CAP_COMMON_CFG, 4, 0x1000, 0x100)
            .virtio(0x88, CAP_ISR_CFG, 4, 0, 1);
        check!(s.parse(), Ok(Some(minimal_caps())));

        // Reserved cfg_type and BAR values are ignored, however invalid
        // the rest of the capability.
        let s = Builder::new()
            .vndr(0xa0, 0, 7, 9, 3, u32::MAX)
            .vndr(0xb0, 0, CAP_COMMON_CFG, 6, 2, 3)
            .vndr(0xc0, 1, CAP_ISR_CFG, 7, u32::MAX, 0)
            .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .notify(0x60, 4, 0x3000, 0x1000, 4);
        check!(s.parse(), Ok(Some(minimal_caps())));

        // Legacy only: no virtio capabilities.
        let s = Builder::new();
        check!(s.parse(), Ok(None));
        let s = s.msix(0x40);
        check!(s.parse(), Ok(None));

        // No capability list.
        let s = qemu().put(usize::from(PCI_STATUS), &[0, 0]);
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
        let s = minimal().put32(ISR_AT + OFFSET, 0x800);
        check!(
            s.parse(),
            Err(CapError::Overlap {
                a: CAP_COMMON_CFG,
                b: CAP_ISR_CFG
            })
        );
        let s = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x2000, 0x1004);
        check!(
            s.parse(),
            Err(CapError::Overlap {
                a: CAP_NOTIFY_CFG,
                b: CAP_DEVICE_CFG
            })
        );
        // Adjacent is fine.
        let s = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
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
        let s = minimal().put32(COMMON_AT + OFFSET, 0x3800);
        check!(s.parse(), outside(CAP_COMMON_CFG));
        let s = minimal().put32(NOTIFY_AT + LENGTH, 0x1001);
        check!(s.parse(), outside(CAP_NOTIFY_CFG));
        // BAR 3 is not implemented.
        let s = minimal().put(ISR_AT + 4, &[3]);
        check!(s.parse(), outside(CAP_ISR_CFG));
        let s = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0xffff_fffc, 0x10);
        check!(s.parse(), outside(CAP_DEVICE_CFG));
        let s = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x8000_0000, 0x8000_0000);
        check!(s.parse(), outside(CAP_DEVICE_CFG));
        Ok(())
    }

    /// A capability shorter than its structure, or running past config
    /// space.
    #[test]
    fn truncated() -> Result {
        let trunc = |at| Err(CapError::Truncated { at });
        let s = minimal().put(COMMON_AT + CAP_LEN, &[15]);
        check!(s.parse(), trunc(0x40));
        let s = minimal().put(NOTIFY_AT + CAP_LEN, &[19]);
        check!(s.parse(), trunc(0x60));
        let s = minimal().put(NOTIFY_AT + CAP_LEN, &[16]);
        check!(s.parse(), trunc(0x60));
        let s = minimal().virtio(0xf8, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
        check!(s.parse(), trunc(0xf8));
        let s = minimal().virtio(0xfc, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
        check!(s.parse(), trunc(0xfc));
        let s = minimal().notify(0xf0, 4, 0, 0x100, 0);
        check!(s.parse(), trunc(0xf0));
        // A larger cap_len is accepted, and a capability may end exactly
        // at the end of config space.
        let s = minimal().put(COMMON_AT + CAP_LEN, &[0xff]).virtio(
            0xf0,
            CAP_DEVICE_CFG,
            4,
            0x2000,
            0x100,
        );
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
        let s = minimal().cap(FREE, 0x01, &[]).link_to(FREE);
        check!(s.parse(), looped(0x78));
        // Self-loop through the reserved low pointer bits.
        let s = minimal().cap(FREE, 0x01, &[]).link_to(FREE | 2);
        check!(s.parse(), looped(0x78));
        // Two capabilities pointing at each other.
        let s = Builder::new()
            .cap(0x40, PCI_CAP_ID_MSIX, &[])
            .cap(0x50, 0x01, &[])
            .link_to(0x40);
        check!(s.parse(), looped(0x40));
        // The whole QEMU list, back to its start.
        let s = qemu().link_to(0x98);
        check!(s.parse(), looped(0x98));
        // The longest list config space holds, then a repeat.
        let mut s = Builder::new();
        for pos in (0x40..=0xfcu8).step_by(4) {
            s = s.cap(pos, 0x01, &[]);
        }
        check!(s.parse(), Ok(None));
        let s = s.link_to(0x40);
        check!(s.parse(), looped(0x40));
        Ok(())
    }

    /// The other rejections: pointers into the header, misalignment, small
    /// structures, bad multipliers, missing structures, failed reads.
    #[test]
    fn other_rejections() -> Result {
        let s = minimal().link_to(0x3c);
        check!(
            s.parse(),
            Err(CapError::BadPointer {
                at: 0x61,
                ptr: 0x3c
            })
        );

        let s = minimal()
            .put32(COMMON_AT + OFFSET, 2)
            .put32(COMMON_AT + LENGTH, 0x100);
        check!(
            s.parse(),
            Err(CapError::Misaligned {
                cfg_type: CAP_COMMON_CFG
            })
        );
        let s = minimal()
            .put32(NOTIFY_AT + OFFSET, 0x3001)
            .put32(NOTIFY_AT + LENGTH, 0x10);
        check!(
            s.parse(),
            Err(CapError::Misaligned {
                cfg_type: CAP_NOTIFY_CFG
            })
        );

        let s = minimal().put32(COMMON_AT + LENGTH, 55);
        check!(
            s.parse(),
            Err(CapError::TooSmall {
                cfg_type: CAP_COMMON_CFG
            })
        );
        let s = minimal().put32(NOTIFY_AT + LENGTH, 1);
        check!(
            s.parse(),
            Err(CapError::TooSmall {
                cfg_type: CAP_NOTIFY_CFG
            })
        );
        let s = minimal().put32(ISR_AT + LENGTH, 0);
        check!(
            s.parse(),
            Err(CapError::TooSmall {
                cfg_type: CAP_ISR_CFG
            })
        );

        for m in [1u32, 3, 6] {
            let s = minimal().put32(NOTIFY_AT + MULT, m);
            check!(s.parse(), Err(CapError::BadMultiplier(m)));
        }

        let s = Builder::new()
            .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000);
        check!(
            s.parse(),
            Err(CapError::Missing {
                cfg_type: CAP_NOTIFY_CFG
            })
        );

        for off in [PCI_STATUS, PCI_CAPABILITY_LIST, 0x40, 0x4b, 0x63, 0x73] {
            check!(
                parse_caps(&Failing(qemu(), off), &bars()),
                Err(CapError::ReadFailed)
            );
        }
        Ok(())
    }
}
