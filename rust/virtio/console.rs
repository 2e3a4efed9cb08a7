// SPDX-License-Identifier: GPL-2.0

//! The virtio-console protocol, without a kernel: queue numbering, the
//! number of ports, parsing and validating every control message a device
//! sends, the per-port state machine that decides what a message may do,
//! and the messages the driver sends. The device is untrusted: port ids,
//! events, values, names and sizes are checked here, and a message that
//! breaks the rules is refused (and counted by the driver) instead of
//! acted on.
//!
//! The wire format is in [`wire`]. Host tests are in `tests/console.rs`.
//!
//! Ref: virtio v1.4 §5.3; C version: `drivers/char/virtio_console.c`.

pub mod wire;

use super::wire::ByteOrder;
use wire::{
    event,
    get16,
    Control,
    CONTROL_LEN,
    RESIZE_LEN, //
};

/// The control receive queue's index.
pub const CTRL_RX: u16 = 2;
/// The control transmit queue's index.
pub const CTRL_TX: u16 = 3;

/// The most ports the driver takes: the queue count, two per port plus the
/// two control queues, must fit a 16-bit queue index.
pub const MAX_PORTS: u32 = 32766;

/// The longest port name taken (a file name: udev makes
/// `/dev/virtio-ports/<name>` from it).
pub const NAME_MAX: usize = 255;

/// The length of a receive buffer for port data and for control messages:
/// a control buffer holds a message and the longest name.
pub const RX_BUF_LEN: usize = 4096;

/// The receive queue of `port` (§5.3.2: port 0 uses queues 0 and 1, port
/// `n > 0` queues `2n + 2` and `2n + 3`).
pub fn rx_queue(port: u32) -> Option<u16> {
    if port == 0 {
        return Some(0);
    }
    u16::try_from(port.checked_mul(2)?.checked_add(2)?).ok()
}

/// The transmit queue of `port`.
pub fn tx_queue(port: u32) -> Option<u16> {
    rx_queue(port)?.checked_add(1)
}

/// The port a data queue belongs to, and whether it is its receive queue;
/// `None` for the control queues.
pub fn port_of_queue(q: u16) -> Option<(u32, bool)> {
    match q {
        0 | 1 => Some((0, q == 0)),
        CTRL_RX | CTRL_TX => None,
        _ => Some((u32::from(q / 2).checked_sub(1)?, q.is_multiple_of(2))),
    }
}

/// Why a configuration value is not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `max_nr_ports` is 0 or above [`MAX_PORTS`] (or what the transport
    /// has queues for).
    MaxPorts(u32),
}

/// The number of ports the driver sets up: `max_nr_ports` with MULTIPORT,
/// bounded by [`MAX_PORTS`] and by the queues the transport offers
/// (`transport_queues`); 1 without MULTIPORT.
pub fn nr_ports(
    multiport: bool,
    max_nr_ports: u32,
    transport_queues: u16,
) -> Result<u32, ConfigError> {
    if !multiport {
        return Ok(1);
    }
    if max_nr_ports == 0 || max_nr_ports > MAX_PORTS {
        return Err(ConfigError::MaxPorts(max_nr_ports));
    }
    // The last port's transmit queue must exist.
    match max_nr_ports.checked_sub(1).and_then(tx_queue) {
        Some(last) if last < transport_queues => Ok(max_nr_ports),
        _ => Err(ConfigError::MaxPorts(max_nr_ports)),
    }
}

/// The number of virtqueues for `ports` ports: 2 without MULTIPORT, else two
/// per port and the two control queues.
pub fn nr_queues(multiport: bool, ports: u32) -> Option<u16> {
    if !multiport {
        return Some(2);
    }
    u16::try_from(ports.checked_add(1)?.checked_mul(2)?).ok()
}

