// SPDX-License-Identifier: GPL-2.0

//! Layout arithmetic, wire types, feature sets and spec constants.

use rvirtio_core::{
    features::{
        Feature,
        Features, //
    },
    layout::{
        LayoutError,
        SplitLayout, //
    },
    queue::NotifyData,
    spec::{
        DeviceId,
        Status, //
    },
    transport::TransportKind,
    wire::{
        ByteOrder,
        Le16,
        Le32,
        Le64, //
    },
};

/// Spec §2.7.2 `virtq_size()` for legacy layouts.
fn spec_virtq_size(qsz: usize, align: usize) -> usize {
    let a = |x: usize| (x + align - 1) & !(align - 1);
    a(16 * qsz + 2 * (3 + qsz)) + a(2 * 3 + 8 * qsz)
}

#[test]
fn legacy_layout_matches_spec_formula() {
    for shift in 0..=15 {
        let size = 1u16 << shift;
        for align in [4096usize, 16384] {
            let l = SplitLayout::legacy(size, align).unwrap();
            assert_eq!(
                l.total_size(),
                spec_virtq_size(size.into(), align),
                "size {size} align {align}"
            );
            let n = usize::from(size);
            // vring_init(): used = ALIGN(&avail->ring[num] + sizeof(u16)).
            assert_eq!(
                l.used_offset(),
                (16 * n + 4 + 2 * n + 2 + align - 1) & !(align - 1)
            );
            assert_eq!(l.used_offset() % align, 0);
        }
    }
}

#[test]
fn modern_layout_offsets() {
    let l = SplitLayout::modern(256).unwrap();
    assert_eq!(l.desc_offset(), 0);
    assert_eq!(l.avail_offset(), 4096);
    assert_eq!(l.avail_idx(), 4098);
    assert_eq!(l.avail_ring(3), 4100 + 6);
    assert_eq!(l.used_event(), 4100 + 512);
    assert_eq!(l.used_offset(), 4616); // 4614 rounded up to 4
    assert_eq!(l.used_elem_id(1), 4616 + 4 + 8);
    assert_eq!(l.used_elem_len(1), 4616 + 4 + 8 + 4);
    assert_eq!(l.avail_event(), 4616 + 4 + 2048);
    assert_eq!(l.total_size(), 4616 + 6 + 2048);
    let l = SplitLayout::modern(1).unwrap();
    assert_eq!(
        (l.avail_offset(), l.used_offset(), l.total_size()),
        (16, 24, 38)
    );
}

#[test]
fn layout_rejects_bad_sizes() {
    for bad in [0u16, 3, 100, 32769, 65535] {
        assert_eq!(SplitLayout::modern(bad), Err(LayoutError::InvalidSize));
    }
    assert_eq!(SplitLayout::legacy(8, 3000), Err(LayoutError::InvalidAlign));
    assert_eq!(SplitLayout::legacy(8, 2), Err(LayoutError::InvalidAlign));
    assert!(SplitLayout::modern(32768).is_ok());
}

#[test]
fn wire_types_are_little_endian() {
    let v = Le32::new(0x1122_3344);
    assert_eq!(v.to_raw().to_ne_bytes(), [0x44, 0x33, 0x22, 0x11]);
    assert_eq!(v.get(), 0x1122_3344);
    assert_eq!(Le16::new(0xabcd).to_raw().to_ne_bytes(), [0xcd, 0xab]);
    assert_eq!(
        Le64::from_raw(u64::from_ne_bytes([1, 0, 0, 0, 0, 0, 0, 0])).get(),
        1
    );
    assert_eq!(ByteOrder::for_interface(false), ByteOrder::Little);
    assert_eq!(ByteOrder::for_interface(true), ByteOrder::NATIVE);
    assert_eq!(
        ByteOrder::Big.from_raw16(ByteOrder::Big.to_raw16(0x1234)),
        0x1234
    );
    assert_eq!(ByteOrder::Big.to_raw16(0x1234).to_ne_bytes(), [0x12, 0x34]);
}

