// SPDX-License-Identifier: GPL-2.0

//! rvirtio_console_kunit: the KUnit suite `rvirtio_console`, in a module of
//! its own.
//!
//! The suite tests what of rvirtio_console needs the kernel: the hvc,
//! kmsg_dump and chardev shims' ABI and the layout of every structure and
//! value mirrored between them and `rust/kext/{hvc,kmsg_dump,chardev}.rs`;
//! the control protocol (parsing, every validation case, the port state
//! machine, the violation limit) as the kernel build compiles it; the
//! window size, from the configuration (SIZE) and from RESIZE, through the
//! driver's functions to a real hvc terminal, with bad sizes refused; and a
//! flood of control messages through a fixed pool of control buffers. The
//! same logic is tested on the host with property tests
//! (`rust/virtio/tests/console.rs`). Loading the driver runs no test;
//! loading this module runs the suite, which adds (and removes) one hvc
//! terminal and binds no device.

use kernel::prelude::*;

#[path = "../../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../../rust/kext/hvc.rs"]
pub mod hvc;

#[path = "../../../rust/kext/chardev.rs"]
pub mod chardev;

#[path = "../../../rust/kext/kmsg_dump.rs"]
pub mod kmsg_dump;

module! {
    type: RvirtioConsoleKunit,
    name: "rvirtio_console_kunit",
    authors: ["rvirtio developers"],
    description: "KUnit suite of rvirtio_console's shims and control protocol",
    license: "GPL",
}

struct RvirtioConsoleKunit;

impl kernel::Module for RvirtioConsoleKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // The suite tests the shims this module linked: refuse a mismatch.
        hvc::check_abi()?;
        chardev::check_abi()?;
        kmsg_dump::check_abi()?;
        Ok(RvirtioConsoleKunit)
    }
}

#[kunit_tests(rvirtio_console)]
mod tests {
    use kernel::{prelude::*, sync::Arc};

    use crate::virtio::{
        console::{
            config_size, parse, port_open, port_ready,
            wire::{event, get16, Control, CONTROL_LEN},
            Action, CtrlError, CtrlState, DeviceMsg, Outcome, PortState, Ports, Violations,
            NAME_MAX, RX_BUF_LEN,
        },
        wire::ByteOrder,
    };
    use crate::{chardev, hvc, kmsg_dump};

    const LE: ByteOrder = ByteOrder::Little;

    fn msg(id: u32, ev: u16, value: u16, payload: &[u8]) -> KVec<u8> {
        let mut v = KVec::new();
        v.extend_from_slice(
            &Control {
                id,
                event: ev,
                value,
            }
            .encode(LE),
            GFP_KERNEL,
        )
        .unwrap();
        v.extend_from_slice(payload, GFP_KERNEL).unwrap();
        v
    }

    /// The shims implement the ABI the Rust side expects, and every
    /// structure and value mirrored between them has C's layout.
    #[test]
    fn shim_abi_and_layout() {
        assert!(crate::kext::helpers_abi_matches());
        assert!(hvc::check_abi().is_ok());
        assert!(chardev::check_abi().is_ok());
        for (field, rust) in hvc::layout() {
            assert_eq!(hvc::c_layout(field), Some(rust));
        }
        for (field, rust) in chardev::layout() {
            assert_eq!(chardev::c_layout(field), Some(rust));
        }
        assert!(kmsg_dump::check_abi().is_ok());
        for (field, rust) in kmsg_dump::layout() {
            assert_eq!(kmsg_dump::c_layout(field), Some(rust));
        }
        // Three and six function pointers.
        let p = core::mem::size_of::<usize>();
        assert_eq!(hvc::c_layout(hvc::CField::Cb), Some(3 * p));
        assert_eq!(chardev::c_layout(chardev::CField::Cb), Some(6 * p));
    }

