// SPDX-License-Identifier: GPL-2.0

//! The virtio-PCI capability walk (`pci::parse_caps`, spec 1.4 §4.1.4) on
//! crafted configuration spaces: a QEMU-like layout, the spec's "ignore"
//! and "first instance" rules, every rejection, and property tests on
//! random and mutated configuration spaces.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use proptest::prelude::*;
use rvirtio_core::pci::{
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
    CAP_SHARED_MEMORY_CFG,
    CAP_VENDOR_CFG,
    PCI_CAPABILITY_LIST,
    PCI_CAP_ID_MSIX,
    PCI_CAP_ID_VNDR,
    PCI_STATUS,
    PCI_STATUS_CAP_LIST, //
};
use std::cell::RefCell;
use std::collections::BTreeSet;

use rvirtio_core::pci;

#[path = "common/pci_builder.rs"]
mod pci_builder;
use pci_builder::{
    minimal, minimal_caps, qemu, qemu_bars, qemu_caps, region, Builder, BAR, CAP_LEN, CFG_TYPE,
    COMMON_AT, FREE, ISR_AT, LENGTH, MULT, NOTIFY_AT, OFFSET,
};

/// PCI capability ID of power management: a non-vendor capability.
const PCI_CAP_ID_PM: u8 = 0x01;

/// A 256-byte configuration space. Reads past it, or of byte `fail`,
/// return `None`; every offset read is recorded.
struct Space {
    bytes: [u8; 256],
    fail: Option<u16>,
    reads: RefCell<Vec<u16>>,
}

impl Space {
    fn failing_at(&self, off: u16) -> Space {
        Space {
            bytes: self.bytes,
            fail: Some(off),
            reads: RefCell::default(),
        }
    }

    fn parse(&self, bars: &[BarInfo; 6]) -> Result<Option<ModernCaps>, CapError> {
        parse_caps(self, bars)
    }
}

impl ConfigSpace for Space {
    fn read8(&self, offset: u16) -> Option<u8> {
        self.reads.borrow_mut().push(offset);
        if self.fail == Some(offset) {
            return None;
        }
        self.bytes.get(usize::from(offset)).copied()
    }
}

impl Builder {
    fn space(&self) -> Space {
        Space {
            bytes: self.b,
            fail: None,
            reads: RefCell::default(),
        }
    }

    fn parse(&self, bars: &[BarInfo; 6]) -> Result<Option<ModernCaps>, CapError> {
        self.space().parse(bars)
    }
}

fn bars(sizes: &[(usize, u64)]) -> [BarInfo; 6] {
    let mut b = [BarInfo::default(); 6];
    for &(i, len) in sizes {
        b[i].len = len;
    }
    b
}

// ---------------------------------------------------------------------------
// Accepted layouts

#[test]
fn qemu_layout() {
    assert_eq!(qemu().parse(&qemu_bars()), Ok(Some(qemu_caps())));
}

#[test]
fn qemu_layout_in_ascending_order() {
    let b = Builder::new()
        .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
        .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
        .virtio(0x60, CAP_DEVICE_CFG, 4, 0x2000, 0x1000)
        .notify(0x70, 4, 0x3000, 0x1000, 4)
        .vndr(0x84, 20, CAP_PCI_CFG, 0, 0, 0)
        .msix(0x98);
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(qemu_caps())));
}

#[test]
fn minimal_layout_without_device_cfg() {
    assert_eq!(minimal().parse(&qemu_bars()), Ok(Some(minimal_caps())));
}

#[test]
fn structures_in_different_bars() {
    // Same offsets in different BARs do not overlap; an I/O BAR of 64
    // bytes is enough for an ISR byte and a 2-byte notify region.
    let b = Builder::new()
        .virtio(0x40, CAP_COMMON_CFG, 0, 0, 56)
        .virtio(0x50, CAP_ISR_CFG, 2, 0, 1)
        .notify(0x60, 5, 0, 2, 0)
        .virtio(0x74, CAP_DEVICE_CFG, 3, 0, 0x100);
    let r = b.parse(&bars(&[(0, 56), (2, 64), (3, 0x100), (5, 2)]));
    assert_eq!(
        r,
        Ok(Some(ModernCaps {
            common: region(0, 0, 56),
            notify: region(5, 0, 2),
            notify_off_multiplier: 0,
            isr: region(2, 0, 1),
            device: Some(region(3, 0, 0x100)),
        }))
    );
}

#[test]
fn adjacent_regions_do_not_overlap() {
    let b = Builder::new()
        .virtio(0x40, CAP_COMMON_CFG, 4, 0, 56)
        .virtio(0x50, CAP_ISR_CFG, 4, 56, 1)
        .notify(0x60, 4, 58, 2, 0)
        .virtio(0x74, CAP_DEVICE_CFG, 4, 60, 4);
    let caps = b.parse(&bars(&[(4, 64)])).unwrap().unwrap();
    assert_eq!(caps.isr, region(4, 56, 1));
    assert_eq!(caps.notify, region(4, 58, 2));
    assert_eq!(caps.device, Some(region(4, 60, 4)));
}

#[test]
fn region_ending_exactly_at_bar_end() {
    let b = minimal()
        .put32(NOTIFY_AT + LENGTH, 0xffc)
        .virtio(FREE, CAP_DEVICE_CFG, 4, 0x3ffc, 4);
    let mut want = minimal_caps();
    want.notify.length = 0xffc;
    want.device = Some(region(4, 0x3ffc, 4));
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(want)));
}