#[test]
fn feature_sets() {
    let mut f = Features::EMPTY;
    f.insert(Feature::VERSION_1);
    f.insert(Feature::new(127));
    f.insert(Feature::new(200)); // beyond 127: ignored
    assert!(f.contains(Feature::VERSION_1));
    assert!(f.contains(Feature::new(127)));
    assert!(!f.contains(Feature::new(200)));
    assert_eq!(f.words(), [0, 1, 0, 0x8000_0000]);
    assert_eq!(f.word(7), 0);
    f.set_word(0, 0xffff_ffff);
    f.set_word(9, 1);
    assert_eq!(f.word(0), 0xffff_ffff);
    assert_eq!(
        f.legacy_word(),
        Features::from_words([0xffff_ffff, 0, 0, 0])
    );
    f.remove(Feature::VERSION_1);
    assert!(!f.contains(Feature::VERSION_1));
    assert_eq!(Features::from_u64(1 << 33).low_u64(), 1 << 33);
    // The allocation of spec 1.4 §2.2.
    let all = Features::DEVICE_SPECIFIC | Features::DEVICE_INDEPENDENT | Features::FUTURE;
    assert_eq!(all, Features::range(0, 127));
    assert!(Features::DEVICE_SPECIFIC.contains(Feature::new(23)));
    assert!(!Features::DEVICE_SPECIFIC.contains(Feature::new(24)));
    assert!(Features::DEVICE_SPECIFIC.contains(Feature::new(50)));
    assert!(Features::DEVICE_INDEPENDENT.contains(Feature::RING_RESET));
    assert!(Features::DEVICE_INDEPENDENT.contains(Feature::SUSPEND));
    assert!(
        Features::FUTURE.contains(Feature::new(44)) && Features::FUTURE.contains(Feature::new(49))
    );
    assert!(!Features::CORE_IMPLEMENTED.contains(Feature::RING_PACKED));
    assert!(!Features::CORE_IMPLEMENTED.contains(Feature::IN_ORDER));
}

#[test]
fn transport_kinds() {
    assert!(TransportKind::PciLegacy.is_legacy());
    assert!(!TransportKind::CcwModern { revision: 1 }.is_legacy());
    assert_eq!(TransportKind::MmioLegacy.feature_words(), 1);
    assert_eq!(TransportKind::MmioModern.feature_words(), 4);
    assert!(!TransportKind::MmioLegacy.has_config_generation());
    assert!(!TransportKind::MmioModern
        .transport_features()
        .contains(Feature::ADMIN_VQ));
    assert!(TransportKind::MmioModern
        .transport_features()
        .contains(Feature::RING_RESET));
    assert!(!TransportKind::CcwLegacy
        .transport_features()
        .contains(Feature::RING_RESET));
}

#[test]
fn spec_constants() {
    assert_eq!(DeviceId::NET.0, 1);
    assert_eq!(DeviceId::BLOCK.0, 2);
    assert_eq!(DeviceId::CONSOLE.0, 3);
    assert_eq!(DeviceId::ENTROPY.0, 4);
    assert_eq!(DeviceId::BALLOON.0, 5);
    assert_eq!(DeviceId::SCSI.0, 8);
    assert_eq!(DeviceId::from_pci(0x1042, 0), Some(DeviceId::BLOCK));
    assert_eq!(DeviceId::from_pci(0x1000, 1), Some(DeviceId::NET));
    assert_eq!(DeviceId::from_pci(0x1080, 1), None);
    assert_eq!(DeviceId::ENTROPY.modern_pci_id(), Some(0x1044));
    assert_eq!(DeviceId::ENTROPY.transitional_pci_id(), Some(0x1005));
    assert_eq!(Status::ACKNOWLEDGE.bits(), 1);
    assert_eq!(Status::DRIVER.bits(), 2);
    assert_eq!(Status::DRIVER_OK.bits(), 4);
    assert_eq!(Status::FEATURES_OK.bits(), 8);
    assert_eq!(Status::DEVICE_NEEDS_RESET.bits(), 64);
    assert_eq!(Status::FAILED.bits(), 128);
    assert!((Status::ACKNOWLEDGE | Status::DRIVER).contains(Status::DRIVER));
    let d = NotifyData {
        next_off: 0x7fff,
        next_wrap: true,
    };
    assert_eq!(d.to_u32(0x1234), 0xffff_1234);
}