    /// Every message the device may send parses; every malformed one is
    /// refused with its reason.
    #[test]
    fn parsing() {
        assert_eq!(
            parse(&msg(1, event::PORT_ADD, 0, &[]), LE),
            Ok(DeviceMsg::Add(1))
        );
        assert_eq!(
            parse(&msg(2, event::PORT_REMOVE, 0, &[]), LE),
            Ok(DeviceMsg::Remove(2))
        );
        assert_eq!(
            parse(&msg(0, event::CONSOLE_PORT, 1, &[]), LE),
            Ok(DeviceMsg::Console(0))
        );
        assert_eq!(
            parse(&msg(0, event::RESIZE, 0, &[80, 0, 25, 0]), LE),
            Ok(DeviceMsg::Resize {
                id: 0,
                cols: 80,
                rows: 25
            })
        );
        assert_eq!(
            parse(&msg(3, event::PORT_OPEN, 1, &[]), LE),
            Ok(DeviceMsg::Open(3, true))
        );
        assert_eq!(
            parse(&msg(3, event::PORT_OPEN, 0, &[]), LE),
            Ok(DeviceMsg::Open(3, false))
        );
        assert_eq!(
            parse(&msg(1, event::PORT_NAME, 1, b"rvirtio.test\0"), LE),
            Ok(DeviceMsg::Name(1, b"rvirtio.test"))
        );
        // Refused: short, driver-only or unknown events, bad values, sizes
        // and names.
        assert_eq!(
            parse(&[0; CONTROL_LEN - 1], LE),
            Err(CtrlError::Short(CONTROL_LEN - 1))
        );
        for ev in [event::DEVICE_READY, event::PORT_READY, 8, 0xffff] {
            assert_eq!(parse(&msg(1, ev, 0, &[]), LE), Err(CtrlError::Event(ev)));
        }
        assert_eq!(
            parse(&msg(1, event::PORT_OPEN, 2, &[]), LE),
            Err(CtrlError::Value(2))
        );
        assert!(matches!(
            parse(&msg(0, event::RESIZE, 0, &[80, 0]), LE),
            Err(CtrlError::Short(_))
        ));
        let long = [b'x'; NAME_MAX + 1];
        for bad in [
            &b""[..],
            b"a/b",
            b"..",
            b".",
            b"tab\tin",
            b"nul\0in",
            b"\x1b[2J",
            b"\xff",
            &long,
        ] {
            assert_eq!(
                parse(&msg(1, event::PORT_NAME, 1, bad), LE),
                Err(CtrlError::Name)
            );
        }
    }

    /// The port table refuses ids out of range, duplicates and events for
    /// absent ports or in the wrong state; a refused message changes
    /// nothing; a resumed table keeps its states.
    #[test]
    fn port_state_machine() {
        let mut st = [PortState::default(); 3];
        {
            let mut p = Ports::new(&mut st);
            assert_eq!(p.apply(DeviceMsg::Add(3)), Err(CtrlError::PortId(3)));
            assert_eq!(
                p.apply(DeviceMsg::Add(u32::MAX)),
                Err(CtrlError::PortId(u32::MAX))
            );
            assert_eq!(p.apply(DeviceMsg::Remove(1)), Err(CtrlError::NoPort(1)));
            assert_eq!(p.apply(DeviceMsg::Open(1, true)), Err(CtrlError::NoPort(1)));
            assert_eq!(p.apply(DeviceMsg::Name(1, b"a")), Err(CtrlError::NoPort(1)));
            assert_eq!(p.apply(DeviceMsg::Add(1)), Ok(Action::Add(1)));
            assert_eq!(p.apply(DeviceMsg::Add(1)), Err(CtrlError::Duplicate(1)));
            assert_eq!(
                p.apply(DeviceMsg::Resize {
                    id: 1,
                    cols: 1,
                    rows: 1
                }),
                Err(CtrlError::NotConsole(1))
            );
            assert_eq!(p.apply(DeviceMsg::Name(1, b"a")), Ok(Action::Name(1, "a")));
            assert_eq!(p.apply(DeviceMsg::Name(1, b"b")), Ok(Action::Ignore));
            assert_eq!(p.apply(DeviceMsg::Console(1)), Ok(Action::Console(1)));
            assert_eq!(p.apply(DeviceMsg::Console(1)), Ok(Action::Ignore));
        }
        let mut p = Ports::resume(&mut st);
        assert!(p.get(1).is_some_and(|s| s.present && s.console && s.named));
        assert_eq!(
            p.apply(DeviceMsg::Resize {
                id: 1,
                cols: 100,
                rows: 40
            }),
            Ok(Action::Resize {
                id: 1,
                cols: 100,
                rows: 40
            })
        );
        assert_eq!(
            p.apply(DeviceMsg::Open(1, true)),
            Ok(Action::HostOpen(1, true))
        );
        assert_eq!(p.apply(DeviceMsg::Remove(1)), Ok(Action::Remove(1)));
        assert_eq!(
            p.apply(DeviceMsg::Open(1, false)),
            Err(CtrlError::NoPort(1))
        );
    }