/// A control message from the device, parsed and checked on its own (the
/// port state is checked by [`Ports::apply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceMsg<'a> {
    /// PORT_ADD: a new port.
    Add(u32),
    /// PORT_REMOVE: the port goes away.
    Remove(u32),
    /// CONSOLE_PORT: the port is a console.
    Console(u32),
    /// RESIZE: a console port's size.
    Resize {
        /// The port.
        id: u32,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// PORT_OPEN: the host side opened (`true`) or closed the port.
    Open(u32, bool),
    /// PORT_NAME: the port's name, checked by [`check_name`].
    Name(u32, &'a [u8]),
}

/// Why a control message is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtrlError {
    /// Shorter than its event needs.
    Short(usize),
    /// An unknown event, or one only the driver sends.
    Event(u16),
    /// A PORT_OPEN value other than 0 or 1.
    Value(u16),
    /// The port id is not below the number of ports.
    PortId(u32),
    /// PORT_ADD for a port that exists.
    Duplicate(u32),
    /// An event for a port that does not exist.
    NoPort(u32),
    /// RESIZE for a port that is not a console.
    NotConsole(u32),
    /// A name that is empty, too long, or has a NUL, a `/` or a control
    /// character.
    Name,
    /// A window size with no columns or no rows.
    Size {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

/// Checks a console's window size (from the configuration with SIZE, or
/// a RESIZE message): a terminal has at least one column and one row. Any
/// other `u16` pair is a size the tty takes as it is.
pub fn check_size(cols: u16, rows: u16) -> Result<(u16, u16), CtrlError> {
    if cols == 0 || rows == 0 {
        return Err(CtrlError::Size { cols, rows });
    }
    Ok((cols, rows))
}

/// Reads and checks the window size in the configuration (SIZE):
/// `read16(offset)` reads a 16-bit configuration field (`None` on a
/// transport error, which is returned as `Short(0)`).
pub fn config_size(mut read16: impl FnMut(usize) -> Option<u16>) -> Result<(u16, u16), CtrlError> {
    let cols = read16(wire::config::COLS).ok_or(CtrlError::Short(0))?;
    let rows = read16(wire::config::ROWS).ok_or(CtrlError::Short(0))?;
    check_size(cols, rows)
}

/// Checks a port name: 1 to [`NAME_MAX`] bytes of UTF-8 with no NUL, no
/// `/`, and no control characters, so it can become a file name and a sysfs
/// line as it is.
pub fn check_name(name: &[u8]) -> Result<&str, CtrlError> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(CtrlError::Name);
    }
    let s = core::str::from_utf8(name).map_err(|_| CtrlError::Name)?;
    if s.chars().any(|c| c == '/' || c.is_control()) || s == "." || s == ".." {
        return Err(CtrlError::Name);
    }
    Ok(s)
}

/// Parses a control message the device wrote (`b` is the used part of the
/// buffer).
pub fn parse(b: &[u8], order: ByteOrder) -> Result<DeviceMsg<'_>, CtrlError> {
    let c = Control::decode(b, order).ok_or(CtrlError::Short(b.len()))?;
    let payload = b.get(CONTROL_LEN..).unwrap_or(&[]);
    Ok(match c.event {
        event::PORT_ADD => DeviceMsg::Add(c.id),
        event::PORT_REMOVE => DeviceMsg::Remove(c.id),
        event::CONSOLE_PORT => DeviceMsg::Console(c.id),
        event::RESIZE => {
            if payload.len() < RESIZE_LEN {
                return Err(CtrlError::Short(b.len()));
            }
            let (cols, rows) = check_size(
                get16(payload, 0, order).ok_or(CtrlError::Short(b.len()))?,
                get16(payload, 2, order).ok_or(CtrlError::Short(b.len()))?,
            )?;
            DeviceMsg::Resize {
                id: c.id,
                cols,
                rows,
            }
        }
        event::PORT_OPEN => match c.value {
            0 | 1 => DeviceMsg::Open(c.id, c.value == 1),
            v => return Err(CtrlError::Value(v)),
        },
        event::PORT_NAME => {
            // QEMU ends the name with a NUL (the C driver reads it as a C
            // string); the NULs at the end are not part of it, one inside
            // is refused by `check_name`.
            let end = payload
                .iter()
                .rposition(|&b| b != 0)
                .map_or(0, |i| i.saturating_add(1));
            let name = payload.get(..end).unwrap_or(&[]);
            check_name(name)?;
            DeviceMsg::Name(c.id, name)
        }
        e => return Err(CtrlError::Event(e)),
    })
}

