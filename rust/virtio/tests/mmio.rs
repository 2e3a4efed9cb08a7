// SPDX-License-Identifier: GPL-2.0

//! The virtio-mmio transport (versions 1 and 2) against an emulated
//! register window, the header checks, the legacy PFN limit and the
//! command-line device syntax.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use proptest::prelude::*;
use rvirtio_core::{
    features::{
        DriverFeatures,
        Feature,
        Features, //
    },
    init::{
        DeviceInit,
        InitOptions, //
    },
    mmio::{
        check_header,
        cmdline::{
            parse_device,
            parse_devices,
            CmdlineDevice,
            CmdlineError, //
        },
        identify,
        legacy_pfn,
        reg,
        HeaderError,
        MmioTransport,
        Registers,
        ShmRegion,
        Version,
        LEGACY_DMA_BITS,
        LEGACY_PAGE_SIZE,
        MAGIC, //
    },
    queue::{
        NotifyData,
        QueueConfig, //
    },
    spec::{
        DeviceId,
        Status, //
    },
    transport::{
        activate_queue,
        Transport,
        TransportError,
        TransportKind, //
    },
    wire::ByteOrder,
};
use std::sync::Mutex;

/// Per-queue state of the emulated device.
#[derive(Clone, Copy, Debug, Default)]
struct Q {
    max: u32,
    num: u32,
    ready: u32,
    align: u32,
    pfn: u32,
    desc: u64,
    driver: u64,
    device: u64,
}

/// An emulated virtio-mmio device behind a register window.
#[derive(Debug)]
struct Dev {
    magic: u32,
    version: u32,
    device_id: u32,
    features: u64,
    driver_features: [u32; 4],
    dfsel: u32,
    drvsel: u32,
    qsel: u32,
    queues: Vec<Q>,
    status: u32,
    isr: u32,
    acked: Vec<u32>,
    notified: Vec<u32>,
    page_size: Option<u32>,
    page_size_writes: u32,
    generation: u32,
    /// Device configuration bytes, as the device stores them.
    config: Vec<u8>,
    shm: Vec<(u64, u64)>,
    shmsel: u32,
    /// `QueueReady` sticks at 1 (a broken device).
    sticky_ready: bool,
    writes: u32,
}

struct Fake {
    len: usize,
    dev: Mutex<Dev>,
}

impl Fake {
    fn new(version: u32, device_id: u32) -> Self {
        Self {
            len: 0x200,
            dev: Mutex::new(Dev {
                magic: MAGIC,
                version,
                device_id,
                features: (1 << 32) | (1 << 28) | 0b101,
                driver_features: [0; 4],
                dfsel: 0,
                drvsel: 0,
                qsel: 0,
                queues: vec![
                    Q {
                        max: 256,
                        ..Q::default()
                    },
                    Q {
                        max: 1024,
                        ..Q::default()
                    },
                    Q::default(),
                ],
                status: 0,
                isr: 0,
                acked: Vec::new(),
                notified: Vec::new(),
                page_size: None,
                page_size_writes: 0,
                generation: 7,
                config: (0u8..=255).collect(),
                shm: vec![(0x1_0000_0000, 0x20_0000)],
                shmsel: 0,
                sticky_ready: false,
                writes: 0,
            }),
        }
    }

    fn d(&self) -> std::sync::MutexGuard<'_, Dev> {
        self.dev.lock().unwrap()
    }
}

fn check(len: usize, off: usize, width: usize) -> Result<(), TransportError> {
    if !off.is_multiple_of(width) || off + width > len {
        return Err(TransportError::OutOfRange);
    }
    Ok(())
}

impl Registers for Fake {
    fn len(&self) -> usize {
        self.len
    }

