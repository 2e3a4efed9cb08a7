// SPDX-License-Identifier: GPL-2.0

//! DMA addressing by the negotiated features (spec §6.1
//! `VIRTIO_F_ACCESS_PLATFORM`): the decision, and the initialization
//! sequence refusing a device that a confidential guest cannot share
//! memory with before anything is written to it.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

mod common;

use common::{
    FakeTransport,
    Op, //
};
use rvirtio_core::{
    dma::{
        addressing,
        Addressing,
        AddressingError, //
    },
    features::{
        DriverFeatures,
        Feature,
        Features, //
    },
    init::{
        DeviceInit,
        InitError,
        InitOptions,
        Phase, //
    },
    spec::Status,
    transport::TransportKind,
};

fn f(bits: &[u8]) -> Features {
    common::features(bits)
}

/// The whole decision table.
#[test]
fn addressing_follows_access_platform() {
    let without = f(&[0, 28, 29, 32]);
    let with = without.with(Feature::ACCESS_PLATFORM);
    assert_eq!(addressing(without, false), Ok(Addressing::Physical));
    assert_eq!(addressing(with, false), Ok(Addressing::Platform));
    assert_eq!(addressing(with, true), Ok(Addressing::Platform));
    assert_eq!(
        addressing(without, true),
        Err(AddressingError::NeedsAccessPlatform)
    );
    // A legacy interface (no VERSION_1, 32 bits) never has ACCESS_PLATFORM.
    assert_eq!(addressing(f(&[0, 27]), false), Ok(Addressing::Physical));
    assert_eq!(
        addressing(f(&[0, 27]), true),
        Err(AddressingError::NeedsAccessPlatform)
    );
    assert!(Addressing::Platform.uses_dma_api());
    assert!(!Addressing::Physical.uses_dma_api());
}

/// The DMA layer bounds segments only when its API is used, saturated to
/// what a descriptor can hold.
#[test]
fn max_segment_follows_addressing() {
    assert_eq!(Addressing::Physical.max_segment(256 * 1024), u32::MAX);
    assert_eq!(Addressing::Platform.max_segment(256 * 1024), 256 * 1024);
    assert_eq!(Addressing::Platform.max_segment(u64::MAX), u32::MAX);
    assert_eq!(Addressing::Platform.max_segment(1 << 32), u32::MAX);
}

fn init_with(
    kind: TransportKind,
    offered: Features,
    restricted: bool,
) -> (
    FakeTransport,
    Result<(Features, Option<Addressing>), InitError>,
) {
    let mut t = FakeTransport::new(kind, offered);
    let opts = InitOptions {
        restricted_memory_access: restricted,
        ..InitOptions::default()
    };
    let r = {
        let mut init = DeviceInit::begin(&mut t, opts).unwrap();
        let r = init.negotiate(&DriverFeatures::new(f(&[0])));
        match r {
            Ok(a) => {
                assert_eq!(init.phase(), Phase::FeaturesOk);
                let addr = init.addressing();
                init.driver_ok().unwrap();
                Ok((a, addr))
            }
            Err(e) => {
                assert_eq!(init.phase(), Phase::Failed);
                assert_eq!(init.addressing(), None);
                Err(e)
            }
        }
    };
    (t, r)
}

fn wrote_features(t: &FakeTransport) -> bool {
    t.st()
        .ops
        .iter()
        .any(|o| matches!(o, Op::WriteDriverFeatures(..)))
}

fn status_writes(t: &FakeTransport) -> Vec<u8> {
    t.status_writes()
}

/// An ordinary guest: the addressing follows the negotiated features.
#[test]
fn unrestricted_guest_uses_what_was_negotiated() {
    let modern = f(&[0, 32]);
    let (_, r) = init_with(TransportKind::PciModern, modern, false);
    assert_eq!(r.unwrap().1, Some(Addressing::Physical));
    let (_, r) = init_with(
        TransportKind::PciModern,
        modern.with(Feature::ACCESS_PLATFORM),
        false,
    );
    let (acc, addr) = r.unwrap();
    assert!(acc.contains(Feature::ACCESS_PLATFORM));
    assert_eq!(addr, Some(Addressing::Platform));
    let (_, r) = init_with(TransportKind::PciLegacy, f(&[0]), false);
    assert_eq!(r.unwrap().1, Some(Addressing::Physical));
}

/// A confidential guest refuses a device without ACCESS_PLATFORM (modern
/// or legacy) before writing the driver features or FEATURES_OK, and sets
/// FAILED; one with it is driven through the DMA API.
#[test]
fn restricted_guest_refuses_device_without_access_platform() {
    for (kind, offered) in [
        (TransportKind::PciModern, f(&[0, 32])),
        (TransportKind::MmioModern, f(&[0, 32])),
        (TransportKind::PciLegacy, f(&[0])),
        (TransportKind::MmioLegacy, f(&[0])),
    ] {
        let (t, r) = init_with(kind, offered, true);
        assert_eq!(
            r.unwrap_err(),
            InitError::Addressing(AddressingError::NeedsAccessPlatform),
            "{kind:?}"
        );
        assert!(!wrote_features(&t), "{kind:?}: features written");
        let st = status_writes(&t);
        assert!(
            st.iter().all(|s| s & Status::FEATURES_OK.bits() == 0),
            "{kind:?}: FEATURES_OK set: {st:?}"
        );
        assert_ne!(
            st.last().unwrap() & Status::FAILED.bits(),
            0,
            "{kind:?}: {st:?}"
        );
    }
    let (_, r) = init_with(
        TransportKind::PciModern,
        f(&[0, 32]).with(Feature::ACCESS_PLATFORM),
        true,
    );
    assert_eq!(r.unwrap().1, Some(Addressing::Platform));
}
