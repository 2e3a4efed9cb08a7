// SPDX-License-Identifier: GPL-2.0

//! virtio-console: the wire format against the spec, queue numbering, and
//! the control protocol (parsing, port state machine, driver messages),
//! with property tests that a hostile device cannot make the driver act on
//! a port that does not exist or take a bad name.

#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use proptest::prelude::*;
use rvirtio_core::{
    console::{
        check_name, check_size, config_size, device_ready, emerg_words, nr_ports, nr_queues, parse,
        port_of_queue, port_open, port_ready, rx_queue, tx_queue,
        wire::{config, event, feature, Control, CONTROL_LEN},
        Action, ConfigError, CtrlError, CtrlState, DeviceMsg, Outcome, PortState, Ports,
        Violations, CTRL_RX, CTRL_TX, EMERG_DUMP_LEN, MAX_PORTS, NAME_MAX,
    },
    wire::ByteOrder,
};

const LE: ByteOrder = ByteOrder::Little;

fn msg(id: u32, ev: u16, value: u16) -> Vec<u8> {
    Control {
        id,
        event: ev,
        value,
    }
    .encode(LE)
    .to_vec()
}

#[test]
fn wire_matches_the_spec() {
    assert_eq!(
        (
            feature::SIZE.bit(),
            feature::MULTIPORT.bit(),
            feature::EMERG_WRITE.bit()
        ),
        (0, 1, 2)
    );
    assert_eq!(
        (
            config::COLS,
            config::ROWS,
            config::MAX_NR_PORTS,
            config::EMERG_WR
        ),
        (0, 2, 4, 8)
    );
    let events = [
        event::DEVICE_READY,
        event::PORT_ADD,
        event::PORT_REMOVE,
        event::PORT_READY,
        event::CONSOLE_PORT,
        event::RESIZE,
        event::PORT_OPEN,
        event::PORT_NAME,
    ];
    assert_eq!(events, [0, 1, 2, 3, 4, 5, 6, 7]);
    let c = Control {
        id: 0x0102_0304,
        event: 0x0506,
        value: 0x0708,
    };
    assert_eq!(c.encode(LE), [4, 3, 2, 1, 6, 5, 8, 7]);
    assert_eq!(c.encode(ByteOrder::Big), [1, 2, 3, 4, 5, 6, 7, 8]);
    for order in [LE, ByteOrder::Big] {
        assert_eq!(Control::decode(&c.encode(order), order), Some(c));
    }
    assert_eq!(Control::decode(&[0; 7], LE), None);
}

#[test]
fn queue_numbering() {
    // §5.3.2: 0/1 port 0, 2/3 control, 4/5 port 1, ...
    assert_eq!((rx_queue(0), tx_queue(0)), (Some(0), Some(1)));
    assert_eq!((rx_queue(1), tx_queue(1)), (Some(4), Some(5)));
    assert_eq!((rx_queue(5), tx_queue(5)), (Some(12), Some(13)));
    assert_eq!(port_of_queue(0), Some((0, true)));
    assert_eq!(port_of_queue(1), Some((0, false)));
    assert_eq!(port_of_queue(CTRL_RX), None);
    assert_eq!(port_of_queue(CTRL_TX), None);
    assert_eq!(port_of_queue(4), Some((1, true)));
    assert_eq!(port_of_queue(13), Some((5, false)));
    for p in [0, 1, 2, 100, MAX_PORTS - 1] {
        assert_eq!(port_of_queue(rx_queue(p).unwrap()), Some((p, true)));
        assert_eq!(port_of_queue(tx_queue(p).unwrap()), Some((p, false)));
    }
    assert_eq!(rx_queue(MAX_PORTS + 1), None);
    assert_eq!(nr_queues(false, 1), Some(2));
    assert_eq!(nr_queues(true, 2), Some(6));
    assert_eq!(nr_queues(true, MAX_PORTS), Some(65534));
}

#[test]
fn number_of_ports_is_bounded() {
    assert_eq!(nr_ports(false, 0, 2), Ok(1));
    assert_eq!(nr_ports(true, 0, 64), Err(ConfigError::MaxPorts(0)));
    assert_eq!(nr_ports(true, 31, 64), Ok(31));
    // Port 31's transmit queue is 65: more than 64 queues needed.
    assert_eq!(nr_ports(true, 32, 64), Err(ConfigError::MaxPorts(32)));
    assert_eq!(
        nr_ports(true, u32::MAX, u16::MAX),
        Err(ConfigError::MaxPorts(u32::MAX))
    );
    assert_eq!(
        nr_ports(true, MAX_PORTS + 1, u16::MAX),
        Err(ConfigError::MaxPorts(MAX_PORTS + 1))
    );
}

