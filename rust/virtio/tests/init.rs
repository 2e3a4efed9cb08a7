// SPDX-License-Identifier: GPL-2.0

//! Initialization sequence, feature negotiation and configuration reads
//! against a fake transport.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

mod common;

use common::{
    FakeTransport,
    Op, //
};
use rvirtio_core::{
    config::{
        read_consistent,
        ConfigError, //
    },
    features::{
        negotiate,
        DriverFeatures,
        Feature,
        FeatureDep,
        Features,
        NegotiationError, //
    },
    init::{
        initialize,
        stop_device,
        DeviceInit,
        InitError,
        InitFailure,
        InitOptions,
        Phase,
        Stopped, //
    },
    queue::QueueConfig,
    spec::Status,
    transport::{
        activate_queue,
        pick_queue_size,
        TransportError,
        TransportKind, //
    },
};

const MODERN: TransportKind = TransportKind::PciModern;

fn f(bits: &[u8]) -> Features {
    common::features(bits)
}

fn statuses(t: &FakeTransport) -> Vec<u8> {
    t.status_writes()
}

#[test]
fn modern_happy_path_follows_spec_order() {
    let offered = f(&[0, 1, 5, 24, 27, 28, 29, 30, 32, 33, 34, 35, 45, 60, 100]);
    let mut t = FakeTransport::new(MODERN, offered);
    let table = DriverFeatures::new(f(&[0, 5, 6, 30, 34, 60, 100]));
    let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
    assert_eq!(init.phase(), Phase::Negotiating);
    assert_eq!(init.offered(), offered);
    let accepted = init.negotiate(&table).unwrap();
    // Device-specific: wanted ∩ offered (6 not offered). Independent: the
    // core defaults that were offered. Legacy-only (24, 27, 30), packed
    // (34), in-order (35) and future (45) bits are never accepted.
    assert_eq!(accepted, f(&[0, 5, 28, 29, 32, 33, 60, 100]));
    assert_eq!(init.negotiated(), Some(accepted));
    let q = QueueConfig {
        size: 128,
        desc: 0x1000,
        driver: 0x2000,
        device: 0x3000,
        legacy_align: 0,
    };
    activate_queue(init.transport().unwrap(), 0, &q).unwrap();
    assert_eq!(init.driver_ok().unwrap(), accepted);
    assert_eq!(t.st().driver_features, accepted);
    // reset, ACK, ACK|DRIVER, +FEATURES_OK, +DRIVER_OK, never cleared.
    assert_eq!(t.st().ops[0], Op::Reset);
    assert_eq!(statuses(&t), vec![1, 3, 11, 15]);
    assert_eq!(t.status(), Status::from_bits(15));
    // All feature words read before any is written, written before
    // FEATURES_OK, and queues set up after it.
    let pos = |op: &Op| t.st().ops.iter().position(|o| o == op).unwrap();
    for w in 0..4 {
        assert!(
            pos(&Op::ReadDeviceFeatures(w)) < pos(&Op::WriteDriverFeatures(0, accepted.word(0)))
        );
        assert!(
            pos(&Op::WriteDriverFeatures(w, accepted.word(w as usize))) < pos(&Op::WriteStatus(11))
        );
    }
    assert!(pos(&Op::WriteStatus(11)) < pos(&Op::SetupQueue(0)));
    assert!(pos(&Op::EnableQueue(0)) < pos(&Op::WriteStatus(15)));
}

#[test]
fn features_ok_refused_sets_failed() {
    let mut t = FakeTransport::new(MODERN, f(&[0, 32]));
    t.st().reject_features_ok = true;
    let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
    assert_eq!(
        init.negotiate(&DriverFeatures::new(f(&[0]))),
        Err(InitError::FeaturesRejected)
    );
    assert_eq!(init.phase(), Phase::Failed);
    assert_eq!(init.transport().err(), Some(InitError::WrongPhase));
    drop(init);
    assert!(t.status().contains(Status::FAILED));
    assert!(!t.status().contains(Status::DRIVER_OK));
}