    fn read32(&self, off: usize) -> Result<u32, TransportError> {
        check(self.len, off, 4)?;
        let d = self.d();
        let q = d.queues.get(d.qsel as usize).copied().unwrap_or_default();
        let shm = d.shm.get(d.shmsel as usize).copied();
        Ok(match off {
            reg::MAGIC_VALUE => d.magic,
            reg::VERSION => d.version,
            reg::DEVICE_ID => d.device_id,
            reg::VENDOR_ID => 0x554d_4551,
            reg::DEVICE_FEATURES => match d.dfsel {
                0 => d.features as u32,
                1 => (d.features >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX => q.max,
            reg::QUEUE_READY => q.ready,
            reg::QUEUE_PFN => q.pfn,
            reg::INTERRUPT_STATUS => d.isr,
            reg::STATUS => d.status,
            reg::CONFIG_GENERATION => d.generation,
            reg::SHM_LEN_LOW => shm.map_or(u32::MAX, |s| s.1 as u32),
            0x0b4 => shm.map_or(u32::MAX, |s| (s.1 >> 32) as u32),
            reg::SHM_BASE_LOW => shm.map_or(0, |s| s.0 as u32),
            0x0bc => shm.map_or(0, |s| (s.0 >> 32) as u32),
            o if o >= reg::CONFIG => {
                let c = o - reg::CONFIG;
                u32::from_le_bytes(d.config[c..c + 4].try_into().unwrap())
            }
            _ => 0,
        })
    }

    fn write32(&self, off: usize, v: u32) -> Result<(), TransportError> {
        check(self.len, off, 4)?;
        let mut d = self.d();
        d.writes += 1;
        let sel = d.qsel as usize;
        let lo = |old: u64| (old & !0xffff_ffff) | u64::from(v);
        let hi = |old: u64| (old & 0xffff_ffff) | (u64::from(v) << 32);
        match off {
            reg::DEVICE_FEATURES_SEL => d.dfsel = v,
            reg::DRIVER_FEATURES_SEL => d.drvsel = v,
            reg::DRIVER_FEATURES => {
                let s = d.drvsel as usize;
                if s < 4 {
                    d.driver_features[s] = v;
                }
            }
            reg::GUEST_PAGE_SIZE => {
                d.page_size = Some(v);
                d.page_size_writes += 1;
            }
            reg::QUEUE_SEL => d.qsel = v,
            reg::QUEUE_NOTIFY => d.notified.push(v),
            reg::INTERRUPT_ACK => {
                d.isr &= !v;
                d.acked.push(v);
            }
            reg::STATUS => d.status = v,
            reg::SHM_SEL => d.shmsel = v,
            o if o >= reg::CONFIG => {
                let c = o - reg::CONFIG;
                d.config[c..c + 4].copy_from_slice(&v.to_le_bytes());
            }
            _ => {
                let sticky = d.sticky_ready;
                if let Some(q) = d.queues.get_mut(sel) {
                    match off {
                        reg::QUEUE_NUM => q.num = v,
                        reg::QUEUE_ALIGN => q.align = v,
                        reg::QUEUE_PFN => q.pfn = v,
                        reg::QUEUE_READY => q.ready = if sticky { 1 } else { v },
                        0x080 => q.desc = lo(q.desc),
                        0x084 => q.desc = hi(q.desc),
                        0x090 => q.driver = lo(q.driver),
                        0x094 => q.driver = hi(q.driver),
                        0x0a0 => q.device = lo(q.device),
                        0x0a4 => q.device = hi(q.device),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    fn read16(&self, off: usize) -> Result<u16, TransportError> {
        check(self.len, off, 2)?;
        let d = self.d();
        let c = off
            .checked_sub(reg::CONFIG)
            .ok_or(TransportError::OutOfRange)?;
        Ok(u16::from_le_bytes(d.config[c..c + 2].try_into().unwrap()))
    }

    fn write16(&self, off: usize, v: u16) -> Result<(), TransportError> {
        check(self.len, off, 2)?;
        let mut d = self.d();
        let c = off
            .checked_sub(reg::CONFIG)
            .ok_or(TransportError::OutOfRange)?;
        d.config[c..c + 2].copy_from_slice(&v.to_le_bytes());
        Ok(())
    }

    fn read8(&self, off: usize) -> Result<u8, TransportError> {
        check(self.len, off, 1)?;
        let d = self.d();
        let c = off
            .checked_sub(reg::CONFIG)
            .ok_or(TransportError::OutOfRange)?;
        Ok(d.config[c])
    }

    fn write8(&self, off: usize, v: u8) -> Result<(), TransportError> {
        check(self.len, off, 1)?;
        let mut d = self.d();
        let c = off
            .checked_sub(reg::CONFIG)
            .ok_or(TransportError::OutOfRange)?;
        d.config[c] = v;
        Ok(())
    }
}

fn modern(size: u16, base: u64) -> QueueConfig {
    QueueConfig {
        size,
        desc: base,
        driver: base + 0x1000,
        device: base + 0x2000,
        legacy_align: 0,
    }
}

fn legacy(size: u16, base: u64) -> QueueConfig {
    QueueConfig {
        size,
        desc: base,
        driver: 0,
        device: 0,
        legacy_align: 4096,
    }
}

#[test]
fn header_checks() {
    assert_eq!(check_header(MAGIC, 2, 4).unwrap().version, Version::Modern);
    assert_eq!(check_header(MAGIC, 1, 2).unwrap().version, Version::Legacy);
    assert_eq!(
        check_header(MAGIC, 1, 0).unwrap().device_id,
        DeviceId::INVALID
    );
    assert_eq!(
        check_header(0x7669_7274, 2, 4),
        Err(HeaderError::BadMagic(0x7669_7274))
    );
    for v in [0, 3, u32::MAX] {
        assert_eq!(check_header(MAGIC, v, 4), Err(HeaderError::BadVersion(v)));
    }
    // Magic is checked first.
    assert_eq!(check_header(0, 3, 4), Err(HeaderError::BadMagic(0)));
    let msg = format!("{}", HeaderError::BadVersion(3));
    assert!(msg.contains("Version 3"), "{msg}");
}

#[test]
fn identify_reads_the_window() {
    let f = Fake::new(2, 4);
    let h = identify(&f).unwrap();
    assert_eq!(h.version, Version::Modern);
    assert_eq!(h.device_id, DeviceId::ENTROPY);
    assert_eq!(h.vendor_id, 0x554d_4551);
    f.d().magic = 0xdead_beef;
    assert_eq!(identify(&f), Err(HeaderError::BadMagic(0xdead_beef)));
    let mut small = Fake::new(2, 4);
    small.len = 0xfc;
    assert_eq!(identify(&small), Err(HeaderError::WindowTooSmall(0xfc)));
    let f3 = Fake::new(3, 4);
    assert!(matches!(
        MmioTransport::new(f3),
        Err(HeaderError::BadVersion(3))
    ));
}

#[test]
fn pfn_limit() {
    assert_eq!(legacy_pfn(0x1000, 4096), Ok(1));
    assert_eq!(legacy_pfn(0xffff_ffff << 12, 4096), Ok(0xffff_ffff));
    assert_eq!(legacy_pfn(1 << 44, 4096), Err(TransportError::InvalidQueue));
    assert_eq!(legacy_pfn(0x1800, 4096), Err(TransportError::InvalidQueue));
    assert_eq!(legacy_pfn(0, 4096), Err(TransportError::InvalidQueue));
    assert_eq!(legacy_pfn(0x3000, 3000), Err(TransportError::InvalidQueue));
    assert_eq!(legacy_pfn(0x3000, 0), Err(TransportError::InvalidQueue));
    assert_eq!(legacy_pfn(0x10000, 65536), Ok(1));
    assert_eq!(LEGACY_DMA_BITS, 44);
}

proptest! {
    #[test]
    fn pfn_is_exact(addr in any::<u64>(), shift in 9u32..17) {
        let page = 1u32 << shift;
        match legacy_pfn(addr, page) {
            Ok(pfn) => {
                prop_assert_eq!(u64::from(pfn) << shift, addr);
                prop_assert!(pfn != 0);
            }
            Err(e) => {
                prop_assert_eq!(e, TransportError::InvalidQueue);
                prop_assert!(
                    addr % u64::from(page) != 0 || addr >> shift > u64::from(u32::MAX) || addr == 0
                );
            }
        }
    }

    #[test]
    fn cmdline_round_trips(
        size in 0x100u64..0x10_0000,
        base in 0u64..(1 << 48),
        irq in 1u32..,
        id in proptest::option::of(0u32..0x7fff_ffff),
        hex in any::<bool>(),
    ) {
        let mut s = if hex {
            format!("{:#x}@{:#x}:{}", size, base, irq)
        } else {
            format!("{}@{}:{}", size, base, irq)
        };
        if let Some(id) = id {
            s.push_str(&format!(":{id}"));
        }
        prop_assert_eq!(
            parse_device(s.as_bytes()),
            Ok(CmdlineDevice { base, size, irq, id })
        );
    }

    #[test]
    fn cmdline_never_panics(s in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_devices(&s).count();
        let _ = parse_device(&s);
    }
}

#[test]
fn cmdline_syntax() {
    let d = |base, size, irq, id| {
        Ok(CmdlineDevice {
            base,
            size,
            irq,
            id,
        })
    };
    assert_eq!(
        parse_device(b"0x200@0xfeb00e00:12"),
        d(0xfeb0_0e00, 0x200, 12, None)
    );
    assert_eq!(
        parse_device(b"512@0xfeb00e00:12:3"),
        d(0xfeb0_0e00, 512, 12, Some(3))
    );
    assert_eq!(parse_device(b"1K@0x1000:5"), d(0x1000, 1024, 5, None));
    assert_eq!(parse_device(b"4k@0x1000:5"), d(0x1000, 4096, 5, None));
    assert_eq!(parse_device(b"1M@0100:5"), d(0o100, 1 << 20, 5, None));
    assert_eq!(parse_device(b"0x1G@0:1"), d(0, 1 << 30, 1, None));
    assert_eq!(parse_device(b""), Err(CmdlineError::BadSize));
    assert_eq!(parse_device(b"0@0x1000:5"), Err(CmdlineError::ZeroSize));
    assert_eq!(parse_device(b"0x200"), Err(CmdlineError::MissingAt));
    assert_eq!(parse_device(b"0x200@"), Err(CmdlineError::BadBase));
    assert_eq!(parse_device(b"0x200@0x1000"), Err(CmdlineError::MissingIrq));
    assert_eq!(parse_device(b"0x200@0x1000:"), Err(CmdlineError::BadIrq));
    assert_eq!(parse_device(b"0x200@0x1000:0"), Err(CmdlineError::ZeroIrq));
    assert_eq!(parse_device(b"0x200@0x1000:5:"), Err(CmdlineError::BadId));
    assert_eq!(parse_device(b"0x200@0x1000:5:-1"), Err(CmdlineError::BadId));
    assert_eq!(
        parse_device(b"0x200@0x1000:5:1x"),
        Err(CmdlineError::Trailing)
    );
    assert_eq!(
        parse_device(b"0x200@0x1000:5:3:4"),
        Err(CmdlineError::Trailing)
    );
    assert_eq!(parse_device(b"16E@0:5"), Err(CmdlineError::Overflow));
    assert_eq!(
        parse_device(b"0x200@0xffffffffffffff00:5"),
        Err(CmdlineError::Overflow)
    );
    assert_eq!(
        parse_device(b"0x200@0x1000:4294967296"),
        Err(CmdlineError::Overflow)
    );
    assert_eq!(
        parse_device(b"0x200@0x1000:5:2147483648"),
        Err(CmdlineError::Overflow)
    );
    // Octal digits only after a leading 0.
    assert_eq!(parse_device(b"08@0x1000:5"), Err(CmdlineError::ZeroSize));
    let all: Vec<_> = parse_devices(b" 0x200@0xfeb00e00:12, 0x200@0xfeb00c00:11\t,,bad ")
        .map(|(s, r)| (s.to_vec(), r))
        .collect();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].1, d(0xfeb0_0e00, 0x200, 12, None));
    assert_eq!(all[1].1, d(0xfeb0_0c00, 0x200, 11, None));
    assert_eq!(all[2].0, b"bad".to_vec());
    assert_eq!(all[2].1, Err(CmdlineError::BadSize));
}

#[test]
fn modern_queue_programming() {
    let t = MmioTransport::new(Fake::new(2, 2)).unwrap();
    assert_eq!(t.kind(), TransportKind::MmioModern);
    assert!(t.kind().has_config_generation());
    assert_eq!(t.queue_max(0), Ok(256));
    assert_eq!(t.queue_max(2), Ok(0));
    assert_eq!(t.queue_max(9), Ok(0));
    let cfg = modern(128, 0x1_2345_6000);
    activate_queue(&mut &t, 1, &cfg).unwrap();
    {
        let d = t.registers().d();
        let q = d.queues[1];
        assert_eq!((q.num, q.ready), (128, 1));
        assert_eq!(q.desc, 0x1_2345_6000);
        assert_eq!(q.driver, 0x1_2345_7000);
        assert_eq!(q.device, 0x1_2345_8000);
        assert_eq!(d.page_size, None, "no GuestPageSize on version 2");
    }
    // A live queue cannot be programmed again.
    assert_eq!(t.program_queue(1, &cfg), Err(TransportError::InvalidQueue));
    // QueueNumMax 0: no queue, nothing written.
    let before = t.registers().d().writes;
    assert_eq!(
        activate_queue(&mut &t, 2, &modern(8, 0x1000)),
        Err(TransportError::NoQueue)
    );
    assert_eq!(
        t.program_queue(2, &modern(8, 0x1000)),
        Err(TransportError::NoQueue)
    );
    assert_eq!(t.registers().d().queues[2].num, 0);
    assert!(t.registers().d().writes - before <= 2, "only QueueSel");
    // Too large or not a power of two.
    assert_eq!(
        t.program_queue(0, &modern(512, 0x1000)),
        Err(TransportError::InvalidQueue)
    );
    assert_eq!(
        t.program_queue(0, &modern(100, 0x1000)),
        Err(TransportError::InvalidQueue)
    );
    // Release: QueueReady 0, read back.
    t.detach_queue(1).unwrap();
    assert_eq!(t.registers().d().queues[1].ready, 0);
    t.registers().d().sticky_ready = true;
    t.ready_queue(0).unwrap();
    assert_eq!(t.detach_queue(0), Err(TransportError::Io));
}

#[test]
fn untrusted_queue_max_is_clamped() {
    let t = MmioTransport::new(Fake::new(2, 2)).unwrap();
    t.registers().d().queues[0].max = 0x1_0000;
    assert_eq!(t.queue_max(0), Ok(32768));
    t.registers().d().queues[0].max = u32::MAX;
    assert_eq!(t.queue_max(0), Ok(32768));
    t.registers().d().queues[0].max = 40000;
    assert_eq!(t.queue_max(0), Ok(32768));
    t.registers().d().queues[0].max = 3;
    assert_eq!(t.queue_max(0), Ok(3));
}

#[test]
fn legacy_queue_programming() {
    let t = MmioTransport::new(Fake::new(1, 4)).unwrap();
    assert_eq!(t.kind(), TransportKind::MmioLegacy);
    assert!(!t.kind().has_config_generation());
    assert_eq!(t.config_generation(), Ok(0));
    activate_queue(&mut &t, 0, &legacy(256, 0x7654_3000)).unwrap();
    {
        let d = t.registers().d();
        let q = d.queues[0];
        assert_eq!(d.page_size, Some(LEGACY_PAGE_SIZE));
        assert_eq!((q.num, q.align, q.pfn), (256, 4096, 0x7_6543));
    }
    activate_queue(&mut &t, 1, &legacy(1024, 0x10_0000)).unwrap();
    assert_eq!(t.registers().d().page_size_writes, 1, "GuestPageSize once");
    // A ring whose PFN does not fit 32 bits is refused before any write.
    let before = t.registers().d().writes;
    t.registers().d().queues[1].pfn = 0;
    assert_eq!(
        t.program_queue(1, &legacy(8, 1 << 44)),
        Err(TransportError::InvalidQueue)
    );
    assert_eq!(
        t.program_queue(1, &legacy(8, 0x1_0000_0800)),
        Err(TransportError::InvalidQueue)
    );
    let mut bad_align = legacy(8, 0x1000);
    bad_align.legacy_align = 3000;
    assert_eq!(
        t.program_queue(1, &bad_align),
        Err(TransportError::InvalidQueue)
    );
    assert_eq!(t.registers().d().writes, before);
    // Release: QueuePFN 0.
    t.detach_queue(0).unwrap();
    assert_eq!(t.registers().d().queues[0].pfn, 0);
    // After a reset GuestPageSize is written again before the next queue.
    t.reset().unwrap();
    activate_queue(&mut &t, 0, &legacy(16, 0x2000)).unwrap();
    assert_eq!(t.registers().d().page_size_writes, 2);
    // Legacy: one feature word.
    assert_eq!(t.device_features(1), Ok(0));
    assert_eq!(t.set_driver_features(1, 0), Ok(()));
    assert_eq!(
        t.set_driver_features(1, 1),
        Err(TransportError::NotSupported)
    );
    assert_eq!(t.shared_memory(0), Ok(None));
    assert!(!t.transport_features().contains(Feature::NOTIFICATION_DATA));
}

#[test]
fn notify_and_interrupts() {
    let t = MmioTransport::new(Fake::new(2, 2)).unwrap();
    t.notify(3, None).unwrap();
    let data = NotifyData {
        next_off: 0x1234,
        next_wrap: true,
    };
    t.notify(3, Some(data)).unwrap();
    assert_eq!(t.registers().d().notified, vec![3, data.to_u32(3)]);
    // Interrupts: only the defined bits are acknowledged.
    assert_eq!(t.ack_interrupt().unwrap().bits(), 0);
    assert!(t.registers().d().acked.is_empty());
    t.registers().d().isr = 0xffff_fffd;
    let s = t.ack_interrupt().unwrap();
    assert!(s.queue() && !s.config());
    assert_eq!(t.registers().d().acked, vec![1]);
    t.registers().d().isr = 3;
    let s = t.ack_interrupt().unwrap();
    assert!(s.queue() && s.config());
    // Legacy: notification data never goes out.
    let l = MmioTransport::new(Fake::new(1, 2)).unwrap();
    l.notify(1, Some(data)).unwrap();
    assert_eq!(l.registers().d().notified, vec![1]);
}

#[test]
fn status_and_features() {
    let t = MmioTransport::new(Fake::new(2, 2)).unwrap();
    t.registers().d().status = 0xffff_ff07;
    assert_eq!(t.read_status().unwrap().bits(), 0x07);
    t.write_status(Status::ACKNOWLEDGE).unwrap();
    assert_eq!(t.registers().d().status, 1);
    assert_eq!(
        t.device_features(0),
        Ok(0b1_0000_0000_0000_0000_0000_0000_0101)
    );
    assert_eq!(t.device_features(1), Ok(1));
    assert_eq!(t.device_features(3), Ok(0));
    t.set_driver_features(1, 1).unwrap();
    assert_eq!(t.registers().d().driver_features[1], 1);
    assert!(!t.transport_features().contains(Feature::RING_RESET));
    assert!(t.transport_features().contains(Feature::NOTIFICATION_DATA));
    assert!(!t.transport_features().contains(Feature::ADMIN_VQ));
}

#[test]
fn configuration_space() {
    let t = MmioTransport::new(Fake::new(2, 2)).unwrap();
    assert_eq!(t.config_len(), 0x100);
    assert_eq!(t.config_generation(), Ok(7));
    assert_eq!(t.read_config_u8(5), Ok(5));
    assert_eq!(t.read_config_u16(2), Ok(0x0302));
    assert_eq!(t.read_config_u32(4), Ok(0x0706_0504));
    assert_eq!(t.read_config_u64(8), Ok(0x0f0e_0d0c_0b0a_0908));
    assert_eq!(t.read_config_u16(3), Err(TransportError::OutOfRange));
    assert_eq!(t.read_config_u32(0xfc), Ok(0xfffe_fdfc));
    assert_eq!(t.read_config_u32(0x100), Err(TransportError::OutOfRange));
    assert_eq!(t.read_config_u64(0xfc), Err(TransportError::OutOfRange));
    assert_eq!(
        t.read_config_u64(usize::MAX - 3),
        Err(TransportError::OutOfRange)
    );
    t.write_config_u64(16, 0x1122_3344_5566_7788).unwrap();
    assert_eq!(
        &t.registers().d().config[16..24],
        &0x1122_3344_5566_7788u64.to_le_bytes()
    );
    t.write_config_u16(30, 0xabcd).unwrap();
    assert_eq!(t.read_config_u16(30), Ok(0xabcd));
    t.write_config_u8(31, 0x12).unwrap();
    assert_eq!(t.read_config_u16(30), Ok(0x12cd));
    // Version 1 is guest-native: on this (little-endian) host the same.
    let l = MmioTransport::new(Fake::new(1, 2)).unwrap();
    assert_eq!(l.read_config_u64(8), Ok(0x0f0e_0d0c_0b0a_0908));
    assert_eq!(Version::Modern.kind().byte_order(), ByteOrder::Little);
    assert_eq!(Version::Legacy.kind().byte_order(), ByteOrder::NATIVE);
}

#[test]
fn big_endian_legacy_fields() {
    // A big-endian device stores 0x1234 as [0x12, 0x34]; the little-endian
    // register read gives 0x3412; the big-endian interpretation of the
    // bytes is 0x1234 again.
    let reg16 = u16::from_le_bytes([0x12, 0x34]);
    assert_eq!(ByteOrder::Big.from_device_u16(reg16.to_le_bytes()), 0x1234);
    let bytes = 0x0102_0304_0506_0708u64.to_be_bytes();
    assert_eq!(ByteOrder::Big.from_device_u64(bytes), 0x0102_0304_0506_0708);
    assert_eq!(ByteOrder::Big.to_device_u32(0x0102_0304), [1, 2, 3, 4]);
}

#[test]
fn shared_memory_regions() {
    let t = MmioTransport::new(Fake::new(2, 2)).unwrap();
    assert_eq!(
        t.shared_memory(0),
        Ok(Some(ShmRegion {
            base: 0x1_0000_0000,
            len: 0x20_0000
        }))
    );
    assert_eq!(t.shared_memory(1), Ok(None), "all-ones length: no region");
    t.registers().d().shm[0] = (u64::MAX - 10, 0x100);
    assert_eq!(t.shared_memory(0), Err(TransportError::OutOfRange));
}

#[test]
fn full_initialization() {
    for version in [1, 2] {
        let t = MmioTransport::new(Fake::new(version, 4)).unwrap();
        let mut tr = &t;
        let mut init = DeviceInit::begin(&mut tr, InitOptions::default()).unwrap();
        let accepted = init
            .negotiate(&DriverFeatures::new(Features::single(Feature::new(0))))
            .unwrap();
        assert!(accepted.contains(Feature::new(0)));
        assert_eq!(
            accepted.contains(Feature::VERSION_1),
            version == 2,
            "VERSION_1 only on version 2"
        );
        let tr = init.transport().unwrap();
        let cfg = if version == 1 {
            legacy(64, 0x4000)
        } else {
            modern(64, 0x4000)
        };
        activate_queue(tr, 0, &cfg).unwrap();
        init.driver_ok().unwrap();
        let st = t.registers().d().status;
        assert_eq!(
            st & u32::from(Status::DRIVER_OK.bits()),
            u32::from(Status::DRIVER_OK.bits())
        );
        assert_eq!(
            st & u32::from(Status::FEATURES_OK.bits()) != 0,
            version == 2,
            "FEATURES_OK only on version 2"
        );
    }
}