#[test]
fn parsing_refuses_bad_messages() {
    assert_eq!(
        parse(&msg(1, event::PORT_ADD, 0), LE),
        Ok(DeviceMsg::Add(1))
    );
    assert_eq!(
        parse(&msg(1, event::PORT_REMOVE, 0), LE),
        Ok(DeviceMsg::Remove(1))
    );
    assert_eq!(
        parse(&msg(0, event::CONSOLE_PORT, 0), LE),
        Ok(DeviceMsg::Console(0))
    );
    assert_eq!(
        parse(&msg(2, event::PORT_OPEN, 1), LE),
        Ok(DeviceMsg::Open(2, true))
    );
    assert_eq!(
        parse(&msg(2, event::PORT_OPEN, 0), LE),
        Ok(DeviceMsg::Open(2, false))
    );
    assert_eq!(
        parse(&msg(2, event::PORT_OPEN, 2), LE),
        Err(CtrlError::Value(2))
    );
    // Short messages; events only the driver sends; unknown events.
    assert_eq!(parse(&[0; 7], LE), Err(CtrlError::Short(7)));
    assert_eq!(parse(&[], LE), Err(CtrlError::Short(0)));
    assert_eq!(
        parse(&msg(0, event::DEVICE_READY, 1), LE),
        Err(CtrlError::Event(0))
    );
    assert_eq!(
        parse(&msg(0, event::PORT_READY, 1), LE),
        Err(CtrlError::Event(3))
    );
    assert_eq!(parse(&msg(0, 8, 0), LE), Err(CtrlError::Event(8)));
    // RESIZE needs its 4 bytes (the C driver copies them from whatever
    // follows a short message): cols first, then rows (§5.3.6.2).
    let mut r = msg(0, event::RESIZE, 0);
    assert_eq!(parse(&r, LE), Err(CtrlError::Short(8)));
    r.extend_from_slice(&[80, 0, 25]);
    assert_eq!(parse(&r, LE), Err(CtrlError::Short(11)));
    r.push(0);
    assert_eq!(
        parse(&r, LE),
        Ok(DeviceMsg::Resize {
            id: 0,
            cols: 80,
            rows: 25
        })
    );
    // A size with no columns or no rows is refused.
    let mut r = msg(0, event::RESIZE, 0);
    r.extend_from_slice(&[0, 0, 25, 0]);
    assert_eq!(parse(&r, LE), Err(CtrlError::Size { cols: 0, rows: 25 }));
    let mut r = msg(0, event::RESIZE, 0);
    r.extend_from_slice(&[80, 0, 0, 0]);
    assert_eq!(parse(&r, LE), Err(CtrlError::Size { cols: 80, rows: 0 }));
    // Names.
    let mut n = msg(1, event::PORT_NAME, 0);
    n.extend_from_slice(b"org.qemu.guest_agent.0");
    assert_eq!(
        parse(&n, LE),
        Ok(DeviceMsg::Name(1, b"org.qemu.guest_agent.0"))
    );
    // QEMU's trailing NUL is not part of the name.
    let mut n = msg(1, event::PORT_NAME, 0);
    n.extend_from_slice(b"rvirtio.test\0");
    assert_eq!(parse(&n, LE), Ok(DeviceMsg::Name(1, b"rvirtio.test")));
    for bad in [
        &b""[..],
        b"\0",
        b"nul\0inside\0",
        b"a/b",
        b"..",
        b".",
        b"nul\0inside",
        b"tab\tinside",
        b"\xff\xfe",
        &[b'x'; NAME_MAX + 1],
    ] {
        let mut n = msg(1, event::PORT_NAME, 0);
        n.extend_from_slice(bad);
        assert_eq!(parse(&n, LE), Err(CtrlError::Name), "{bad:?}");
    }
    assert!(check_name(&[b'x'; NAME_MAX]).is_ok());
    assert_eq!(check_name("port-é".as_bytes()), Ok("port-é"));
}