/// What the driver knows of one port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortState {
    /// Added by the device and not removed.
    pub present: bool,
    /// Nominated as a console.
    pub console: bool,
    /// Has a name.
    pub named: bool,
    /// The host side is open.
    pub host_open: bool,
}

/// What the driver does for a control message that passed the checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Make the port (its queues, character device) and answer PORT_READY.
    Add(u32),
    /// Remove the port; its readers get an error.
    Remove(u32),
    /// Make the port a console (hvc) and answer PORT_OPEN 1.
    Console(u32),
    /// Set the console's window size.
    Resize {
        /// The port.
        id: u32,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// The host side opened or closed the port: wake readers and writers.
    HostOpen(u32, bool),
    /// Name the port.
    Name(u32, &'a str),
    /// Nothing to do: a repeat the C driver also ignores (CONSOLE_PORT or
    /// PORT_NAME again for the same port).
    Ignore,
}

/// The driver's table of ports: `states.len()` is the number of ports.
pub struct Ports<'s> {
    states: &'s mut [PortState],
}

impl<'s> Ports<'s> {
    /// A table over `states`, one per port, all absent.
    pub fn new(states: &'s mut [PortState]) -> Self {
        states.fill(PortState::default());
        Self { states }
    }

    /// A table over `states` as they are: the driver keeps the states
    /// between control messages and takes a table for each batch.
    pub fn resume(states: &'s mut [PortState]) -> Self {
        Self { states }
    }

    /// The state of port `id`.
    pub fn get(&self, id: u32) -> Option<&PortState> {
        self.states.get(usize::try_from(id).ok()?)
    }

    fn slot(&mut self, id: u32) -> Result<&mut PortState, CtrlError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.states.get_mut(i))
            .ok_or(CtrlError::PortId(id))
    }

    fn present(&mut self, id: u32) -> Result<&mut PortState, CtrlError> {
        let p = self.slot(id)?;
        if !p.present {
            return Err(CtrlError::NoPort(id));
        }
        Ok(p)
    }

    /// Checks a message against the ports and updates them; returns what
    /// the driver must do. A refused message changes nothing.
    pub fn apply<'m>(&mut self, msg: DeviceMsg<'m>) -> Result<Action<'m>, CtrlError> {
        Ok(match msg {
            DeviceMsg::Add(id) => {
                let p = self.slot(id)?;
                if p.present {
                    return Err(CtrlError::Duplicate(id));
                }
                *p = PortState {
                    present: true,
                    ..PortState::default()
                };
                Action::Add(id)
            }
            DeviceMsg::Remove(id) => {
                let p = self.present(id)?;
                *p = PortState::default();
                Action::Remove(id)
            }
            DeviceMsg::Console(id) => {
                let p = self.present(id)?;
                if p.console {
                    Action::Ignore
                } else {
                    p.console = true;
                    Action::Console(id)
                }
            }
            DeviceMsg::Resize { id, cols, rows } => {
                if !self.present(id)?.console {
                    return Err(CtrlError::NotConsole(id));
                }
                Action::Resize { id, cols, rows }
            }
            DeviceMsg::Open(id, open) => {
                self.present(id)?.host_open = open;
                Action::HostOpen(id, open)
            }
            DeviceMsg::Name(id, name) => {
                let name = check_name(name)?;
                let p = self.present(id)?;
                if p.named {
                    Action::Ignore
                } else {
                    p.named = true;
                    Action::Name(id, name)
                }
            }
        })
    }
}