#[test]
fn region_beyond_4gib_in_a_64bit_bar() {
    // offset + length overflows a u32 but lies inside an 8 GiB BAR: valid.
    let b = minimal().virtio(FREE, CAP_DEVICE_CFG, 2, 0xffff_f000, 0x2000);
    let caps = b
        .parse(&bars(&[(2, 8 << 30), (4, 0x4000)]))
        .unwrap()
        .unwrap();
    assert_eq!(caps.device, Some(region(2, 0xffff_f000, 0x2000)));
}

#[test]
fn larger_cap_len_is_accepted() {
    // "The driver MUST accept a cap_len value which is larger than
    // specified here."
    for len in [17u8, 24, 0x40, 0xff] {
        let b = minimal()
            .put(COMMON_AT + CAP_LEN, &[len])
            .put(ISR_AT + CAP_LEN, &[len]);
        assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())), "{len}");
    }
    let b = minimal().put(NOTIFY_AT + CAP_LEN, &[0xff]);
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())));
}

#[test]
fn large_lengths_are_accepted() {
    // "The drivers MUST handle an unexpectedly large length."
    let b = Builder::new()
        .virtio(0x40, CAP_COMMON_CFG, 0, 0, 0x10_0000)
        .virtio(0x50, CAP_ISR_CFG, 1, 0, u32::MAX)
        .notify(0x60, 2, 0, 0x8000_0000, 0x8000_0000);
    let caps = b
        .parse(&bars(&[(0, 0x10_0000), (1, 1 << 32), (2, 1 << 31)]))
        .unwrap()
        .unwrap();
    assert_eq!(caps.isr, region(1, 0, u32::MAX));
    assert_eq!(caps.notify_off_multiplier, 0x8000_0000);
}

#[test]
fn isr_needs_no_alignment() {
    let b = minimal().put32(ISR_AT + OFFSET, 0x1001);
    let caps = b.parse(&qemu_bars()).unwrap().unwrap();
    assert_eq!(caps.isr, region(4, 0x1001, 0x1000));
}

#[test]
fn valid_multipliers() {
    for m in [0u32, 2, 4, 8, 0x1000, 0x8000_0000] {
        let b = minimal().put32(NOTIFY_AT + MULT, m);
        let caps = b.parse(&qemu_bars()).unwrap().unwrap();
        assert_eq!(caps.notify_off_multiplier, m);
    }
}

#[test]
fn zero_length_device_cfg() {
    // The device cfg has no minimum size: a zero-length one overlaps
    // nothing.
    let b = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x800, 0);
    let caps = b.parse(&qemu_bars()).unwrap().unwrap();
    assert_eq!(caps.device, Some(region(4, 0x800, 0)));
}

#[test]
fn pointer_low_bits_are_masked() {
    // The bottom two bits of a capability pointer are reserved (PCI).
    let mut b = minimal();
    b.b[usize::from(PCI_CAPABILITY_LIST)] = 0x43;
    b.b[COMMON_AT + 1] = 0x52;
    b.b[ISR_AT + 1] = 0x61;
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())));
    // A pointer of 1 to 3 ends the list: the (invalid) capability it
    // would otherwise reach is never read.
    let mut b = minimal().virtio(FREE, CAP_COMMON_CFG, 4, 0x3800, 0x1000);
    assert!(b.parse(&qemu_bars()).is_err());
    b.b[NOTIFY_AT + 1] = 3;
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())));
}

#[test]
fn longest_possible_list() {
    // 48 capabilities, one in every dword from 0x40 to 0xfc: the most
    // config space holds, and not a loop.
    let mut b = Builder::new();
    for pos in (0x40..=0xfcu8).step_by(4) {
        b = b.cap(pos, PCI_CAP_ID_PM, &[]);
    }
    assert_eq!(b.parse(&qemu_bars()), Ok(None));
    // A valid device followed by a PM capability in every free dword.
    let mut b = minimal().virtio(0x74, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
    for pos in (0x84..=0xfcu8).step_by(4) {
        b = b.cap(pos, PCI_CAP_ID_PM, &[]);
    }
    let mut want = minimal_caps();
    want.device = Some(region(4, 0x2000, 0x100));
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(want)));
}

// ---------------------------------------------------------------------------
// The spec's selection rules (§4.1.4 driver requirements)

#[test]
fn first_instance_of_each_type_wins() {
    // Two of each: the first in list order is used, not the lowest address.
    let b = Builder::new()
        .virtio(0xa0, CAP_COMMON_CFG, 4, 0, 0x1000)
        .notify(0xb0, 4, 0x3000, 0x1000, 4)
        .virtio(0xc4, CAP_ISR_CFG, 4, 0x1000, 0x1000)
        .virtio(0xd4, CAP_DEVICE_CFG, 4, 0x2000, 0x1000)
        // Second instances, which overlap the first ones: never compared.
        .virtio(0x40, CAP_COMMON_CFG, 4, 0x1000, 0x100)
        .notify(0x50, 2, 0, 4, 0)
        .virtio(0x64, CAP_ISR_CFG, 4, 0, 1)
        .virtio(0x74, CAP_DEVICE_CFG, 4, 0, 0x100);
    assert_eq!(
        b.parse(&bars(&[(2, 4), (4, 0x4000)])),
        Ok(Some(qemu_caps()))
    );
}

#[test]
fn later_instances_are_still_validated() {
    // Fail closed: a malformed capability of a used type is refused even
    // when an earlier instance of the type was valid.
    let b = minimal().virtio(FREE, CAP_COMMON_CFG, 4, 0x3800, 0x1000);
    assert_eq!(
        b.parse(&qemu_bars()),
        Err(CapError::OutsideBar {
            cfg_type: CAP_COMMON_CFG
        })
    );
    let b = minimal().notify(FREE, 4, 0, 4, 3);
    assert_eq!(b.parse(&qemu_bars()), Err(CapError::BadMultiplier(3)));
}

