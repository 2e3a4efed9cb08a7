// SPDX-License-Identifier: GPL-2.0

//! virtio-ccw: command codes, communication blocks and their byte orders
//! against the spec, the revision negotiation, indicator bit numbering and
//! the decoding of channel program completions.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use proptest::prelude::*;
use rvirtio_core::{
    ccw::{
        adapter_bit, after_reject, classic_bit, cmd, completion, conf_read_len, dstat,
        feature_desc, feature_desc_bits, first_revision, rev_info, thinint_area, vq_config_block,
        vq_config_max, vq_info_block, vq_info_block_legacy, CcwError, Revision, RevisionStep,
        CU_TYPE, FEATURE_DESC_LEN, SNS0_CMD_REJECT, THININT_LEN, VQ_INFO_LEGACY_LEN, VQ_INFO_LEN,
    },
    queue::{NotifyData, QueueConfig},
};

#[test]
fn commands_match_the_spec() {
    assert_eq!(CU_TYPE, 0x3832);
    let table = [
        (cmd::SET_VQ, 0x13),
        (cmd::VDEV_RESET, 0x33),
        (cmd::SET_IND, 0x43),
        (cmd::SET_CONF_IND, 0x53),
        (cmd::SET_IND_ADAPTER, 0x73),
        (cmd::READ_FEAT, 0x12),
        (cmd::WRITE_FEAT, 0x11),
        (cmd::READ_CONF, 0x22),
        (cmd::WRITE_CONF, 0x21),
        (cmd::WRITE_STATUS, 0x31),
        (cmd::READ_VQ_CONF, 0x32),
        (cmd::SET_VIRTIO_REV, 0x83),
        (cmd::READ_STATUS, 0x72),
    ];
    for (c, v) in table {
        assert_eq!(c, v);
    }
}

#[test]
fn revision_negotiation_tries_2_then_1_then_legacy() {
    assert_eq!(first_revision(), RevisionStep::Try(2));
    assert_eq!(after_reject(2, true), RevisionStep::Try(1));
    assert_eq!(after_reject(1, true), RevisionStep::Legacy);
    assert_eq!(after_reject(1, false), RevisionStep::Refuse);
    assert_eq!(after_reject(0, true), RevisionStep::Refuse);
    // A revision the driver never asks for restarts from the top.
    assert_eq!(after_reject(9, true), RevisionStep::Try(2));
    // The whole walk ends, whatever the device rejects.
    let mut step = first_revision();
    let mut n = 0;
    while let RevisionStep::Try(r) = step {
        step = after_reject(r, true);
        n += 1;
        assert!(n < 5);
    }
    assert_eq!(step, RevisionStep::Legacy);
    let r0 = Revision::new(0).unwrap();
    let r2 = Revision::new(2).unwrap();
    assert!(r0.is_legacy() && !r0.has_read_status() && r0.feature_words() == 1);
    assert!(!r2.is_legacy() && r2.has_read_status() && r2.feature_words() == 2);
    assert!(!Revision::new(1).unwrap().has_read_status());
    assert_eq!(Revision::new(3), None);
    assert_eq!(rev_info(2), [0, 2, 0, 0]);
}

