// SPDX-License-Identifier: GPL-2.0

//! Conformance paths of the core that the device rarely takes: a legacy
//! device that reports the total descriptor length as the used length,
//! `VIRTQ_USED_F_NO_NOTIFY` set together with `VIRTIO_F_EVENT_IDX`, the
//! byte order of every interface, and the PCI register logic (MSI-X vector
//! read-back, the legacy configuration offset) against an emulated device.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

mod common;

use common::*;
use proptest::prelude::*;
use rvirtio_core::{
    features::{
        Feature,
        Features, //
    },
    layout::SplitLayout,
    pci::{
        common as cc,
        legacy,
        legacy_config_offset,
        set_msix_vector,
        ConfigWindow,
        VectorError,
        VectorSource,
        Window,
        MSI_NO_VECTOR, //
    },
    queue::{
        Buf,
        LenPolicy,
        QueueOptions,
        RingError,
        Virtqueue, //
    },
    spec::VIRTQ_USED_F_NO_NOTIFY,
    split::SplitQueue,
    transport::{
        TransportError,
        TransportKind, //
    },
    wire::ByteOrder,
};
use std::sync::Mutex;
use vm_memory::{Bytes, GuestAddress};

const ALL_KINDS: [TransportKind; 6] = [
    TransportKind::PciModern,
    TransportKind::PciLegacy,
    TransportKind::MmioModern,
    TransportKind::MmioLegacy,
    TransportKind::CcwModern { revision: 2 },
    TransportKind::CcwLegacy,
];

fn data(i: u64) -> u64 {
    DATA_ADDR + i * 0x1000
}

/// A queue with the options the framework builds for `kind` (no ring
/// features), in the layout of that interface, and a device on it.
fn queue_for(kind: TransportKind, size: u16) -> (TestQueue, VqDevice) {
    let opts = QueueOptions::from_features(Features::EMPTY, kind.is_legacy());
    let layout = if kind.is_legacy() {
        SplitLayout::legacy(size, 4096).unwrap()
    } else {
        SplitLayout::modern(size).unwrap()
    };
    let mem = new_mem();
    let host = host_memory(&mem);
    let ring = HostRegion::new(host.clone(), mem_offset(RING_ADDR), layout.total_size());
    let q = SplitQueue::new(platform(host, 1), ring, layout, opts).unwrap();
    let dev = VqDevice::new(mem, &q, false, 0);
    (q, dev)
}

// ---------------------------------------------------------------------
// Used length policy.

#[test]
fn length_policy_follows_the_transport() {
    for kind in ALL_KINDS {
        let opts = QueueOptions::from_features(Features::EMPTY, kind.is_legacy());
        assert_eq!(opts.len_policy, kind.len_policy(), "{kind:?}");
        let want = if kind.is_legacy() {
            LenPolicy::Clamp
        } else {
            LenPolicy::Reject
        };
        assert_eq!(opts.len_policy, want, "{kind:?}");
        assert_eq!(want.len_is_exact(), !kind.is_legacy());
    }
}

/// A legacy block device that reports the total descriptor length (header,
/// data and status, as some did: spec §5.2.6.4) instead of what it wrote:
/// I/O goes on, lengths are clamped to the writable bytes, for more
/// requests than the ring has entries (the indices wrap the ring twice).
/// The same device on a modern interface breaks the queue.
#[test]
fn legacy_device_reporting_total_descriptor_length() {
    for kind in [
        TransportKind::PciLegacy,
        TransportKind::MmioLegacy,
        TransportKind::CcwLegacy,
    ] {
        let (mut q, mut dev) = queue_for(kind, 8);
        for round in 0..20u64 {
            let t = round % 4;
            let out = [Buf::new(data(t * 3), 16)];
            let inb = [Buf::new(data(t * 3 + 1), 512), Buf::new(data(t * 3 + 2), 1)];
            q.add(&out, &inb, round).unwrap();
            assert!(q.prepare_kick().unwrap());
            let chain = dev.pop().unwrap();
            let total: u32 = chain.descs.iter().map(|d| d.len).sum();
            assert_eq!(total, 16 + 512 + 1);
            // The status byte is what the device wrote.
            dev.mem
                .write_obj(0u8, GuestAddress(data(t * 3 + 2)))
                .unwrap();
            dev.complete(&chain, total);
            let u = q.get_used().unwrap().unwrap();
            assert_eq!((u.token, u.len), (round, 513), "{kind:?} round {round}");
            assert!(!q.is_broken());
        }
        assert_eq!(q.num_free(), q.size());
    }

    let (mut q, mut dev) = queue_for(TransportKind::PciModern, 8);
    q.add(&[Buf::new(data(0), 16)], &[Buf::new(data(1), 1)], 7)
        .unwrap();
    let chain = dev.pop().unwrap();
    dev.complete(&chain, 17);
    assert_eq!(
        q.get_used(),
        Err(RingError::BadLen {
            id: 0,
            len: 17,
            max: 1
        })
    );
    assert!(q.is_broken());
}