#[test]
fn reserved_and_unused_cfg_types_are_ignored() {
    // Garbage everywhere but the type: cap_len 0, BAR 9, huge regions.
    for t in [
        0u8,
        6,
        7,
        10,
        0x7f,
        0xff,
        CAP_PCI_CFG,
        CAP_SHARED_MEMORY_CFG,
        CAP_VENDOR_CFG,
    ] {
        let b = Builder::new()
            .vndr(0x40, 0, t, 9, 0xffff_ffff, 0xffff_ffff)
            .virtio(0x50, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x60, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .vndr(0x70, 1, t, 4, 1, 0)
            .notify(0x80, 4, 0x3000, 0x1000, 4)
            .vndr(0x94, 0xff, t, 0, 0, 0x1_0000);
        assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())), "type {t}");
    }
}

#[test]
fn reserved_bars_are_ignored() {
    for bar in [6u8, 7, 8, 0x80, 0xff] {
        // Each reserved-BAR capability comes first and is invalid in every
        // other way (cap_len 0, misaligned, too small, outside any BAR).
        let b = Builder::new()
            .vndr(0xa0, 0, CAP_COMMON_CFG, bar, 2, 3)
            .vndr(0xb0, 1, CAP_NOTIFY_CFG, bar, 1, 0)
            .vndr(0xc4, 2, CAP_ISR_CFG, bar, 0xffff_ffff, 0)
            .vndr(0xd4, 3, CAP_DEVICE_CFG, bar, 2, u32::MAX)
            .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
            .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
            .notify(0x60, 4, 0x3000, 0x1000, 4)
            .virtio(0x74, CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
        assert_eq!(b.parse(&qemu_bars()), Ok(Some(qemu_caps())), "bar {bar}");
    }
}

#[test]
fn legacy_only_device() {
    // No capabilities at all.
    assert_eq!(Builder::new().parse(&qemu_bars()), Ok(None));
    // Only non-virtio capabilities (QEMU with disable-modern=on).
    let b = Builder::new().msix(0x40).cap(0x50, PCI_CAP_ID_PM, &[0; 6]);
    assert_eq!(b.parse(&qemu_bars()), Ok(None));
    // Only virtio capabilities the driver must ignore.
    let b = Builder::new()
        .msix(0x40)
        .vndr(0x50, 20, CAP_PCI_CFG, 0, 0, 0)
        .vndr(0x64, 16, 0x33, 0, 0, 0)
        .vndr(0x74, 16, CAP_COMMON_CFG, 7, 0, 0x1000);
    assert_eq!(b.parse(&qemu_bars()), Ok(None));
}

#[test]
fn no_cap_list() {
    let mut b = qemu();
    b.b[usize::from(PCI_STATUS)] &= !(PCI_STATUS_CAP_LIST as u8);
    assert_eq!(b.parse(&qemu_bars()), Err(CapError::NoCapList));
    // Other status bits do not matter.
    let mut b = qemu();
    b.b[usize::from(PCI_STATUS)] = !(PCI_STATUS_CAP_LIST as u8);
    b.b[usize::from(PCI_STATUS) + 1] = 0xff;
    assert_eq!(b.parse(&qemu_bars()), Err(CapError::NoCapList));
    let mut b = qemu();
    b.b[usize::from(PCI_STATUS)] = 0xff;
    b.b[usize::from(PCI_STATUS) + 1] = 0xff;
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(qemu_caps())));
}

// ---------------------------------------------------------------------------
// Rejections

#[test]
fn overlapping_regions() {
    let cases: [(Builder, u8, u8); 6] = [
        // ISR inside common.
        (
            minimal().put32(ISR_AT + OFFSET, 0x800),
            CAP_COMMON_CFG,
            CAP_ISR_CFG,
        ),
        // Notify straddles the end of common.
        (
            minimal().put32(NOTIFY_AT + OFFSET, 0xffe),
            CAP_COMMON_CFG,
            CAP_NOTIFY_CFG,
        ),
        // Notify and ISR share their last/first byte.
        (
            minimal()
                .put32(NOTIFY_AT + OFFSET, 0x1000)
                .put32(ISR_AT + OFFSET, 0x1fff),
            CAP_NOTIFY_CFG,
            CAP_ISR_CFG,
        ),
        // Device cfg overlaps notify.
        (
            minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x2000, 0x1004),
            CAP_NOTIFY_CFG,
            CAP_DEVICE_CFG,
        ),
        // Device cfg identical to common.
        (
            minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0, 0x1000),
            CAP_COMMON_CFG,
            CAP_DEVICE_CFG,
        ),
        // A one-byte overlap at the end of ISR.
        (
            minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x1ffc, 8),
            CAP_ISR_CFG,
            CAP_DEVICE_CFG,
        ),
    ];
    for (i, (b, a, bb)) in cases.iter().enumerate() {
        assert_eq!(
            b.parse(&qemu_bars()),
            Err(CapError::Overlap { a: *a, b: *bb }),
            "case {i}"
        );
    }
    // Same offsets in the same BAR: overlap; in different BARs: none.
    let same = Builder::new()
        .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
        .virtio(0x50, CAP_ISR_CFG, 4, 0, 1)
        .notify(0x60, 4, 0x3000, 0x1000, 4);
    assert_eq!(
        same.parse(&qemu_bars()),
        Err(CapError::Overlap {
            a: CAP_COMMON_CFG,
            b: CAP_ISR_CFG
        })
    );
    let other = same.put(ISR_AT + BAR, &[1]);
    assert!(other.parse(&qemu_bars()).unwrap().is_some());
}