#[test]
fn the_port_state_machine() {
    let mut st = [PortState::default(); 4];
    let mut ports = Ports::new(&mut st);
    // Events for ports that do not exist, or ids out of range.
    assert_eq!(ports.apply(DeviceMsg::Remove(1)), Err(CtrlError::NoPort(1)));
    assert_eq!(
        ports.apply(DeviceMsg::Open(1, true)),
        Err(CtrlError::NoPort(1))
    );
    assert_eq!(ports.apply(DeviceMsg::Add(4)), Err(CtrlError::PortId(4)));
    assert_eq!(
        ports.apply(DeviceMsg::Add(u32::MAX)),
        Err(CtrlError::PortId(u32::MAX))
    );
    // Add, duplicate add.
    assert_eq!(ports.apply(DeviceMsg::Add(1)), Ok(Action::Add(1)));
    assert_eq!(ports.apply(DeviceMsg::Add(1)), Err(CtrlError::Duplicate(1)));
    // Resize only for consoles; CONSOLE_PORT once.
    let resize = DeviceMsg::Resize {
        id: 1,
        cols: 100,
        rows: 40,
    };
    assert_eq!(ports.apply(resize), Err(CtrlError::NotConsole(1)));
    assert_eq!(ports.apply(DeviceMsg::Console(1)), Ok(Action::Console(1)));
    assert_eq!(ports.apply(DeviceMsg::Console(1)), Ok(Action::Ignore));
    assert_eq!(
        ports.apply(resize),
        Ok(Action::Resize {
            id: 1,
            cols: 100,
            rows: 40
        })
    );
    // Names once; open state tracked.
    assert_eq!(
        ports.apply(DeviceMsg::Name(1, b"a")),
        Ok(Action::Name(1, "a"))
    );
    assert_eq!(ports.apply(DeviceMsg::Name(1, b"b")), Ok(Action::Ignore));
    assert_eq!(
        ports.apply(DeviceMsg::Name(1, b"a/b")),
        Err(CtrlError::Name)
    );
    assert_eq!(
        ports.apply(DeviceMsg::Open(1, true)),
        Ok(Action::HostOpen(1, true))
    );
    assert!(ports.get(1).unwrap().host_open);
    // Remove clears everything; the id can be added again.
    assert_eq!(ports.apply(DeviceMsg::Remove(1)), Ok(Action::Remove(1)));
    assert_eq!(ports.get(1), Some(&PortState::default()));
    assert_eq!(ports.apply(DeviceMsg::Add(1)), Ok(Action::Add(1)));
    assert!(!ports.get(1).unwrap().console);
}