    /// The driver's messages, and the violation limit tripping once.
    #[test]
    fn driver_messages_and_violations() {
        assert_eq!(port_ready(2, true, LE), [2, 0, 0, 0, 3, 0, 1, 0]);
        assert_eq!(port_open(1, false, LE), [1, 0, 0, 0, 6, 0, 0, 0]);
        let mut v = Violations::new(16);
        for i in 1..16 {
            assert_eq!(v.record(), (i, false));
        }
        assert_eq!(v.record(), (16, true));
        assert_eq!(v.record(), (17, false));
    }

    /// A terminal that takes all output and has no input.
    struct Null;

    impl hvc::Operations for Null {
        fn get_chars(&self, _buf: &mut [u8]) -> Result<usize> {
            Ok(0)
        }
        fn put_chars(&self, buf: &[u8]) -> Result<usize> {
            Ok(buf.len())
        }
    }

    /// SIZE and RESIZE reach a real hvc terminal's window size through the
    /// functions the driver uses (`config_size` for the configuration,
    /// `CtrlState::handle` for the message, then `Registration::resize`),
    /// and a size with no columns or rows is refused and changes nothing.
    #[test]
    fn size_and_resize_reach_the_terminal() {
        let reg = hvc::Registration::new(Arc::new(Null, GFP_KERNEL).unwrap(), 4096).unwrap();
        // SIZE: the configuration as a device lays it out (le16 cols, le16
        // rows, le32 max_nr_ports, le32 emerg_wr), read as the driver does.
        let mut cfg = [0u8; 12];
        cfg[..4].copy_from_slice(&[132, 0, 43, 0]);
        let (cols, rows) = config_size(|off| get16(&cfg, off, LE)).unwrap();
        reg.resize(cols, rows);
        assert_eq!(reg.winsize(), (132, 43));
        cfg[2] = 0;
        assert_eq!(
            config_size(|off| get16(&cfg, off, LE)),
            Err(CtrlError::Size { cols: 132, rows: 0 })
        );
        assert_eq!(reg.winsize(), (132, 43));

        // RESIZE on port 0, the console.
        let mut st = [PortState::default(); 2];
        let mut c = CtrlState::new(16);
        for m in [
            msg(0, event::PORT_ADD, 0, &[]),
            msg(0, event::CONSOLE_PORT, 1, &[]),
            msg(1, event::PORT_ADD, 0, &[]),
        ] {
            assert!(matches!(c.handle(&mut st, &m, LE), Outcome::Act(_)));
        }
        match c.handle(&mut st, &msg(0, event::RESIZE, 0, &[100, 0, 30, 0]), LE) {
            Outcome::Act(Action::Resize { id: 0, cols, rows }) => reg.resize(cols, rows),
            o => panic!("RESIZE: {:?}", o),
        }
        assert_eq!(reg.winsize(), (100, 30));
        // Bad sizes and a port that is not a console: refused, counted.
        assert_eq!(
            c.handle(&mut st, &msg(0, event::RESIZE, 0, &[100, 0, 0, 0]), LE),
            Outcome::Refused {
                err: CtrlError::Size { cols: 100, rows: 0 },
                count: 1
            }
        );
        assert_eq!(
            c.handle(&mut st, &msg(0, event::RESIZE, 0, &[0, 0, 30, 0]), LE),
            Outcome::Refused {
                err: CtrlError::Size { cols: 0, rows: 30 },
                count: 2
            }
        );
        assert_eq!(
            c.handle(&mut st, &msg(1, event::RESIZE, 0, &[1, 0, 1, 0]), LE),
            Outcome::Refused {
                err: CtrlError::NotConsole(1),
                count: 3
            }
        );
        assert_eq!(reg.winsize(), (100, 30));
    }

    /// A fake control queue: `CTRL_BUFS` buffers of `RX_BUF_LEN` bytes,
    /// allocated once and reused in turn as the driver reposts them; the
    /// "device" writes a message into the next one and the driver side
    /// handles its used part.
    struct FakeCtrlQueue {
        bufs: KVec<KVec<u8>>,
        next: usize,
    }

    const CTRL_BUFS: usize = 64;

