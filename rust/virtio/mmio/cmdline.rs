// SPDX-License-Identifier: GPL-2.0

//! The command-line device syntax of virtio-mmio:
//! `<size>@<base>:<irq>[:<id>]`, as the kernel's
//! `virtio_mmio.device=` parameter takes it (`vm_cmdline_set()` in
//! `drivers/virtio/virtio_mmio.c`), for guests without ACPI or a device
//! tree.
//!
//! - `size`: `memparse()`: a number in C notation (`0x` hexadecimal, a
//!   leading `0` octal, else decimal) with an optional binary suffix `K`,
//!   `M`, `G`, `T`, `P` or `E` (either case);
//! - `base`: `%lli`: a number in C notation, no suffix;
//! - `irq`: `%u`: decimal, not 0;
//! - `id`: `%d`: decimal, the platform device id of this device (the next
//!   ones count up from it).
//!
//! The C parameter takes one device per value and is given once per
//! device. The rvirtio parameter value may list several, separated by
//! commas or white space (neither can occur inside one device), and may
//! be given several times too.
//!
//! Stricter than C, on purpose: a number that overflows, a size of 0, a
//! window that wraps the address space, or a negative id is refused,
//! where `simple_strtoull()` would silently wrap.
//!
//! Example: `0x200@0xfeb00e00:12` is QEMU microvm's first transport with
//! `acpi=off`.

/// One device of the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmdlineDevice {
    /// Physical base address of the register window.
    pub base: u64,
    /// Size of the register window in bytes (at least 1; the transport
    /// needs 0x100).
    pub size: u64,
    /// The interrupt line (a Linux IRQ number, as in the C parameter).
    pub irq: u32,
    /// The platform device id asked for, if any.
    pub id: Option<u32>,
}

/// Why a device description was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdlineError {
    /// The size is missing or not a number.
    BadSize,
    /// The size is 0.
    ZeroSize,
    /// `@` after the size is missing.
    MissingAt,
    /// The base address is missing or not a number.
    BadBase,
    /// `:` before the IRQ is missing.
    MissingIrq,
    /// The IRQ is not a decimal number.
    BadIrq,
    /// The IRQ is 0.
    ZeroIrq,
    /// The id after the second `:` is not a decimal number.
    BadId,
    /// Characters are left after the description.
    Trailing,
    /// A number overflows, or `base + size` wraps the address space.
    Overflow,
}

impl core::fmt::Display for CmdlineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            Self::BadSize => "the size is not a number",
            Self::ZeroSize => "the size is 0",
            Self::MissingAt => "'@' expected after the size",
            Self::BadBase => "the base address is not a number",
            Self::MissingIrq => "':<irq>' expected after the base address",
            Self::BadIrq => "the IRQ is not a decimal number",
            Self::ZeroIrq => "the IRQ is 0",
            Self::BadId => "the id is not a decimal number",
            Self::Trailing => "unexpected characters after the device",
            Self::Overflow => "a number is too large",
        };
        f.write_str(s)
    }
}

/// A cursor over the bytes of one description.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.pos.checked_add(ahead)?).copied()
    }

    fn bump(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.bump(1);
            true
        } else {
            false
        }
    }

    /// Digits in `radix` (at least one); `Ok(None)` if there is none.
    fn digits(&mut self, radix: u32) -> Result<Option<u64>, CmdlineError> {
        let mut v: u64 = 0;
        let mut any = false;
        while let Some(d) = self.peek().and_then(|c| char::from(c).to_digit(radix)) {
            v = v
                .checked_mul(u64::from(radix))
                .and_then(|v| v.checked_add(u64::from(d)))
                .ok_or(CmdlineError::Overflow)?;
            any = true;
            self.bump(1);
        }
        Ok(any.then_some(v))
    }

    /// A C-notation unsigned number (`simple_strtoull(.., 0)`): `0x` +
    /// hexadecimal digits, `0` + octal digits, or decimal.
    fn c_number(&mut self) -> Result<Option<u64>, CmdlineError> {
        let hex_prefix = self.peek() == Some(b'0')
            && matches!(self.peek_at(1), Some(b'x' | b'X'))
            && self.peek_at(2).is_some_and(|c| c.is_ascii_hexdigit());
        if hex_prefix {
            self.bump(2);
            return self.digits(16);
        }
        if self.peek() == Some(b'0') {
            // Octal; "0" alone is 0.
            return self.digits(8);
        }
        self.digits(10)
    }
}

/// `memparse()`'s suffixes: the shift of `K` .. `E`.
fn suffix_shift(c: u8) -> Option<u32> {
    match c.to_ascii_uppercase() {
        b'K' => Some(10),
        b'M' => Some(20),
        b'G' => Some(30),
        b'T' => Some(40),
        b'P' => Some(50),
        b'E' => Some(60),
        _ => None,
    }
}

/// Parses one device description `<size>@<base>:<irq>[:<id>]`.
pub fn parse_device(s: &[u8]) -> Result<CmdlineDevice, CmdlineError> {
    let mut c = Cursor { s, pos: 0 };
    let mut size = c.c_number()?.ok_or(CmdlineError::BadSize)?;
    if let Some(shift) = c.peek().and_then(suffix_shift) {
        c.bump(1);
        let scaled = size.checked_shl(shift).ok_or(CmdlineError::Overflow)?;
        if scaled >> shift != size {
            return Err(CmdlineError::Overflow);
        }
        size = scaled;
    }
    if size == 0 {
        return Err(CmdlineError::ZeroSize);
    }
    if !c.eat(b'@') {
        return Err(CmdlineError::MissingAt);
    }
    let base = c.c_number()?.ok_or(CmdlineError::BadBase)?;
    if base.checked_add(size).is_none() {
        return Err(CmdlineError::Overflow);
    }
    if !c.eat(b':') {
        return Err(CmdlineError::MissingIrq);
    }
    let irq = c.digits(10)?.ok_or(CmdlineError::BadIrq)?;
    let irq = u32::try_from(irq).map_err(|_| CmdlineError::Overflow)?;
    if irq == 0 {
        return Err(CmdlineError::ZeroIrq);
    }
    let id = if c.eat(b':') {
        let id = c.digits(10)?.ok_or(CmdlineError::BadId)?;
        // The C id is an `int`.
        let id = u32::try_from(id)
            .ok()
            .filter(|v| *v <= 0x7fff_ffff)
            .ok_or(CmdlineError::Overflow)?;
        Some(id)
    } else {
        None
    };
    if c.peek().is_some() {
        return Err(CmdlineError::Trailing);
    }
    Ok(CmdlineDevice {
        base,
        size,
        irq,
        id,
    })
}

/// Whether `c` separates two devices in one parameter value.
pub const fn is_separator(c: u8) -> bool {
    c == b',' || c.is_ascii_whitespace()
}

/// The device descriptions of a parameter value (separated by commas or
/// white space; empty ones skipped), each with its parse.
pub fn parse_devices(
    value: &[u8],
) -> impl Iterator<Item = (&[u8], Result<CmdlineDevice, CmdlineError>)> {
    value
        .split(|&c| is_separator(c))
        .filter(|s| !s.is_empty())
        .map(|s| (s, parse_device(s)))
}
