// SPDX-License-Identifier: GPL-2.0

//! A builder of PCI configuration spaces with virtio capability lists, for
//! the tests of the capability walk (`pci::parse_caps`): shared by the host
//! tests (`rust/virtio/tests/pci_caps.rs`) and the KUnit suite
//! (`rust/tests/pci_caps_kunit.rs`). `no_std`, no allocation, no panics;
//! the including module provides `pci` (the parser's module) in its scope.

#![allow(dead_code, reason = "each suite uses a different subset")]

use super::pci::{
    BarInfo,
    ModernCaps,
    Region,
    CAP_COMMON_CFG,
    CAP_DEVICE_CFG,
    CAP_ISR_CFG,
    CAP_NOTIFY_CFG,
    CAP_PCI_CFG,
    PCI_CAPABILITY_LIST,
    PCI_CAP_ID_MSIX,
    PCI_CAP_ID_VNDR,
    PCI_STATUS,
    PCI_STATUS_CAP_LIST, //
};

// Field offsets in `struct virtio_pci_cap` / `virtio_pci_notify_cap`.
pub(crate) const CAP_LEN: usize = 2;
pub(crate) const CFG_TYPE: usize = 3;
pub(crate) const BAR: usize = 4;
pub(crate) const OFFSET: usize = 8;
pub(crate) const LENGTH: usize = 12;
pub(crate) const MULT: usize = 16;

/// A 256-byte configuration space: a header whose status register has
/// `CAP_LIST`, and a capability list in the order the capabilities are
/// added (each one linked from the previous one's `cap_next`, the first
/// from `PCI_CAPABILITY_LIST`).
#[derive(Clone, Debug)]
pub(crate) struct Builder {
    /// The bytes.
    pub(crate) b: [u8; 256],
    /// Where the pointer to the next capability added goes.
    pub(crate) link: usize,
}

impl Builder {
    /// A virtio-net header (Red Hat vendor ID, modern device ID) with an
    /// empty capability list.
    pub(crate) fn new() -> Self {
        Builder {
            b: [0; 256],
            link: usize::from(PCI_CAPABILITY_LIST),
        }
        .put(0, &0x1af4u16.to_le_bytes())
        .put(2, &0x1041u16.to_le_bytes())
        .put(usize::from(PCI_STATUS), &PCI_STATUS_CAP_LIST.to_le_bytes())
    }

    /// Writes `bytes` at `at`, dropping what falls past config space.
    pub(crate) fn put(mut self, at: usize, bytes: &[u8]) -> Self {
        for (i, v) in bytes.iter().enumerate() {
            if let Some(x) = self.b.get_mut(at.wrapping_add(i)) {
                *x = *v;
            }
        }
        self
    }

    /// Writes a little-endian `u32` at `at`.
    pub(crate) fn put32(self, at: usize, v: u32) -> Self {
        self.put(at, &v.to_le_bytes())
    }

    /// Appends a capability with ID `id` at `pos`; `body` follows `id` and
    /// `cap_next` (which is 0: end of list until another is added).
    pub(crate) fn cap(self, pos: u8, id: u8, body: &[u8]) -> Self {
        let p = usize::from(pos);
        let mut s = self.link_to(pos);
        s.link = p.wrapping_add(1);
        s.put(p, &[id, 0]).put(p.wrapping_add(2), body)
    }

    /// Appends a `virtio_pci_cap` with an explicit `cap_len`.
    pub(crate) fn vndr(
        self,
        pos: u8,
        cap_len: u8,
        cfg_type: u8,
        bar: u8,
        offset: u32,
        length: u32,
    ) -> Self {
        let p = usize::from(pos);
        self.cap(pos, PCI_CAP_ID_VNDR, &[cap_len, cfg_type, bar])
            .put32(p.wrapping_add(OFFSET), offset)
            .put32(p.wrapping_add(LENGTH), length)
    }

    /// Appends a 16-byte `virtio_pci_cap`.
    pub(crate) fn virtio(self, pos: u8, cfg_type: u8, bar: u8, offset: u32, length: u32) -> Self {
        self.vndr(pos, 16, cfg_type, bar, offset, length)
    }

    /// Appends a 20-byte `virtio_pci_notify_cap`.
    pub(crate) fn notify(self, pos: u8, bar: u8, offset: u32, length: u32, mult: u32) -> Self {
        self.vndr(pos, 20, CAP_NOTIFY_CFG, bar, offset, length)
            .put32(usize::from(pos).wrapping_add(MULT), mult)
    }

    /// Appends an MSI-X capability: 3 vectors, table and PBA in BAR 1.
    pub(crate) fn msix(self, pos: u8) -> Self {
        self.cap(pos, PCI_CAP_ID_MSIX, &[2, 0, 1, 0, 0, 0, 1, 8, 0, 0])
    }

    /// Points the last capability's `cap_next` (or the list head) at `ptr`
    /// without adding a capability there.
    pub(crate) fn link_to(self, ptr: u8) -> Self {
        let link = self.link;
        self.put(link, &[ptr])
    }
}

/// QEMU's BARs of a modern virtio-pci device: MSI-X in BAR 1, the virtio
/// structures in the 16 KiB 64-bit BAR 4.
pub(crate) fn qemu_bars() -> [BarInfo; 6] {
    let mut b = [BarInfo::default(); 6];
    if let Some(x) = b.get_mut(1) {
        x.len = 0x1000;
    }
    if let Some(x) = b.get_mut(4) {
        x.len = 0x4000;
    }
    b
}

/// A region of a BAR.
pub(crate) fn region(bar: u8, offset: u32, length: u32) -> Region {
    Region {
        bar,
        offset,
        length,
    }
}

/// The capability list of a QEMU modern virtio-pci device, at QEMU's
/// offsets and in its order (as `lspci -vv` shows it).
pub(crate) fn qemu() -> Builder {
    Builder::new()
        .msix(0x98)
        // struct virtio_pci_cfg_cap: 16 bytes plus pci_cfg_data[4].
        .vndr(0x84, 20, CAP_PCI_CFG, 0, 0, 0)
        .notify(0x70, 4, 0x3000, 0x1000, 4)
        .virtio(0x60, CAP_DEVICE_CFG, 4, 0x2000, 0x1000)
        .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
        .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
}

/// What [`qemu`] parses to.
pub(crate) fn qemu_caps() -> ModernCaps {
    ModernCaps {
        common: region(4, 0, 0x1000),
        notify: region(4, 0x3000, 0x1000),
        notify_off_multiplier: 4,
        isr: region(4, 0x1000, 0x1000),
        device: Some(region(4, 0x2000, 0x1000)),
    }
}

// A minimal valid list, for tests that change one thing: common at 0x40,
// ISR at 0x50, notify at 0x60 (20 bytes), all in BAR 4; more capabilities
// can be appended from `FREE` on.
pub(crate) const COMMON_AT: usize = 0x40;
pub(crate) const ISR_AT: usize = 0x50;
pub(crate) const NOTIFY_AT: usize = 0x60;
pub(crate) const FREE: u8 = 0x78;

/// The minimal valid list.
pub(crate) fn minimal() -> Builder {
    Builder::new()
        .virtio(0x40, CAP_COMMON_CFG, 4, 0, 0x1000)
        .virtio(0x50, CAP_ISR_CFG, 4, 0x1000, 0x1000)
        .notify(0x60, 4, 0x3000, 0x1000, 4)
}

/// What [`minimal`] parses to.
pub(crate) fn minimal_caps() -> ModernCaps {
    ModernCaps {
        device: None,
        ..qemu_caps()
    }
}
