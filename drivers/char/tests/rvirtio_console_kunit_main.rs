// SPDX-License-Identifier: GPL-2.0

//! rvirtio_console_kunit: the KUnit suite `rvirtio_console`, in a module of
//! its own.
//!
//! The suite tests what of rvirtio_console needs the kernel: the hvc and
//! chardev shims' ABI and the layout of every structure and value mirrored
//! between them and `rust/kext/{hvc,chardev}.rs`, and the control protocol
//! (parsing, every validation case, the port state machine, the violation
//! limit) as the kernel build compiles it; the same logic is tested on the
//! host with property tests (`rust/virtio/tests/console.rs`). Loading the
//! driver runs no test; loading this module runs the suite and nothing
//! else.

use kernel::prelude::*;

#[path = "../../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../../rust/kext/hvc.rs"]
pub mod hvc;

#[path = "../../../rust/kext/chardev.rs"]
pub mod chardev;

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
        Ok(RvirtioConsoleKunit)
    }
}

#[kunit_tests(rvirtio_console)]
mod tests {
    use kernel::prelude::*;

    use crate::virtio::{
        console::{
            parse, port_open, port_ready,
            wire::{event, Control, CONTROL_LEN},
            Action, CtrlError, DeviceMsg, PortState, Ports, Violations, NAME_MAX,
        },
        wire::ByteOrder,
    };
    use crate::{chardev, hvc};

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
}