// ---------------------------------------------------------------------
// VIRTQ_USED_F_NO_NOTIFY with VIRTIO_F_EVENT_IDX.

fn event_idx_opts() -> QueueOptions {
    QueueOptions::from_features(Features::single(Feature::EVENT_IDX), false)
}

/// Writes the used ring's `flags` and `avail_event` as a device would.
fn device_suppression(q: &TestQueue, dev: &VqDevice, flags: u16, avail_event: u16) {
    let used = q.config().device;
    dev.mem
        .write_obj(flags.to_le(), GuestAddress(used))
        .unwrap();
    let ev = used + 4 + 8 * u64::from(q.size());
    dev.mem
        .write_obj(avail_event.to_le(), GuestAddress(ev))
        .unwrap();
}

/// With `VIRTIO_F_EVENT_IDX` the driver ignores the `NO_NOTIFY` flag
/// (§2.7.10: "The driver MUST ignore the lower bit of flags") and follows
/// `avail_event` only: a device that leaves `NO_NOTIFY` set while asking
/// for a notification at the next entry gets it, and one that clears the
/// flag but asks for a later entry does not.
#[test]
fn no_notify_flag_is_ignored_with_event_idx() {
    let (mut q, dev) = setup(16, event_idx_opts(), 16);
    // The device wants to hear about entry 0 but has NO_NOTIFY set.
    device_suppression(&q, &dev, VIRTQ_USED_F_NO_NOTIFY, 0);
    q.add(&[Buf::new(data(0), 1)], &[], 0).unwrap();
    assert!(
        q.prepare_kick().unwrap(),
        "avail_event asks for this entry: NO_NOTIFY must not suppress it"
    );
    // Flag clear, but the device asked for entry 5 only.
    device_suppression(&q, &dev, 0, 5);
    q.add(&[Buf::new(data(1), 1)], &[], 1).unwrap();
    assert!(
        !q.prepare_kick().unwrap(),
        "avail_event is ahead: no notification, whatever the flag says"
    );
    // The batch that crosses entry 5 notifies, flag set or not.
    device_suppression(&q, &dev, VIRTQ_USED_F_NO_NOTIFY, 5);
    for t in 2..7 {
        q.add(&[Buf::new(data(t), 1)], &[], t).unwrap();
    }
    assert!(q.prepare_kick().unwrap());

    // Without EVENT_IDX the flag is what counts.
    let (mut q, dev) = setup(16, QueueOptions::from_features(Features::EMPTY, false), 16);
    device_suppression(&q, &dev, VIRTQ_USED_F_NO_NOTIFY, 0);
    q.add(&[Buf::new(data(0), 1)], &[], 0).unwrap();
    assert!(!q.prepare_kick().unwrap());
}

// ---------------------------------------------------------------------
// Byte order.

#[test]
fn byte_order_is_a_property_of_the_transport() {
    for kind in ALL_KINDS {
        let want = if kind.is_legacy() {
            ByteOrder::NATIVE
        } else {
            ByteOrder::Little
        };
        assert_eq!(kind.byte_order(), want, "{kind:?}");
    }
}

/// The virtio-blk request header (`struct virtio_blk_req`: `type`,
/// `reserved`, `sector`) encoded field by field with the transport's
/// helpers, as device headers are: little-endian on modern interfaces,
/// and on a big-endian guest's legacy interface big-endian.
fn encode_blk_header(order: ByteOrder, ty: u32, sector: u64) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&order.to_device_u32(ty));
    h.extend_from_slice(&order.to_device_u32(0));
    h.extend_from_slice(&order.to_device_u64(sector));
    h
}