#[test]
fn region_outside_bar() {
    let outside = |t| Err(CapError::OutsideBar { cfg_type: t });
    // Runs past the end of BAR 4 (16 KiB).
    let b = minimal().put32(COMMON_AT + OFFSET, 0x3800);
    assert_eq!(b.parse(&qemu_bars()), outside(CAP_COMMON_CFG));
    // Starts past it.
    let b = minimal().put32(ISR_AT + OFFSET, 0x4000);
    assert_eq!(b.parse(&qemu_bars()), outside(CAP_ISR_CFG));
    // One byte too long.
    let b = minimal().put32(NOTIFY_AT + LENGTH, 0x1001);
    assert_eq!(b.parse(&qemu_bars()), outside(CAP_NOTIFY_CFG));
    let b = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x3ffc, 5);
    assert_eq!(b.parse(&qemu_bars()), outside(CAP_DEVICE_CFG));
    // A BAR the device does not implement (size 0), even for an empty
    // region just past its (zero) end.
    let b = minimal().put(ISR_AT + BAR, &[3]);
    assert_eq!(b.parse(&qemu_bars()), outside(CAP_ISR_CFG));
    let b = minimal().virtio(FREE, CAP_DEVICE_CFG, 0, 4, 0);
    assert_eq!(b.parse(&qemu_bars()), outside(CAP_DEVICE_CFG));
    // The MSI-X BAR is too small for common's 4 KiB.
    let b = minimal()
        .put(COMMON_AT + BAR, &[1])
        .put32(COMMON_AT + LENGTH, 0x1004);
    assert_eq!(b.parse(&qemu_bars()), outside(CAP_COMMON_CFG));
}

#[test]
fn region_offset_plus_length_overflows_u32() {
    // In 32 bits these would wrap to small ends inside the BAR.
    let cases = [
        (0xffff_fffcu32, 0x10u32),
        (0xffff_f000, 0x2000),
        (0x8000_0000, 0x8000_0000),
        (4, u32::MAX),
        (u32::MAX, u32::MAX),
    ];
    for (off, len) in cases {
        let b = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, off, len);
        assert_eq!(
            b.parse(&qemu_bars()),
            Err(CapError::OutsideBar {
                cfg_type: CAP_DEVICE_CFG
            }),
            "{off:#x}+{len:#x}"
        );
        // In a 4 GiB BAR, only the ones ending above 2^32 are outside.
        let b = minimal().virtio(FREE, CAP_DEVICE_CFG, 2, off, len);
        let r = b.parse(&bars(&[(2, 1 << 32), (4, 0x4000)]));
        if u64::from(off) + u64::from(len) > 1 << 32 {
            assert_eq!(
                r,
                Err(CapError::OutsideBar {
                    cfg_type: CAP_DEVICE_CFG
                }),
                "{off:#x}+{len:#x} in 4 GiB"
            );
        } else {
            assert_eq!(r.unwrap().unwrap().device, Some(region(2, off, len)));
        }
    }
}

#[test]
fn truncated_capability() {
    let trunc = |at| Err(CapError::Truncated { at });
    // cap_len below the 16 bytes of struct virtio_pci_cap.
    for len in [0u8, 1, 4, 8, 15] {
        let b = minimal().put(COMMON_AT + CAP_LEN, &[len]);
        assert_eq!(b.parse(&qemu_bars()), trunc(0x40), "common cap_len {len}");
        let b = minimal().put(ISR_AT + CAP_LEN, &[len]);
        assert_eq!(b.parse(&qemu_bars()), trunc(0x50), "isr cap_len {len}");
        let b = minimal().vndr(FREE, len, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
        assert_eq!(b.parse(&qemu_bars()), trunc(0x78), "device cap_len {len}");
    }
    // A notify capability needs 20 bytes (notify_off_multiplier).
    for len in [0u8, 15, 16, 19] {
        let b = minimal().put(NOTIFY_AT + CAP_LEN, &[len]);
        assert_eq!(b.parse(&qemu_bars()), trunc(0x60), "notify cap_len {len}");
    }
    // A capability that runs past config space, whatever its cap_len.
    let b = minimal().virtio(0xf8, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
    assert_eq!(b.parse(&qemu_bars()), trunc(0xf8));
    let b = minimal().virtio(0xf4, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
    assert_eq!(b.parse(&qemu_bars()), trunc(0xf4));
    let b = minimal().notify(0xf0, 4, 0, 0x100, 0);
    assert_eq!(b.parse(&qemu_bars()), trunc(0xf0));
    // One at 0xfc has no room even for its `bar` byte: it is refused
    // without reading past config space.
    let b = minimal().virtio(0xfc, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
    let s = b.space();
    assert_eq!(s.parse(&qemu_bars()), trunc(0xfc));
    assert!(s.reads.borrow().iter().all(|&o| o < 256));
    // Exactly at the end is fine.
    let b = minimal().virtio(0xf0, CAP_DEVICE_CFG, 4, 0x2000, 0x100);
    assert!(b.parse(&qemu_bars()).unwrap().unwrap().device.is_some());
    let b = Builder::new()
        .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
        .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
        .notify(0xec, 4, 0x3000, 0x1000, 4);
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())));
    // Ignored capabilities near the end are still ignored.
    let b = minimal().vndr(0xfc, 4, CAP_PCI_CFG, 0, 0, 0);
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())));
    let b = minimal().vndr(0xf8, 8, CAP_COMMON_CFG, 6, 0, 0);
    assert_eq!(b.parse(&qemu_bars()), Ok(Some(minimal_caps())));
}