#[test]
fn blocks_are_big_endian_features_little_endian() {
    assert_eq!(vq_config_block(0x0102), [1, 2, 0, 0]);
    assert_eq!(vq_config_max(&[1, 2, 0x01, 0x00], 0x0102), Some(256));
    // A block that names another queue, or is short, is refused.
    assert_eq!(vq_config_max(&[0, 3, 0x01, 0x00], 0x0102), None);
    assert_eq!(vq_config_max(&[1, 2, 0x01], 0x0102), None);
    let q = QueueConfig {
        size: 0x0100,
        desc: 0x1122_3344_5566_7788,
        driver: 0x0102_0304_0506_0708,
        device: 0x1112_1314_1516_1718,
        legacy_align: 4096,
    };
    let b = vq_info_block(3, &q);
    assert_eq!(b.len(), VQ_INFO_LEN);
    assert_eq!(&b[0..8], &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    assert_eq!(&b[8..12], &[0; 4], "res0");
    assert_eq!(&b[12..16], &[0, 3, 1, 0]);
    assert_eq!(&b[16..24], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        &b[24..32],
        &[0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18]
    );
    let l = vq_info_block_legacy(3, &q);
    assert_eq!(l.len(), VQ_INFO_LEGACY_LEN);
    assert_eq!(&l[0..8], &b[0..8]);
    assert_eq!(&l[8..12], &[0, 0, 0x10, 0]);
    assert_eq!(&l[12..16], &[0, 3, 1, 0]);
    // Feature bits are little-endian (§4.3.2.3), 5 bytes, no padding.
    let f = feature_desc(1, 0x0000_0001);
    assert_eq!(f.len(), FEATURE_DESC_LEN);
    assert_eq!(f, [1, 0, 0, 0, 1]);
    assert_eq!(
        feature_desc_bits(&[0x78, 0x56, 0x34, 0x12, 0], 0),
        Some(0x1234_5678)
    );
    assert_eq!(feature_desc_bits(&[0x78, 0x56, 0x34, 0x12, 1], 0), None);
    assert_eq!(feature_desc_bits(&[0x78, 0x56, 0x34, 0x12], 0), None);
    let t = thinint_area(0x10, 0x2000, 5, 3);
    assert_eq!(t.len(), THININT_LEN);
    assert_eq!(&t[0..8], &[0, 0, 0, 0, 0, 0, 0, 0x10]);
    assert_eq!(&t[8..16], &[0, 0, 0, 0, 0, 0, 0x20, 0]);
    assert_eq!(&t[16..24], &[0, 0, 0, 0, 0, 0, 0, 5]);
    assert_eq!(t[24], 3);
}

#[test]
fn indicator_bits() {
    assert_eq!(classic_bit(0), Some(1));
    assert_eq!(classic_bit(63), Some(1 << 63));
    assert_eq!(classic_bit(64), None);
    // Adapter indicators count from the left of the first byte.
    assert_eq!(adapter_bit(0), Some((0, 0x80)));
    assert_eq!(adapter_bit(7), Some((0, 0x01)));
    assert_eq!(adapter_bit(8), Some((1, 0x80)));
    assert_eq!(adapter_bit(13), Some((1, 0x04)));
}

#[test]
fn notification_value_is_the_shared_one() {
    let d = NotifyData {
        next_off: 5,
        next_wrap: true,
    };
    assert_eq!(d.to_u32(2), 0x8005_0002);
}

#[test]
fn config_reads_start_at_zero() {
    assert_eq!(conf_read_len(8, 4, 256), Some(12));
    assert_eq!(conf_read_len(254, 4, 256), None);
    assert_eq!(conf_read_len(usize::MAX, 1, usize::MAX), None);
}

#[test]
fn completions_decode_to_clear_errors() {
    let ok = dstat::CHN_END | dstat::DEV_END;
    assert_eq!(completion(ok, 0, 0), Ok(()));
    assert_eq!(
        completion(ok | dstat::UNIT_CHECK, 0, SNS0_CMD_REJECT),
        Err(CcwError::CommandReject)
    );
    assert_eq!(
        completion(ok | dstat::UNIT_CHECK, 0, 0x10),
        Err(CcwError::UnitCheck(0x10))
    );
    assert_eq!(completion(ok, 0x20, 0), Err(CcwError::ChannelStatus(0x20)));
    assert_eq!(completion(dstat::BUSY, 0, 0), Err(CcwError::Busy));
    assert_eq!(
        completion(ok | dstat::UNIT_EXCEP, 0, 0),
        Err(CcwError::DeviceStatus(0x0d))
    );
}

proptest! {
    /// Only channel end and device end, without channel status, is success;
    /// a unit check is always reported as one.
    #[test]
    fn completion_is_strict(d in any::<u8>(), c in any::<u8>(), s in any::<u8>()) {
        let r = completion(d, c, s);
        if r.is_ok() {
            prop_assert_eq!(c, 0);
            prop_assert_eq!(d & !(dstat::CHN_END | dstat::DEV_END), 0);
        }
        if d & dstat::UNIT_CHECK != 0 {
            prop_assert!(matches!(r, Err(CcwError::CommandReject | CcwError::UnitCheck(_))));
        }
    }

    /// Every queue bit of an adapter area is a distinct (byte, bit).
    #[test]
    fn adapter_bits_are_distinct(a in 0u64..1_000_000, b in 0u64..1_000_000) {
        let (ba, ma) = adapter_bit(a).unwrap();
        let (bb, mb) = adapter_bit(b).unwrap();
        prop_assert_eq!(a == b, ba == bb && ma == mb);
        prop_assert_eq!(ma.count_ones(), 1);
    }
}