#[test]
fn version_1_required_on_modern() {
    for kind in [
        TransportKind::PciModern,
        TransportKind::MmioModern,
        TransportKind::CcwModern { revision: 2 },
    ] {
        let mut t = FakeTransport::new(kind, f(&[0, 28, 29]));
        let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
        assert_eq!(
            init.negotiate(&DriverFeatures::new(f(&[0]))),
            Err(InitError::Negotiation(NegotiationError::MissingVersion1))
        );
        drop(init);
        assert!(t.status().contains(Status::FAILED));
        assert!(!t
            .st()
            .ops
            .iter()
            .any(|o| matches!(o, Op::WriteDriverFeatures(..))));
    }
}

#[test]
fn legacy_has_32_bits_and_no_features_ok() {
    for kind in [
        TransportKind::PciLegacy,
        TransportKind::MmioLegacy,
        TransportKind::CcwLegacy,
    ] {
        let mut t = FakeTransport::new(kind, f(&[0, 3, 24, 27, 28, 29, 30, 32, 33]));
        let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
        let accepted = init.negotiate(&DriverFeatures::new(f(&[0, 3]))).unwrap();
        // Bits above 31 cannot exist; ANY_LAYOUT is accepted as a
        // transitional driver must; NOTIFY_ON_EMPTY is not opted into.
        assert_eq!(accepted, f(&[0, 3, 27, 28, 29]));
        init.driver_ok().unwrap();
        assert_eq!(statuses(&t), vec![1, 3, 7]);
        assert!(!t.st().ops.iter().any(
            |o| matches!(o, Op::ReadDeviceFeatures(w) | Op::WriteDriverFeatures(w, _) if *w != 0)
        ));
    }
}

#[test]
fn reset_wait_is_bounded() {
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    t.st().reset_polls_nonzero = 10;
    assert!(DeviceInit::begin(&mut t, InitOptions::default()).is_ok());

    let mut t = FakeTransport::new(MODERN, f(&[32]));
    t.st().reset_polls_nonzero = 1_000_000;
    let opts = InitOptions {
        reset_poll_limit: 50,
        ..InitOptions::default()
    };
    assert_eq!(
        DeviceInit::begin(&mut t, opts).err(),
        Some(InitError::ResetTimeout)
    );
    assert!(t.status().contains(Status::FAILED));
    // 50 polls, plus the read-modify-write that sets FAILED.
    assert_eq!(t.st().reset_polls_nonzero, 1_000_000 - 51);
}

#[test]
fn config_write_refused_before_features_ok() {
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
    // Reads are fine during negotiation.
    assert_eq!(init.read_config(|c| c.read_u8(3)).unwrap(), 3);
    assert_eq!(
        init.write_config_u32(0, 0xdead),
        Err(InitError::ConfigWriteBeforeFeaturesOk)
    );
    assert_eq!(init.phase(), Phase::Failed);
    drop(init);
    assert!(
        !t.st().ops.iter().any(|o| matches!(o, Op::ConfigWrite(_))),
        "write reached the device"
    );
    assert!(t.status().contains(Status::FAILED));
}