#[test]
fn looping_list() {
    let looped = |at| Err(CapError::Loop { at });
    // A capability that points at itself.
    let b = minimal().cap(FREE, PCI_CAP_ID_PM, &[]).link_to(FREE);
    assert_eq!(b.parse(&qemu_bars()), looped(0x78));
    // Through the masked low bits.
    let b = minimal().cap(FREE, PCI_CAP_ID_PM, &[]).link_to(FREE | 3);
    assert_eq!(b.parse(&qemu_bars()), looped(0x78));
    // The list head points at a capability that points at itself.
    let b = Builder::new()
        .cap(0x40, PCI_CAP_ID_VNDR, &[0; 14])
        .link_to(0x40);
    assert_eq!(b.parse(&qemu_bars()), looped(0x40));
    // Two capabilities pointing at each other.
    let b = Builder::new()
        .msix(0x40)
        .cap(0x50, PCI_CAP_ID_PM, &[])
        .link_to(0x40);
    assert_eq!(b.parse(&qemu_bars()), looped(0x40));
    // The whole valid list, with the last one pointing back at the first.
    let b = qemu().link_to(0x98);
    assert_eq!(b.parse(&qemu_bars()), looped(0x98));
    // Back into the middle of the list.
    let b = qemu().link_to(0x60);
    assert_eq!(b.parse(&qemu_bars()), looped(0x60));
    // The longest list that loops: 48 distinct capabilities, then a repeat.
    let mut b = Builder::new();
    for pos in (0x40..=0xfcu8).step_by(4) {
        b = b.cap(pos, PCI_CAP_ID_PM, &[]);
    }
    let b = b.link_to(0x40);
    assert_eq!(b.parse(&qemu_bars()), looped(0x40));
}

#[test]
fn bad_pointer() {
    let bad = |at, ptr| Err(CapError::BadPointer { at, ptr });
    // The list head points into the standard header.
    for ptr in [4u8, 0x10, 0x34, 0x3c, 0x3f] {
        let b = Builder::new().link_to(ptr);
        assert_eq!(b.parse(&qemu_bars()), bad(0x34, ptr & !3), "head {ptr:#x}");
    }
    // So does a capability's `cap_next`.
    let b = minimal().link_to(0x30);
    assert_eq!(b.parse(&qemu_bars()), bad(0x61, 0x30));
    let b = qemu().link_to(0x3c);
    assert_eq!(b.parse(&qemu_bars()), bad(0x41, 0x3c));
}

#[test]
fn misaligned_offsets() {
    let mis = |t| Err(CapError::Misaligned { cfg_type: t });
    for off in [1u32, 2, 3, 0x1002] {
        let b = minimal()
            .put32(COMMON_AT + OFFSET, off)
            .put32(COMMON_AT + LENGTH, 0x100);
        assert_eq!(b.parse(&qemu_bars()), mis(CAP_COMMON_CFG), "common {off}");
        let b = minimal().virtio(FREE, CAP_DEVICE_CFG, 4, 0x2000 + off, 0x10);
        assert_eq!(b.parse(&qemu_bars()), mis(CAP_DEVICE_CFG), "device {off}");
    }
    for off in [0x3001u32, 0x3003] {
        let b = minimal()
            .put32(NOTIFY_AT + OFFSET, off)
            .put32(NOTIFY_AT + LENGTH, 0x10);
        assert_eq!(b.parse(&qemu_bars()), mis(CAP_NOTIFY_CFG), "notify {off}");
    }
    // 2-byte alignment is enough for notify.
    let b = minimal()
        .put32(NOTIFY_AT + OFFSET, 0x3002)
        .put32(NOTIFY_AT + LENGTH, 0x10);
    assert_eq!(
        b.parse(&qemu_bars()).unwrap().unwrap().notify.offset,
        0x3002
    );
}

#[test]
fn too_small() {
    let small = |t| Err(CapError::TooSmall { cfg_type: t });
    for len in [0u32, 1, 20, 55] {
        let b = minimal().put32(COMMON_AT + LENGTH, len);
        assert_eq!(b.parse(&qemu_bars()), small(CAP_COMMON_CFG), "common {len}");
    }
    let b = minimal().put32(COMMON_AT + LENGTH, 56);
    assert_eq!(b.parse(&qemu_bars()).unwrap().unwrap().common.length, 56);
    for len in [0u32, 1] {
        let b = minimal().put32(NOTIFY_AT + LENGTH, len);
        assert_eq!(b.parse(&qemu_bars()), small(CAP_NOTIFY_CFG), "notify {len}");
    }
    let b = minimal().put32(NOTIFY_AT + LENGTH, 2);
    assert_eq!(b.parse(&qemu_bars()).unwrap().unwrap().notify.length, 2);
    let b = minimal().put32(ISR_AT + LENGTH, 0);
    assert_eq!(b.parse(&qemu_bars()), small(CAP_ISR_CFG));
    let b = minimal().put32(ISR_AT + LENGTH, 1);
    assert_eq!(b.parse(&qemu_bars()).unwrap().unwrap().isr.length, 1);
}

#[test]
fn bad_notify_multiplier() {
    // Neither 0 nor an even power of two.
    for m in [1u32, 3, 5, 6, 12, 0x8000_0001, u32::MAX] {
        let b = minimal().put32(NOTIFY_AT + MULT, m);
        assert_eq!(b.parse(&qemu_bars()), Err(CapError::BadMultiplier(m)));
    }
}