/// DEVICE_READY: the driver is ready for control messages (`ok`), or
/// failed.
pub fn device_ready(ok: bool, order: ByteOrder) -> [u8; CONTROL_LEN] {
    Control {
        id: 0,
        event: event::DEVICE_READY,
        value: u16::from(ok),
    }
    .encode(order)
}

/// PORT_READY: the driver made port `id` (`ok`), or failed to.
pub fn port_ready(id: u32, ok: bool, order: ByteOrder) -> [u8; CONTROL_LEN] {
    Control {
        id,
        event: event::PORT_READY,
        value: u16::from(ok),
    }
    .encode(order)
}

/// PORT_OPEN: the guest side of port `id` opened or closed.
pub fn port_open(id: u32, open: bool, order: ByteOrder) -> [u8; CONTROL_LEN] {
    Control {
        id,
        event: event::PORT_OPEN,
        value: u16::from(open),
    }
    .encode(order)
}

/// Counts a device's protocol violations; the driver fails the device at
/// the `limit`th.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violations {
    seen: u32,
    limit: u32,
}

impl Violations {
    /// A counter that trips at `limit` (at least 1).
    pub const fn new(limit: u32) -> Self {
        Self {
            seen: 0,
            limit: if limit == 0 { 1 } else { limit },
        }
    }

    /// Records one; returns the count and whether the device must now be
    /// failed (exactly once, at the limit).
    pub fn record(&mut self) -> (u32, bool) {
        self.seen = self.seen.saturating_add(1);
        (self.seen, self.seen == self.limit)
    }
}

/// What became of one control message ([`CtrlState::handle`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'m> {
    /// It passed every check: the driver does this.
    Act(Action<'m>),
    /// Refused: the `count`th violation, below the limit.
    Refused {
        /// Why.
        err: CtrlError,
        /// Violations so far.
        count: u32,
    },
    /// Refused, and the violation limit is reached: the driver fails the
    /// device now (once) and posts no more control buffers.
    Fail(CtrlError),
    /// The device was failed before: the message is not even parsed.
    Dropped,
}

/// The driver's control-message state besides the port table: every
/// message from the device goes through [`CtrlState::handle`], which
/// parses it, checks it against the ports, counts what is refused and
/// decides when the device is failed. What the driver acts on is an
/// [`Action`], at most one per message; the actions that allocate
/// (`Add`, `Name`) are bounded by the port table (one port and one name
/// per port id present), whatever the device sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtrlState {
    violations: Violations,
    failed: bool,
}

impl CtrlState {
    /// A fresh state; the device is failed at the `limit`th violation.
    pub const fn new(limit: u32) -> Self {
        Self {
            violations: Violations::new(limit),
            failed: false,
        }
    }

    /// Whether the device was failed.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Handles one control message `buf` (the used part of a buffer)
    /// against the port table `states`.
    pub fn handle<'m>(
        &mut self,
        states: &mut [PortState],
        buf: &'m [u8],
        order: ByteOrder,
    ) -> Outcome<'m> {
        if self.failed {
            return Outcome::Dropped;
        }
        match parse(buf, order).and_then(|m| Ports::resume(states).apply(m)) {
            Ok(a) => Outcome::Act(a),
            Err(err) => match self.violations.record() {
                (_, true) => {
                    self.failed = true;
                    Outcome::Fail(err)
                }
                (count, false) => Outcome::Refused { err, count },
            },
        }
    }
}

/// The most bytes of the kernel log one emergency dump writes through
/// `emerg_wr` (the newest ones: an oops or a panic report fits).
pub const EMERG_DUMP_LEN: usize = 16384;

/// The `emerg_wr` values that write `log` (§5.3.4: the device outputs the
/// low byte of each write). NUL bytes are skipped: QEMU, which acts on a
/// non-zero `emerg_wr` only, would drop them anyway.
pub fn emerg_words(log: &[u8]) -> impl Iterator<Item = u32> + '_ {
    log.iter().filter(|&&b| b != 0).map(|&b| u32::from(b))
}