#[test]
fn driver_messages() {
    assert_eq!(device_ready(true, LE), [0, 0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(port_ready(3, false, LE), [3, 0, 0, 0, 3, 0, 0, 0]);
    assert_eq!(port_open(2, true, ByteOrder::Big), [0, 0, 0, 2, 0, 6, 0, 1]);
    assert_eq!(CONTROL_LEN, 8);
}

#[test]
fn violations_trip_once() {
    let mut v = Violations::new(3);
    assert_eq!(v.record(), (1, false));
    assert_eq!(v.record(), (2, false));
    assert_eq!(v.record(), (3, true));
    assert_eq!(v.record(), (4, false));
    let mut v = Violations::new(0);
    assert_eq!(v.record(), (1, true));
}

proptest! {
    /// Whatever bytes a device sends, the driver acts only on ports that
    /// exist (or, for an add, that are in range and new), and names it takes
    /// are valid file names.
    #[test]
    fn hostile_control_streams(
        msgs in proptest::collection::vec(
            (0u32..6, 0u16..9, 0u16..3, proptest::collection::vec(any::<u8>(), 0..12)),
            0..200,
        ),
        big in any::<bool>(),
    ) {
        let order = if big { ByteOrder::Big } else { ByteOrder::Little };
        let mut st = [PortState::default(); 4];
        let mut ports = Ports::new(&mut st);
        let mut model = [false; 4];
        for (id, ev, value, tail) in msgs {
            let mut b = Control { id, event: ev, value }.encode(order).to_vec();
            b.extend_from_slice(&tail);
            let Ok(m) = parse(&b, order) else { continue };
            match ports.apply(m) {
                Ok(Action::Add(i)) => {
                    prop_assert!(i < 4 && !model[i as usize]);
                    model[i as usize] = true;
                }
                Ok(Action::Remove(i)) => {
                    prop_assert!(model[i as usize]);
                    model[i as usize] = false;
                }
                Ok(Action::Name(i, n)) => {
                    prop_assert!(model[i as usize]);
                    prop_assert!(check_name(n.as_bytes()).is_ok());
                }
                Ok(Action::Console(i)) | Ok(Action::HostOpen(i, _)) => {
                    prop_assert!(model[i as usize]);
                }
                Ok(Action::Resize { id, .. }) => {
                    prop_assert!(model[id as usize]);
                    prop_assert!(ports.get(id).unwrap().console);
                }
                Ok(Action::Ignore) | Err(_) => {}
            }
            for (i, &present) in model.iter().enumerate() {
                prop_assert_eq!(ports.get(i as u32).unwrap().present, present);
            }
        }
    }
}

#[test]
fn a_resumed_table_keeps_the_states() {
    let mut st = [PortState::default(); 2];
    {
        let mut ports = Ports::new(&mut st);
        assert_eq!(ports.apply(DeviceMsg::Add(1)), Ok(Action::Add(1)));
    }
    let mut ports = Ports::resume(&mut st);
    assert!(ports.get(1).is_some_and(|p| p.present));
    assert_eq!(ports.apply(DeviceMsg::Add(1)), Err(CtrlError::Duplicate(1)));
    assert_eq!(ports.apply(DeviceMsg::Remove(1)), Ok(Action::Remove(1)));
}

#[test]
fn window_sizes() {
    assert_eq!(check_size(1, 1), Ok((1, 1)));
    assert_eq!(check_size(u16::MAX, u16::MAX), Ok((u16::MAX, u16::MAX)));
    assert_eq!(check_size(0, 0), Err(CtrlError::Size { cols: 0, rows: 0 }));
    assert_eq!(check_size(0, 5), Err(CtrlError::Size { cols: 0, rows: 5 }));
    assert_eq!(check_size(5, 0), Err(CtrlError::Size { cols: 5, rows: 0 }));
    // The configuration: cols at 0, rows at 2 (§5.3.4).
    let cfg = |cols: u16, rows: u16| {
        move |off: usize| match off {
            config::COLS => Some(cols),
            config::ROWS => Some(rows),
            _ => None,
        }
    };
    assert_eq!(config_size(cfg(132, 43)), Ok((132, 43)));
    assert_eq!(
        config_size(cfg(132, 0)),
        Err(CtrlError::Size { cols: 132, rows: 0 })
    );
    assert_eq!(config_size(|_| None), Err(CtrlError::Short(0)));
}

#[test]
fn control_state_fails_the_device_once_then_drops() {
    let mut st = [PortState::default(); 2];
    let mut c = CtrlState::new(3);
    let add = msg(1, event::PORT_ADD, 0);
    assert_eq!(c.handle(&mut st, &add, LE), Outcome::Act(Action::Add(1)));
    assert_eq!(
        c.handle(&mut st, &add, LE),
        Outcome::Refused {
            err: CtrlError::Duplicate(1),
            count: 1
        }
    );
    assert_eq!(
        c.handle(&mut st, &[0; 3], LE),
        Outcome::Refused {
            err: CtrlError::Short(3),
            count: 2
        }
    );
    assert!(!c.failed());
    assert_eq!(
        c.handle(&mut st, &msg(9, event::PORT_ADD, 0), LE),
        Outcome::Fail(CtrlError::PortId(9))
    );
    assert!(c.failed());
    // Nothing is acted on after, valid or not.
    let open = msg(1, event::PORT_OPEN, 1);
    assert_eq!(c.handle(&mut st, &open, LE), Outcome::Dropped);
    assert_eq!(c.handle(&mut st, &add, LE), Outcome::Dropped);
    assert!(!st[1].host_open);
}

#[test]
fn a_flood_of_valid_control_messages_is_bounded() {
    // 100000 messages over 4 ports: add, name, open, console, resize and
    // remove, again and again. No violation; at most 4 ports and one name
    // per port alive at any time (a port and a name are what the driver
    // allocates for a message).
    let mut st = [PortState::default(); 4];
    let mut c = CtrlState::new(16);
    let (mut live, mut names) = ([false; 4], [false; 4]);
    let mut acts = 0u32;
    for i in 0..100_000u32 {
        let id = i % 4;
        let b = match (i / 4) % 6 {
            0 => msg(id, event::PORT_ADD, 0),
            1 => {
                let mut n = msg(id, event::PORT_NAME, 0);
                n.extend_from_slice(b"flood");
                n
            }
            2 => msg(id, event::PORT_OPEN, 1),
            3 => msg(id, event::CONSOLE_PORT, 0),
            4 => {
                let mut r = msg(id, event::RESIZE, 0);
                r.extend_from_slice(&[80, 0, 25, 0]);
                r
            }
            _ => msg(id, event::PORT_REMOVE, 0),
        };
        match c.handle(&mut st, &b, LE) {
            Outcome::Act(Action::Add(p)) => {
                assert!(!live[p as usize]);
                live[p as usize] = true;
            }
            Outcome::Act(Action::Remove(p)) => {
                live[p as usize] = false;
                names[p as usize] = false;
            }
            Outcome::Act(Action::Name(p, _)) => {
                assert!(!names[p as usize], "a second name for port {p}");
                names[p as usize] = true;
            }
            Outcome::Act(_) => {}
            o => panic!("message {i}: {o:?}"),
        }
        acts += 1;
        assert!(live.iter().filter(|&&l| l).count() <= 4);
    }
    assert_eq!(acts, 100_000);
    assert!(!c.failed());
}

#[test]
fn emergency_write_words() {
    let w: Vec<u32> = emerg_words(b"ok\n\0!").collect();
    assert_eq!(w, [u32::from(b'o'), u32::from(b'k'), 10, u32::from(b'!')]);
    assert_eq!(emerg_words(&[0; 4]).count(), 0);
    assert_eq!(emerg_words(&[0xff]).collect::<Vec<_>>(), [0xff]);
    const { assert!(EMERG_DUMP_LEN >= 4096) };
}