#[test]
fn missing_structures() {
    let missing = |t| Err(CapError::Missing { cfg_type: t });
    let common = |b: Builder| b.virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000);
    let isr = |b: Builder| b.virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000);
    let notify = |b: Builder| b.notify(0x60, 4, 0x3000, 0x1000, 4);
    let dev = |b: Builder| b.virtio(0x74, CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
    let n = Builder::new;
    assert_eq!(
        dev(notify(isr(n()))).parse(&qemu_bars()),
        missing(CAP_COMMON_CFG)
    );
    assert_eq!(
        dev(isr(common(n()))).parse(&qemu_bars()),
        missing(CAP_NOTIFY_CFG)
    );
    assert_eq!(
        dev(notify(common(n()))).parse(&qemu_bars()),
        missing(CAP_ISR_CFG)
    );
    assert_eq!(dev(n()).parse(&qemu_bars()), missing(CAP_COMMON_CFG));
    // Present only with a reserved BAR counts as missing.
    let b = notify(isr(common(n()))).put(COMMON_AT + BAR, &[6]);
    assert_eq!(b.parse(&qemu_bars()), missing(CAP_COMMON_CFG));
    // The device cfg is optional.
    assert_eq!(
        notify(isr(common(n()))).parse(&qemu_bars()),
        Ok(Some(minimal_caps()))
    );
}

#[test]
fn read_failures() {
    // Every byte the parser reads of the QEMU layout, made to fail, fails
    // the parse; a byte it does not read changes nothing.
    let good = qemu().space();
    assert_eq!(good.parse(&qemu_bars()), Ok(Some(qemu_caps())));
    let read: BTreeSet<u16> = good.reads.borrow().iter().copied().collect();
    assert!(read.contains(&PCI_STATUS) && read.contains(&PCI_CAPABILITY_LIST));
    assert!(read.iter().all(|&o| o < 256));
    for off in 0..256u16 {
        let r = good.failing_at(off).parse(&qemu_bars());
        if read.contains(&off) {
            assert_eq!(r, Err(CapError::ReadFailed), "byte {off:#x}");
        } else {
            assert_eq!(r, Ok(Some(qemu_caps())), "byte {off:#x}");
        }
    }

    // A config space that ends at 0x40 (reads beyond it fail).
    struct Short([u8; 0x40]);
    impl ConfigSpace for Short {
        fn read8(&self, offset: u16) -> Option<u8> {
            self.0.get(usize::from(offset)).copied()
        }
    }
    let mut s = Short([0; 0x40]);
    s.0.copy_from_slice(&qemu().b[..0x40]);
    assert_eq!(parse_caps(&s, &qemu_bars()), Err(CapError::ReadFailed));
    // One that cannot be read at all.
    struct Dead;
    impl ConfigSpace for Dead {
        fn read8(&self, _: u16) -> Option<u8> {
            None
        }
    }
    assert_eq!(parse_caps(&Dead, &qemu_bars()), Err(CapError::ReadFailed));
}

// ---------------------------------------------------------------------------
// notify_offset

#[test]
fn notify_offset_bounds() {
    let caps = qemu_caps(); // notify: 0x1000 bytes, multiplier 4
    assert_eq!(caps.notify_offset(0, 2), Some(0));
    assert_eq!(caps.notify_offset(3, 2), Some(12));
    assert_eq!(caps.notify_offset(1023, 4), Some(4092));
    assert_eq!(caps.notify_offset(1023, 2), Some(4092));
    assert_eq!(caps.notify_offset(1024, 2), None);
    assert_eq!(caps.notify_offset(1024, 0), Some(4096));
    assert_eq!(caps.notify_offset(u16::MAX, 2), None);
    assert_eq!(caps.notify_offset(0, 0x1000), Some(0));
    assert_eq!(caps.notify_offset(0, 0x1001), None);
    assert_eq!(caps.notify_offset(0, u32::MAX), None);
    assert_eq!(caps.notify_offset(1, u32::MAX), None);

    // A 2-byte region (a shared doorbell, multiplier 0): every queue uses
    // offset 0, and only for 2-byte writes.
    let shared = ModernCaps {
        notify: region(2, 0, 2),
        notify_off_multiplier: 0,
        ..qemu_caps()
    };
    assert_eq!(shared.notify_offset(0, 2), Some(0));
    assert_eq!(shared.notify_offset(u16::MAX, 2), Some(0));
    assert_eq!(shared.notify_offset(7, 4), None);

    // queue_notify_off * multiplier is computed without overflow.
    let big = ModernCaps {
        notify: region(2, 0, u32::MAX),
        notify_off_multiplier: 0x8000_0000,
        ..qemu_caps()
    };
    assert_eq!(big.notify_offset(1, 2), Some(0x8000_0000));
    assert_eq!(big.notify_offset(1, 0x7fff_ffff), Some(0x8000_0000));
    assert_eq!(big.notify_offset(1, 0x8000_0000), None);
    assert_eq!(big.notify_offset(2, 0), None);
    assert_eq!(big.notify_offset(u16::MAX, 2), None);
    let max = ModernCaps {
        notify: region(2, 0, 0xffff_0000),
        notify_off_multiplier: 0x10000,
        ..big
    };
    assert_eq!(max.notify_offset(0xfffe, 2), Some(0xfffe_0000));
    assert_eq!(max.notify_offset(0xffff, 2), None);
}