#[test]
fn header_encoder_in_both_orders() {
    let le = encode_blk_header(ByteOrder::Little, 1, 0x0102_0304_0506_0708);
    assert_eq!(le, [1, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
    let be = encode_blk_header(ByteOrder::Big, 1, 0x0102_0304_0506_0708);
    assert_eq!(be, [0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(ByteOrder::Big.to_device_u16(0x1234), [0x12, 0x34]);
    assert_eq!(ByteOrder::Little.to_device_u16(0x1234), [0x34, 0x12]);
    // Decoding what the device wrote (a virtio-net header's `num_buffers`,
    // a status word).
    assert_eq!(ByteOrder::Big.from_device_u16([0x12, 0x34]), 0x1234);
    assert_eq!(ByteOrder::Little.from_device_u32([4, 3, 2, 1]), 0x0102_0304);
    assert_eq!(
        ByteOrder::Big.from_device_u64(be[8..].try_into().unwrap()),
        0x0102_0304_0506_0708
    );
    // The raw forms (plain native loads and stores of ring fields).
    for o in [ByteOrder::Little, ByteOrder::Big] {
        assert_eq!(o.to_raw16(0x1234).to_ne_bytes(), o.to_device_u16(0x1234));
        assert_eq!(
            o.to_raw32(0x0102_0304).to_ne_bytes(),
            o.to_device_u32(0x0102_0304)
        );
        assert_eq!(o.to_raw64(7).to_ne_bytes(), o.to_device_u64(7));
        assert_eq!(
            o.from_raw64(o.to_raw64(0xdead_beef_0000_0001)),
            0xdead_beef_0000_0001
        );
    }
}

proptest! {
    #[test]
    fn byte_order_round_trips(v in any::<u64>(), big in any::<bool>()) {
        let o = if big { ByteOrder::Big } else { ByteOrder::Little };
        prop_assert_eq!(o.from_device_u64(o.to_device_u64(v)), v);
        // CAST: truncation is the point.
        prop_assert_eq!(o.from_device_u32(o.to_device_u32(v as u32)), v as u32);
        prop_assert_eq!(o.from_device_u16(o.to_device_u16(v as u16)), v as u16);
        let mut le = o.to_device_u64(v);
        if big {
            le.reverse();
        }
        prop_assert_eq!(u64::from_le_bytes(le), v);
    }

    /// The PCI configuration encoder: a field the device stores in `order`
    /// reads back as its value through the little-endian bus accessors,
    /// and a written value lands in the device's bytes in `order`.
    #[test]
    fn pci_config_in_both_orders(v in any::<u64>(), big in any::<bool>(), off in 0usize..4) {
        let o = if big { ByteOrder::Big } else { ByteOrder::Little };
        let w = FakePci::new(true, 64);
        let cfg = ConfigWindow::new(&w, 0, o);
        let off = off * 8;
        w.set_bytes(off, &o.to_device_u64(v));
        prop_assert_eq!(cfg.read_u64(off), Ok(v));
        // CAST: truncation is the point.
        prop_assert_eq!(cfg.read_u32(off), Ok(o.from_device_u32(o.to_device_u64(v)[..4].try_into().unwrap())));
        cfg.write_u32(off, v as u32).unwrap();
        prop_assert_eq!(w.bytes(off, 4), o.to_device_u32(v as u32).to_vec());
        cfg.write_u16(off, v as u16).unwrap();
        prop_assert_eq!(w.bytes(off, 2), o.to_device_u16(v as u16).to_vec());
        prop_assert_eq!(cfg.read_u16(off), Ok(v as u16));
        cfg.write_u64(off, v.rotate_left(8)).unwrap();
        prop_assert_eq!(w.bytes(off, 8), o.to_device_u64(v.rotate_left(8)).to_vec());
        prop_assert_eq!(cfg.read_u64(off), Ok(v.rotate_left(8)));
    }
}

#[test]
fn pci_config_big_endian_fields() {
    // virtio-blk's `capacity` (le64 at 0) and `blk_size` (u32 at 20) of a
    // legacy device on a big-endian guest.
    let w = FakePci::new(true, 64);
    w.set_bytes(legacy::CONFIG_OFF_NO_MSIX, &[0, 0, 0, 0, 0, 0, 0x02, 0x00]);
    w.set_bytes(legacy::CONFIG_OFF_NO_MSIX + 20, &[0, 0, 0x10, 0]);
    let cfg = ConfigWindow::legacy(&w, false, ByteOrder::Big);
    assert_eq!(cfg.read_u64(0), Ok(0x200));
    assert_eq!(cfg.read_u32(20), Ok(4096));
    let cfg = ConfigWindow::legacy(&w, false, ByteOrder::Little);
    assert_eq!(cfg.read_u64(0), Ok(0x0002_0000_0000_0000));
    assert_eq!(cfg.read_u32(20), Ok(0x0010_0000));
}

// ---------------------------------------------------------------------
// PCI register logic against an emulated device.

/// A virtio PCI register window: the common configuration (modern) or the
/// legacy I/O BAR 0, with the MSI-X vector registers of a device that has
/// `vectors` MSI-X table entries; like QEMU, it stores `NO_VECTOR` for a
/// vector it cannot use (`msix_vector_use()` failed). `refuse_all` makes
/// it refuse every vector (no resources at all).
struct FakePci {
    legacy: bool,
    vectors: u16,
    refuse_all: bool,
    st: Mutex<PciState>,
}

struct PciState {
    bytes: Vec<u8>,
    queue_sel: u16,
    queue_vectors: [u16; 4],
}

impl FakePci {
    fn new(legacy: bool, vectors: u16) -> Self {
        Self {
            legacy,
            vectors,
            refuse_all: false,
            st: Mutex::new(PciState {
                bytes: vec![0; 256],
                queue_sel: 0,
                queue_vectors: [MSI_NO_VECTOR; 4],
            }),
        }
    }

    fn set_bytes(&self, off: usize, b: &[u8]) {
        self.st.lock().unwrap().bytes[off..off + b.len()].copy_from_slice(b);
    }

    fn bytes(&self, off: usize, n: usize) -> Vec<u8> {
        self.st.lock().unwrap().bytes[off..off + n].to_vec()
    }

    fn regs(&self) -> (usize, usize, usize) {
        if self.legacy {
            (
                legacy::QUEUE_SEL,
                legacy::CONFIG_VECTOR,
                legacy::QUEUE_VECTOR,
            )
        } else {
            (
                cc::QUEUE_SELECT,
                cc::CONFIG_MSIX_VECTOR,
                cc::QUEUE_MSIX_VECTOR,
            )
        }
    }

    fn accept(&self, v: u16) -> u16 {
        if v == MSI_NO_VECTOR || (v < self.vectors && !self.refuse_all) {
            v
        } else {
            MSI_NO_VECTOR
        }
    }

    fn check(&self, off: usize, n: usize) -> Result<(), TransportError> {
        if off + n > 256 || !off.is_multiple_of(n) {
            return Err(TransportError::OutOfRange);
        }
        Ok(())
    }
}

impl Window for FakePci {
    fn read8(&self, off: usize) -> Result<u8, TransportError> {
        self.check(off, 1)?;
        Ok(self.st.lock().unwrap().bytes[off])
    }
    fn read16(&self, off: usize) -> Result<u16, TransportError> {
        self.check(off, 2)?;
        let (_, _, qv) = self.regs();
        let st = self.st.lock().unwrap();
        if off == qv {
            return Ok(st.queue_vectors[usize::from(st.queue_sel)]);
        }
        Ok(u16::from_le_bytes([st.bytes[off], st.bytes[off + 1]]))
    }
    fn read32(&self, off: usize) -> Result<u32, TransportError> {
        self.check(off, 4)?;
        let st = self.st.lock().unwrap();
        Ok(u32::from_le_bytes(
            st.bytes[off..off + 4].try_into().unwrap(),
        ))
    }
    fn write8(&self, off: usize, v: u8) -> Result<(), TransportError> {
        self.check(off, 1)?;
        self.st.lock().unwrap().bytes[off] = v;
        Ok(())
    }
    fn write16(&self, off: usize, v: u16) -> Result<(), TransportError> {
        self.check(off, 2)?;
        let (sel, cv, qv) = self.regs();
        let mut st = self.st.lock().unwrap();
        if off == sel {
            st.queue_sel = v.min(3);
        } else if off == qv {
            let q = usize::from(st.queue_sel);
            st.queue_vectors[q] = self.accept(v);
            return Ok(());
        }
        let v = if off == cv { self.accept(v) } else { v };
        st.bytes[off..off + 2].copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn write32(&self, off: usize, v: u32) -> Result<(), TransportError> {
        self.check(off, 4)?;
        self.st.lock().unwrap().bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
        Ok(())
    }
}

#[test]
fn msix_vectors_accepted_and_read_back() {
    for legacy in [false, true] {
        let w = FakePci::new(legacy, 3);
        set_msix_vector(&w, legacy, VectorSource::Config, 0).unwrap();
        set_msix_vector(&w, legacy, VectorSource::Queue(0), 1).unwrap();
        set_msix_vector(&w, legacy, VectorSource::Queue(1), 2).unwrap();
        set_msix_vector(&w, legacy, VectorSource::Queue(2), MSI_NO_VECTOR).unwrap();
        let st = w.st.lock().unwrap();
        assert_eq!(
            st.queue_vectors[..3],
            [1, 2, MSI_NO_VECTOR],
            "legacy {legacy}"
        );
    }
}

/// §4.1.5.1.2.1: a device that cannot allocate a vector reads back
/// `NO_VECTOR`; the driver must notice (the framework then falls back to
/// a routing with fewer vectors, finally INTx).
#[test]
fn msix_vector_read_back_no_vector() {
    for legacy in [false, true] {
        let w = FakePci::new(legacy, 2);
        assert_eq!(
            set_msix_vector(&w, legacy, VectorSource::Queue(1), 2),
            Err(VectorError::Refused { got: MSI_NO_VECTOR }),
            "queue vector beyond the table, legacy {legacy}"
        );
        let mut w = FakePci::new(legacy, 2);
        w.refuse_all = true;
        assert_eq!(
            set_msix_vector(&w, legacy, VectorSource::Config, 0),
            Err(VectorError::Refused { got: MSI_NO_VECTOR }),
            "config vector, legacy {legacy}"
        );
        assert_eq!(
            set_msix_vector(&w, legacy, VectorSource::Queue(0), 1),
            Err(VectorError::Refused { got: MSI_NO_VECTOR })
        );
        // Asking for no vector always works.
        assert_eq!(
            set_msix_vector(&w, legacy, VectorSource::Queue(0), MSI_NO_VECTOR),
            Ok(())
        );
    }
}

/// Without MSI-X the legacy device configuration starts at offset 20 of
/// the I/O BAR, where the vector registers are with MSI-X (§4.1.4.10);
/// with MSI-X at 24.
#[test]
fn legacy_config_offset_without_and_with_msix() {
    assert_eq!(legacy_config_offset(false), 20);
    assert_eq!(legacy_config_offset(true), 24);
    let w = FakePci::new(true, 0);
    let o = TransportKind::PciLegacy.byte_order();
    // A config of 0x11223344 at 0 and 0x55667788 at 4, in the device's
    // order, right after the ISR.
    w.set_bytes(20, &o.to_device_u32(0x1122_3344));
    w.set_bytes(24, &o.to_device_u32(0x5566_7788));
    let no_msix = ConfigWindow::legacy(&w, false, o);
    assert_eq!(no_msix.read_u32(0), Ok(0x1122_3344));
    assert_eq!(no_msix.read_u32(4), Ok(0x5566_7788));
    assert_eq!(no_msix.read_u8(0), Ok(o.to_device_u32(0x1122_3344)[0]));
    let msix = ConfigWindow::legacy(&w, true, o);
    assert_eq!(msix.read_u32(0), Ok(0x5566_7788));
    // A write without MSI-X lands at 20 + offset.
    no_msix.write_u16(6, 0xbeef).unwrap();
    assert_eq!(w.bytes(26, 2), o.to_device_u16(0xbeef).to_vec());
    // Outside the window: an error, not a panic.
    assert_eq!(
        no_msix.read_u32(usize::MAX - 1),
        Err(TransportError::OutOfRange)
    );
    assert_eq!(no_msix.read_u32(256), Err(TransportError::OutOfRange));
}