    impl FakeCtrlQueue {
        fn new() -> Self {
            let mut bufs = KVec::new();
            for _ in 0..CTRL_BUFS {
                let mut b = KVec::new();
                b.resize(RX_BUF_LEN, 0, GFP_KERNEL).unwrap();
                bufs.push(b, GFP_KERNEL).unwrap();
            }
            Self { bufs, next: 0 }
        }

        /// The device writes `m` into the next buffer; returns its used
        /// part (a device may claim less than the buffer, never more).
        fn deliver(&mut self, m: &[u8]) -> &[u8] {
            let i = self.next;
            self.next = (self.next + 1) % CTRL_BUFS;
            let b = &mut self.bufs[i];
            let n = m.len().min(RX_BUF_LEN);
            b[..n].copy_from_slice(&m[..n]);
            &b[..n]
        }
    }

    /// Thousands of control messages through the fake control queue: the
    /// valid ones never make more than one port and one name per port id
    /// alive (what the driver allocates for a message); then a flood of
    /// violations of every kind fails the device at the 16th, and nothing
    /// after it is acted on. The buffers are the same 64 throughout.
    #[test]
    fn control_flood_is_bounded_and_fails_the_device() {
        const PORTS: usize = 4;
        let mut q = FakeCtrlQueue::new();
        let mut st = [PortState::default(); PORTS];
        let mut c = CtrlState::new(16);
        let (mut live, mut named) = ([false; PORTS], [false; PORTS]);
        let (mut max_live, mut max_named) = (0, 0);
        for i in 0..6000u32 {
            let id = i % PORTS as u32;
            let m = match (i / PORTS as u32) % 5 {
                0 => msg(id, event::PORT_ADD, 0, &[]),
                1 => msg(id, event::PORT_NAME, 0, b"flood.port\0"),
                2 => msg(id, event::PORT_OPEN, 1, &[]),
                3 => msg(id, event::PORT_NAME, 0, b"again"),
                _ => msg(id, event::PORT_REMOVE, 0, &[]),
            };
            match c.handle(&mut st, q.deliver(&m), LE) {
                Outcome::Act(Action::Add(p)) => {
                    assert!(!live[p as usize]);
                    live[p as usize] = true;
                }
                Outcome::Act(Action::Name(p, n)) => {
                    assert!(!named[p as usize]);
                    assert_eq!(n, "flood.port");
                    named[p as usize] = true;
                }
                Outcome::Act(Action::Remove(p)) => {
                    live[p as usize] = false;
                    named[p as usize] = false;
                }
                Outcome::Act(Action::HostOpen(..)) | Outcome::Act(Action::Ignore) => {}
                o => panic!("valid message {}: {:?}", i, o),
            }
            max_live = max_live.max(live.iter().filter(|&&l| l).count());
            max_named = max_named.max(named.iter().filter(|&&n| n).count());
        }
        assert_eq!((max_live, max_named), (PORTS, PORTS));
        assert!(!c.failed());

        // Violations of every kind, 10000 of them.
        let bad: [KVec<u8>; 8] = [
            msg(PORTS as u32, event::PORT_ADD, 0, &[]),
            msg(u32::MAX, event::PORT_OPEN, 1, &[]),
            msg(1, event::PORT_REMOVE, 0, &[]),
            msg(1, event::PORT_OPEN, 7, &[]),
            msg(1, event::PORT_READY, 1, &[]),
            msg(1, 0x1234, 0, &[]),
            msg(1, event::PORT_NAME, 0, b"a/b"),
            msg(1, event::RESIZE, 0, &[1]),
        ];
        let (mut refused, mut failed, mut dropped) = (0, 0, 0);
        for i in 0..10000usize {
            let m = &bad[i % bad.len()];
            match c.handle(&mut st, q.deliver(m), LE) {
                Outcome::Refused { count, .. } => {
                    refused += 1;
                    assert_eq!(count, refused);
                }
                Outcome::Fail(_) => failed += 1,
                Outcome::Dropped => dropped += 1,
                Outcome::Act(a) => panic!("violation {} acted on: {:?}", i, a),
            }
        }
        assert_eq!((refused, failed, dropped), (15, 1, 10000 - 16));
        assert!(c.failed());
        // A valid message after the failure is not acted on either.
        assert_eq!(
            c.handle(&mut st, q.deliver(&msg(0, event::PORT_ADD, 0, &[])), LE),
            Outcome::Dropped
        );
        assert!(st.iter().all(|p| !p.present));
        assert_eq!(q.bufs.len(), CTRL_BUFS);
    }
}