#[test]
fn notify_offset_exhaustive_small() {
    // Against the spec formula, for small regions and every multiplier
    // the parser accepts.
    for mult in [0u32, 2, 4, 8, 16] {
        for length in 0u32..=40 {
            let caps = ModernCaps {
                notify: region(4, 0x3000, length),
                notify_off_multiplier: mult,
                ..qemu_caps()
            };
            for q in 0u16..=24 {
                for width in [0u32, 1, 2, 4, 8] {
                    let off = u64::from(q) * u64::from(mult);
                    let want = (off + u64::from(width) <= u64::from(length)).then_some(off as u32);
                    assert_eq!(
                        caps.notify_offset(q, width),
                        want,
                        "{mult} {length} {q} {width}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Property tests

/// Upper bound on the bytes a walk can read: the status, the list head,
/// and for each of at most 48 capabilities its ID and `cap_next` and at
/// most 15 bytes of a virtio capability.
const MAX_READS: usize = 2 + 1 + 48 * 17;

/// An independent walk of the list for the oracle: the positions of the
/// capabilities in order, or `None` when the list has a bad pointer or a
/// loop (or the status has no list).
fn oracle_walk(b: &[u8; 256]) -> Option<Vec<usize>> {
    let status = u16::from_le_bytes([b[6], b[7]]);
    if status & PCI_STATUS_CAP_LIST == 0 {
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut p = usize::from(b[0x34] & !3);
    while p != 0 {
        if p < 0x40 || !seen.insert(p) {
            return None;
        }
        out.push(p);
        p = usize::from(b[p + 1] & !3);
    }
    Some(out)
}

/// A virtio capability of a type the parser uses, with a BAR in 0..=5.
fn oracle_used(b: &[u8; 256], p: usize) -> Option<(u8, Region, u32)> {
    let byte = |o: usize| b.get(p + o).copied();
    let le32 = |o: usize| {
        Some(u32::from_le_bytes([
            byte(o)?,
            byte(o + 1)?,
            byte(o + 2)?,
            byte(o + 3)?,
        ]))
    };
    if byte(0)? != PCI_CAP_ID_VNDR {
        return None;
    }
    let t = byte(CFG_TYPE)?;
    if !(1..=4).contains(&t) || byte(BAR)? > 5 {
        return None;
    }
    let r = region(byte(BAR)?, le32(OFFSET)?, le32(LENGTH)?);
    let m = if t == CAP_NOTIFY_CFG { le32(MULT)? } else { 0 };
    Some((t, r, m))
}

fn check(bytes: &[u8; 256], bars: &[BarInfo; 6]) -> Result<(), TestCaseError> {
    let s = Space {
        bytes: *bytes,
        fail: None,
        reads: RefCell::default(),
    };
    let r = s.parse(bars);
    // Bounded, inside config space, deterministic.
    let reads = s.reads.borrow().clone();
    prop_assert!(reads.len() <= MAX_READS, "{} reads", reads.len());
    prop_assert!(reads.iter().all(|&o| o < 256), "read past 0xff: {reads:x?}");
    prop_assert_eq!(s.parse(bars), r);

    let status = u16::from_le_bytes([bytes[6], bytes[7]]);
    prop_assert_eq!(
        r == Err(CapError::NoCapList),
        status & PCI_STATUS_CAP_LIST == 0
    );
    prop_assert_ne!(r, Err(CapError::ReadFailed));

    let walk = oracle_walk(bytes);
    match r {
        Ok(Some(caps)) => {
            let walk = walk.expect("accepted a list with a loop or a bad pointer");
            let named = [
                (CAP_COMMON_CFG, Some(caps.common)),
                (CAP_NOTIFY_CFG, Some(caps.notify)),
                (CAP_ISR_CFG, Some(caps.isr)),
                (CAP_DEVICE_CFG, caps.device),
            ];
            for (t, reg) in named {
                let Some(reg) = reg else { continue };
                // Inside its BAR.
                prop_assert!(reg.bar <= 5);
                let end = u64::from(reg.offset) + u64::from(reg.length);
                prop_assert!(
                    end <= bars[usize::from(reg.bar)].len,
                    "{t}: {reg:?} {bars:?}"
                );
                // Alignment and minimum size.
                let (align, min) = match t {
                    CAP_COMMON_CFG => (4, 56),
                    CAP_NOTIFY_CFG => (2, 2),
                    CAP_ISR_CFG => (1, 1),
                    _ => (4, 0),
                };
                prop_assert_eq!(reg.offset % align, 0);
                prop_assert!(reg.length >= min);
                // The first instance of its type in the list.
                let first = walk
                    .iter()
                    .filter_map(|&p| oracle_used(bytes, p))
                    .find(|(tt, _, _)| *tt == t);
                let (_, want, m) = first.expect("no capability of this type");
                prop_assert_eq!(reg, want);
                if t == CAP_NOTIFY_CFG {
                    prop_assert_eq!(caps.notify_off_multiplier, m);
                }
            }
            // No two structures overlap.
            for (i, (_, a)) in named.iter().enumerate() {
                for (_, b) in &named[i + 1..] {
                    if let (Some(a), Some(b)) = (a, b) {
                        if a.bar == b.bar && a.length != 0 && b.length != 0 {
                            let (a0, a1) = (
                                u64::from(a.offset),
                                u64::from(a.offset) + u64::from(a.length),
                            );
                            let (b0, b1) = (
                                u64::from(b.offset),
                                u64::from(b.offset) + u64::from(b.length),
                            );
                            prop_assert!(a1 <= b0 || b1 <= a0, "{a:?} overlaps {b:?}");
                        }
                    }
                }
            }
            let m = caps.notify_off_multiplier;
            prop_assert!(m == 0 || (m >= 2 && m.is_power_of_two()));
            // Any notify offset it hands out lies inside the region.
            for q in [0u16, 1, 2, 255, 0x7fff, u16::MAX] {
                for w in [1u32, 2, 4] {
                    if let Some(o) = caps.notify_offset(q, w) {
                        prop_assert!(u64::from(o) + u64::from(w) <= u64::from(caps.notify.length));
                    }
                }
            }
        }
        Ok(None) => {
            // No capability the parser uses is in the list.
            let walk = walk.expect("Ok(None) for a list with a loop or a bad pointer");
            prop_assert!(walk.iter().all(|&p| oracle_used(bytes, p).is_none()));
        }
        Err(CapError::Loop { .. } | CapError::BadPointer { .. }) => {
            prop_assert!(walk.is_none());
        }
        Err(_) => {}
    }
    Ok(())
}

fn bar_len() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(0x40),
        Just(0x1000),
        Just(0x4000),
        Just(1 << 32),
        0u64..0x10000,
        any::<u64>(),
    ]
}

fn bar_lens() -> impl Strategy<Value = [BarInfo; 6]> {
    prop::array::uniform6(bar_len()).prop_map(|l| l.map(|len| BarInfo { len }))
}

/// A capability to place in a generated list, with fields biased towards
/// the interesting values.
#[derive(Clone, Debug)]
struct GenCap {
    /// Position: 0x40 + 4 * slot.
    slot: u8,
    id: u8,
    cap_len: u8,
    cfg_type: u8,
    bar: u8,
    offset: u32,
    length: u32,
    mult: u32,
}

fn gen_cap() -> impl Strategy<Value = GenCap> {
    (
        0u8..48,
        prop_oneof![4 => Just(PCI_CAP_ID_VNDR), 1 => Just(PCI_CAP_ID_MSIX), 1 => any::<u8>()],
        prop_oneof![Just(16u8), Just(20), 0u8..24, any::<u8>()],
        prop_oneof![4 => 1u8..=5, 1 => any::<u8>()],
        prop_oneof![4 => 0u8..6, 1 => any::<u8>()],
        prop_oneof![
            (0u32..8).prop_map(|k| k * 0x800),
            0u32..0x4100,
            any::<u32>()
        ],
        prop_oneof![
            Just(0u32),
            Just(1),
            Just(2),
            Just(55),
            Just(56),
            Just(0x800),
            Just(0x1000),
            0u32..0x4100,
            any::<u32>()
        ],
        prop_oneof![Just(0u32), Just(1), Just(2), Just(3), Just(4), any::<u32>()],
    )
        .prop_map(
            |(slot, id, cap_len, cfg_type, bar, offset, length, mult)| GenCap {
                slot,
                id,
                cap_len,
                cfg_type,
                bar,
                offset,
                length,
                mult,
            },
        )
}

/// A structured configuration space: an empty list, the minimal valid one
/// or QEMU's, then generated capabilities linked in order (they may
/// overwrite earlier ones), the last pointing at `tail` (0 ends the
/// list), then a few random byte writes.
fn structured() -> impl Strategy<Value = [u8; 256]> {
    (
        prop::bool::weighted(0.95),
        prop_oneof![Just(Builder::new()), Just(minimal()), Just(qemu())],
        prop::collection::vec(gen_cap(), 0..12),
        prop_oneof![4 => Just(0u8), 1 => any::<u8>()],
        prop::collection::vec((any::<u8>(), any::<u8>()), 0..3),
    )
        .prop_map(|(cap_list, base, caps, tail, pokes)| {
            let mut b = base;
            if !cap_list {
                b.b[usize::from(PCI_STATUS)] = 0;
            }
            for c in caps {
                let pos = 0x40 + 4 * c.slot;
                let mut body = vec![c.cap_len, c.cfg_type, c.bar, 0, 0, 0];
                body.extend_from_slice(&c.offset.to_le_bytes());
                body.extend_from_slice(&c.length.to_le_bytes());
                body.extend_from_slice(&c.mult.to_le_bytes());
                b = b.cap(pos, c.id, &body);
            }
            b = b.link_to(tail);
            for (at, v) in pokes {
                b.b[usize::from(at)] = v;
            }
            b.b
        })
}

/// The QEMU layout with a few random byte changes in the list.
fn mutated_qemu() -> impl Strategy<Value = [u8; 256]> {
    prop::collection::vec((0x34u8..=0xff, any::<u8>()), 1..4).prop_map(|pokes| {
        let mut b = qemu().b;
        for (at, v) in pokes {
            b[usize::from(at)] = v;
        }
        b
    })
}

/// Random bytes, with the status and list head made plausible half the
/// time.
fn random_space() -> impl Strategy<Value = [u8; 256]> {
    (prop::collection::vec(any::<u8>(), 256), any::<bool>()).prop_map(|(v, fix)| {
        let mut b = [0u8; 256];
        b.copy_from_slice(&v);
        if fix {
            b[usize::from(PCI_STATUS)] |= PCI_STATUS_CAP_LIST as u8;
            b[0x34] |= 0x40;
        }
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 4096,
        // Keep failure seeds inside this crate (cargo runs tests from the
        // package root); the default location lands outside it.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/pci_caps.txt"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_config_space(bytes in random_space(), bars in bar_lens()) {
        check(&bytes, &bars)?;
    }

    #[test]
    fn structured_config_space(bytes in structured(), qemu_sized in any::<bool>(), bars in bar_lens()) {
        check(&bytes, &if qemu_sized { qemu_bars() } else { bars })?;
    }

    #[test]
    fn mutated_qemu_layout(bytes in mutated_qemu(), qemu_sized in any::<bool>(), bars in bar_lens()) {
        check(&bytes, &if qemu_sized { qemu_bars() } else { bars })?;
    }
}

#[test]
fn unmodified_layouts_pass_the_property_check() {
    check(&qemu().b, &qemu_bars()).unwrap();
    check(&minimal().b, &qemu_bars()).unwrap();
}

#[test]
fn reads_are_recorded() {
    // The property check relies on every read being recorded.
    let s = qemu().space();
    let _ = s.parse(&qemu_bars());
    let n = s.reads.borrow().len();
    assert!(n > 20 && n <= MAX_READS, "{n}");
}