#[test]
fn config_write_allowed_after_features_ok() {
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
    init.negotiate(&DriverFeatures::new(Features::EMPTY))
        .unwrap();
    init.write_config_u16(4, 0xbeef).unwrap();
    init.write_config_u64(8, 0x0102_0304_0506_0708).unwrap();
    init.driver_ok().unwrap();
    assert_eq!(&t.st().config[4..6], &[0xef, 0xbe]);
    assert_eq!(&t.st().config[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
}

#[test]
fn legacy_config_write_allowed_early() {
    let mut t = FakeTransport::new(TransportKind::PciLegacy, f(&[0]));
    let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
    init.write_config_u8(0, 9).unwrap();
    init.fail();
    assert!(t.status().contains(Status::FAILED));
}

#[test]
fn generation_retry_is_bounded() {
    // Changes twice, then settles: succeeds.
    let t = FakeTransport::new(MODERN, f(&[32]));
    t.st().unstable_generation = 2;
    let v = read_consistent(&t, 8, |c| c.read_u64(0)).unwrap();
    assert_eq!(v, 0x0706_0504_0302_0100);
    // Never settles: fails after exactly `max_tries` reads.
    let t = FakeTransport::new(MODERN, f(&[32]));
    t.st().unstable_generation = u32::MAX;
    let mut reads = 0;
    let r = read_consistent(&t, 5, |c| {
        reads += 1;
        c.read_u32(0)
    });
    assert_eq!(r, Err(ConfigError::Unstable));
    assert_eq!(reads, 5);
    // Through the init API the error is reported without failing the device.
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    let opts = InitOptions {
        config_retries: 3,
        ..InitOptions::default()
    };
    let mut init = DeviceInit::begin(&mut t, opts).unwrap();
    init_unstable(&mut init);
}

fn init_unstable(init: &mut DeviceInit<'_, FakeTransport>) {
    let mut calls = 0;
    let r = init.read_config(|c| {
        calls += 1;
        c.read_u8(0)
    });
    // Generation stable here: one call.
    assert_eq!(r, Ok(0));
    assert_eq!(calls, 1);
}

#[test]
fn legacy_config_reads_twice_until_equal() {
    let t = FakeTransport::new(TransportKind::MmioLegacy, f(&[0]));
    t.st().legacy_flaky_reads = 3;
    let v = read_consistent(&t, 8, |c| c.read_u32(4)).unwrap();
    assert_eq!(v, 0x0706_0504);
    let t = FakeTransport::new(TransportKind::MmioLegacy, f(&[0]));
    t.st().legacy_flaky_reads = 100;
    assert_eq!(
        read_consistent(&t, 4, |c| c.read_u32(4)),
        Err(ConfigError::Unstable)
    );
}

#[test]
fn config_errors_propagate() {
    let t = FakeTransport::new(MODERN, f(&[32]));
    assert_eq!(
        read_consistent(&t, 4, |c| c.read_u32(1000)),
        Err(ConfigError::Transport(TransportError::OutOfRange))
    );
    let mut buf = [0u8; 6];
    read_consistent(&t, 4, |c| c.read_bytes(10, &mut buf)).unwrap();
    assert_eq!(buf, [10, 11, 12, 13, 14, 15]);
}

#[test]
fn drop_before_driver_ok_sets_failed() {
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    {
        let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
        init.negotiate(&DriverFeatures::new(Features::EMPTY))
            .unwrap();
    }
    assert!(t.status().contains(Status::FAILED));
    assert!(!t.status().contains(Status::DRIVER_OK));
}

#[test]
fn out_of_order_steps_fail() {
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
    assert_eq!(init.transport().err(), Some(InitError::WrongPhase));
    assert_eq!(init.negotiated(), None);
    let mut t2 = FakeTransport::new(MODERN, f(&[32]));
    let init2 = DeviceInit::begin(&mut t2, InitOptions::default()).unwrap();
    assert_eq!(init2.driver_ok(), Err(InitError::WrongPhase));
    assert!(t2.status().contains(Status::FAILED));
    init.negotiate(&DriverFeatures::new(Features::EMPTY))
        .unwrap();
    assert_eq!(
        init.negotiate(&DriverFeatures::new(Features::EMPTY)),
        Err(InitError::WrongPhase)
    );
}

#[test]
fn device_needs_reset_during_negotiation() {
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    t.st().needs_reset_on_features_ok = true;
    let mut init = DeviceInit::begin(&mut t, InitOptions::default()).unwrap();
    assert_eq!(
        init.negotiate(&DriverFeatures::new(Features::EMPTY)),
        Err(InitError::DeviceNeedsReset)
    );
    drop(init);
    assert!(t.status().contains(Status::FAILED));
}

#[test]
fn required_features_and_dependencies() {
    // 2 requires 1, 3 requires 2: dropping 1 drops both (fixed point).
    let deps = [
        FeatureDep::new(Feature::new(3), f(&[2])),
        FeatureDep::new(Feature::new(2), f(&[1])),
    ];
    let table = DriverFeatures {
        wanted: f(&[1, 2, 3, 4]),
        required: Features::EMPTY,
        deps: &deps,
    };
    let offered = f(&[2, 3, 4, 32]);
    assert_eq!(
        negotiate(offered, &table, Features::CORE_DEFAULT, false),
        Ok(f(&[4, 32]))
    );
    let offered = f(&[1, 2, 3, 4, 32]);
    assert_eq!(
        negotiate(offered, &table, Features::CORE_DEFAULT, false),
        Ok(f(&[1, 2, 3, 4, 32]))
    );
    let table = DriverFeatures {
        required: f(&[3, 29]),
        ..table
    };
    assert_eq!(
        negotiate(f(&[2, 3, 32]), &table, Features::CORE_DEFAULT, false),
        Err(NegotiationError::MissingRequired(f(&[3, 29])))
    );
}

/// `CORE_IMPLEMENTED` claims only what the code does: the rings use the
/// `virt_*` barriers (not `ORDER_PLATFORM`'s) and notifications carry the
/// queue index (not `queue_notif_config_data`), so neither bit is accepted,
/// even when offered and asked for.
#[test]
fn unimplemented_ordering_and_notification_bits_are_never_accepted() {
    for bit in [Feature::ORDER_PLATFORM, Feature::NOTIF_CONFIG_DATA] {
        assert!(!Features::CORE_IMPLEMENTED.contains(bit), "{bit:?}");
        let acc = negotiate(
            Features::DEVICE_INDEPENDENT.union(f(&[0])),
            &DriverFeatures::new(f(&[0])),
            Features::DEVICE_INDEPENDENT,
            false,
        )
        .unwrap();
        assert!(!acc.contains(bit), "{bit:?} accepted");
    }
}

#[test]
fn transport_limits_independent_features() {
    let all = Features::DEVICE_INDEPENDENT.union(f(&[0]));
    let opt_in = Features::CORE_IMPLEMENTED;
    let ccw = TransportKind::CcwModern { revision: 2 }.transport_features();
    let acc = negotiate(
        all,
        &DriverFeatures::new(f(&[0])),
        opt_in.intersection(ccw),
        false,
    )
    .unwrap();
    assert!(!acc.contains(Feature::RING_RESET));
    assert!(!acc.contains(Feature::ADMIN_VQ));
    assert!(!acc.contains(Feature::RING_PACKED));
    assert!(!acc.contains(Feature::IN_ORDER));
    assert!(acc.contains(Feature::NOTIFICATION_DATA));
    let pci = TransportKind::PciModern.transport_features();
    let acc = negotiate(
        all,
        &DriverFeatures::new(f(&[0])),
        opt_in.intersection(pci),
        false,
    )
    .unwrap();
    assert!(acc.contains(Feature::RING_RESET));
    assert!(acc.contains(Feature::SR_IOV));
    // A driver table cannot smuggle in device-independent bits.
    let acc = negotiate(
        all,
        &DriverFeatures::new(f(&[34, 35, 44])),
        Features::EMPTY,
        false,
    )
    .unwrap();
    assert_eq!(acc, f(&[32]));
}

#[test]
fn initialize_runs_callbacks_in_order() {
    let mut t = FakeTransport::new(MODERN, f(&[0, 29, 32]));
    let r = initialize::<_, u32, &str, _, _>(
        &mut t,
        InitOptions::default(),
        &DriverFeatures::new(f(&[0])),
        |init| {
            assert_eq!(init.phase(), Phase::Negotiating);
            init.read_config(|c| c.read_u8(1))
                .map(|_| ())
                .map_err(|_| "cfg")
        },
        |init, feats| {
            assert!(feats.contains(Feature::EVENT_IDX));
            let t = init.transport().map_err(|_| "phase")?;
            activate_queue(
                t,
                0,
                &QueueConfig {
                    size: 64,
                    desc: 0,
                    driver: 0,
                    device: 0,
                    legacy_align: 0,
                },
            )
            .map_err(|_| "queue")?;
            Ok(7)
        },
    );
    assert_eq!(r, Ok((f(&[0, 29, 32]), 7)));
    assert_eq!(statuses(&t), vec![1, 3, 11, 15]);

    // A failing setup sets FAILED and never DRIVER_OK.
    let mut t = FakeTransport::new(MODERN, f(&[0, 32]));
    let r = initialize::<_, (), &str, _, _>(
        &mut t,
        InitOptions::default(),
        &DriverFeatures::new(f(&[0])),
        |_| Ok(()),
        |_, _| Err("no queue"),
    );
    assert_eq!(r, Err(InitFailure::Setup("no queue")));
    assert!(t.status().contains(Status::FAILED));
    assert!(!t.status().contains(Status::DRIVER_OK));
}

#[test]
fn activate_queue_checks_sizes() {
    let q = |size| QueueConfig {
        size,
        desc: 0,
        driver: 0,
        device: 0,
        legacy_align: 4096,
    };
    let mut t = FakeTransport::new(MODERN, f(&[32]));
    t.st().max_queue = 0;
    assert_eq!(
        activate_queue(&mut t, 0, &q(8)),
        Err(TransportError::NoQueue)
    );
    t.st().max_queue = 256;
    assert_eq!(
        activate_queue(&mut t, 0, &q(512)),
        Err(TransportError::InvalidQueue)
    );
    assert_eq!(
        activate_queue(&mut t, 0, &q(48)),
        Err(TransportError::InvalidQueue)
    );
    assert_eq!(activate_queue(&mut t, 0, &q(64)), Ok(()));
    let mut t = FakeTransport::new(TransportKind::PciLegacy, f(&[0]));
    assert_eq!(
        activate_queue(&mut t, 0, &q(64)),
        Err(TransportError::InvalidQueue)
    );
    assert_eq!(activate_queue(&mut t, 0, &q(256)), Ok(()));
}

#[test]
fn pick_queue_size_handles_odd_maxima() {
    assert_eq!(pick_queue_size(0, 256), 0);
    assert_eq!(pick_queue_size(256, 0), 0);
    assert_eq!(pick_queue_size(1, 256), 1);
    assert_eq!(pick_queue_size(1000, 4096), 512);
    assert_eq!(pick_queue_size(0xffff, 0xffff), 32768);
    assert_eq!(pick_queue_size(256, 100), 64);
}

/// A device that comes out of reset is stopped by it: its buffers may be
/// reclaimed, and the transport's DMA cut-off is not needed.
#[test]
fn stop_device_by_reset() {
    let t = FakeTransport::new(MODERN, f(&[32]));
    t.st().reset_polls_nonzero = 3;
    let mut cut = false;
    let s = stop_device(&t, 10, || {
        cut = true;
        true
    });
    assert_eq!(s, Stopped::Reset);
    assert!(s.may_reclaim());
    assert!(!cut);
}

/// A device whose status never reads 0: the reset wait is bounded, then
/// DMA is cut off where the transport can (PCI bus mastering), and only
/// then may its buffers be reclaimed; where it cannot (virtio-mmio) they
/// must stay the device's.
#[test]
fn stop_device_that_does_not_reset() {
    for (can_cut, want) in [(true, Stopped::DmaOff), (false, Stopped::Running)] {
        let t = FakeTransport::new(MODERN, f(&[32]));
        t.st().reset_polls_nonzero = 1_000_000;
        let mut tried = 0;
        let s = stop_device(&t, 50, || {
            tried += 1;
            can_cut
        });
        assert_eq!(s, want);
        assert_eq!(s.may_reclaim(), can_cut);
        assert_eq!(tried, 1);
        // The wait was bounded: 50 polls.
        assert_eq!(t.st().reset_polls_nonzero, 1_000_000 - 50);
        assert!(t.st().ops.contains(&Op::Reset));
    }
}
