// SPDX-License-Identifier: GPL-2.0

//! rvirtio_net_kunit: the KUnit suite `rvirtio_net`, in a module of its own.
//!
//! The suite tests what of rvirtio_net needs the kernel: the netdev shim's
//! ABI and the layout of every structure and value mirrored between it and
//! `rust/kext/net/`, receive fragments (sizes, bounds, a DMA mapping of the
//! whole fragment), and the driver's feature table (its requirements on
//! top of the spec's, run through the core's negotiation as the kernel
//! build compiles it) with the interface offloads it gives. The suite
//! `rvirtio_net_proto` (`protocol.rs`) runs the core's protocol logic
//! (headers, validation of every device-supplied field, mergeable and
//! big-packet accounting, control commands) in the kernel build; the host
//! tests (`rust/virtio/tests/net.rs`) cover it fully. Loading the driver
//! runs no test; loading this module runs the suite and nothing else.

use kernel::prelude::*;

#[path = "../../../rust/virtio/mod.rs"]
pub mod virtio;

#[path = "../../../rust/kext/mod.rs"]
pub mod kext;

#[path = "../../../rust/kext/net/mod.rs"]
pub mod net;

#[path = "../rvirtio_net/features.rs"]
pub mod features;

mod protocol;

module! {
    type: RvirtioNetKunit,
    name: "rvirtio_net_kunit",
    authors: ["rvirtio developers"],
    description: "KUnit suite of rvirtio_net's kernel-side logic",
    license: "GPL",
}

struct RvirtioNetKunit;

impl kernel::Module for RvirtioNetKunit {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // The suite tests the shim this module linked: refuse a mismatch.
        net::check_abi()?;
        Ok(RvirtioNetKunit)
    }
}

#[kunit_tests(rvirtio_net)]
mod tests {
    use crate::features::{offloads, DRIVER, WANTED};
    use crate::kext::dma::{DmaDevice, TestDmaDevice};
    use crate::net::{
        c_layout, check_abi, layout, max_skb_frags, CField, DropReason, MappedRxFrag, Offloads,
        RxFrag, Stats,
    };
    use crate::virtio::{
        features::{negotiate, Feature, Features},
        net::{wire::feature as f, RxOffloads, TxOffloads},
    };

    /// The shim implements the ABI the Rust side expects, and every
    /// structure and value mirrored between them has C's layout.
    #[test]
    fn shim_abi_and_layout() {
        assert!(crate::kext::helpers_abi_matches());
        assert!(check_abi().is_ok());
        for (field, rust) in layout() {
            if field != CField::SkbCbSize {
                assert_eq!(c_layout(field), Some(rust));
            }
        }
        assert_eq!(c_layout(CField::Stats), Some(core::mem::size_of::<Stats>()));
        assert_eq!(c_layout(CField::Stats), Some(72));
        assert_eq!(
            c_layout(CField::DropDevHdr),
            Some(DropReason::DevHdr as usize)
        );
        // The skb control buffer holds the largest virtio-net header.
        assert!(c_layout(CField::SkbCbSize).is_some_and(|n| n >= 20));
        assert!((17..=45).contains(&max_skb_frags()));
    }

    fn offered(all: Features) -> Features {
        all.with(Feature::VERSION_1)
    }

    fn accept(offer: Features) -> Features {
        match negotiate(offered(offer), &DRIVER, Features::EMPTY, false) {
            Ok(a) => a,
            Err(_) => Features::EMPTY,
        }
    }

    /// Everything offered: every wanted feature accepted.
    #[test]
    fn negotiation_all_offered() {
        let a = accept(WANTED);
        for x in [
            f::CSUM,
            f::GUEST_CSUM,
            f::GUEST_TSO4,
            f::GUEST_TSO6,
            f::GUEST_ECN,
        ] {
            assert!(a.contains(x));
        }
        for x in [
            f::HOST_TSO4,
            f::HOST_TSO6,
            f::HOST_ECN,
            f::HOST_UFO,
            f::HOST_USO,
            f::GUEST_UFO,
            f::GUEST_USO4,
            f::GUEST_USO6,
            f::MRG_RXBUF,
            f::STATUS,
            f::MTU,
        ] {
            assert!(a.contains(x));
        }
        // The control queue and its classes are accepted, MQ among them.
        let c = accept(WANTED);
        for x in [
            f::MQ,
            f::CTRL_VQ,
            f::CTRL_RX,
            f::CTRL_VLAN,
            f::CTRL_MAC_ADDR,
            f::CTRL_GUEST_OFFLOADS,
            f::GUEST_ANNOUNCE,
        ] {
            assert!(c.contains(x));
        }
        // Without CTRL_VQ none of its classes (the spec's dependencies).
        let n = accept(WANTED.without(f::CTRL_VQ));
        assert!(!n.contains(f::CTRL_RX) && !n.contains(f::GUEST_ANNOUNCE));
        assert!(!n.contains(f::MQ));
    }

    /// Without MRG_RXBUF the receive GSO offloads are still accepted (the
    /// driver receives in big-packet mode), with the checksum offload.
    #[test]
    fn negotiation_without_mergeable() {
        let a = accept(WANTED.without(f::MRG_RXBUF));
        for x in [
            f::GUEST_CSUM,
            f::GUEST_TSO4,
            f::GUEST_TSO6,
            f::GUEST_ECN,
            f::GUEST_UFO,
            f::GUEST_USO4,
            f::GUEST_USO6,
            f::HOST_TSO4,
        ] {
            assert!(a.contains(x));
        }
        assert!(!a.contains(f::MRG_RXBUF));
    }

    /// The spec's requirements: TSO needs the checksum offload of its
    /// direction; ECN needs TSO4 (the driver's narrowing of "TSO4 or TSO6").
    #[test]
    fn negotiation_dependencies() {
        let a = accept(WANTED.without(f::CSUM));
        assert!(!a.contains(f::HOST_TSO4) && !a.contains(f::HOST_TSO6));
        assert!(!a.contains(f::HOST_ECN));
        assert!(!a.contains(f::HOST_UFO) && !a.contains(f::HOST_USO));
        let a = accept(WANTED.without(f::GUEST_CSUM));
        assert!(!a.contains(f::GUEST_TSO4) && !a.contains(f::GUEST_ECN));
        assert!(!a.contains(f::GUEST_UFO) && !a.contains(f::GUEST_USO4));
        assert!(!a.contains(f::GUEST_USO6));
        let a = accept(WANTED.without(f::HOST_TSO4));
        assert!(a.contains(f::HOST_TSO6) && !a.contains(f::HOST_ECN));
    }

    /// The interface offloads for the negotiated ones.
    #[test]
    fn interface_offloads() {
        let a = accept(WANTED);
        let (hw, on) = offloads(RxOffloads::negotiated(a), TxOffloads::negotiated(a), false);
        for o in [
            Offloads::SG,
            Offloads::HW_CSUM,
            Offloads::TSO,
            Offloads::TSO6,
            Offloads::TSO_ECN,
        ] {
            assert!(hw.contains(o) && on.contains(o));
        }
        assert!(on.contains(Offloads::RXCSUM) && on.contains(Offloads::GRO_HW));
        // USO is switchable and starts off, as in C.
        assert!(hw.contains(Offloads::GSO_UDP_L4) && !on.contains(Offloads::GSO_UDP_L4));
        // Any receive GSO offload alone shows GRO_HW.
        for g in [f::GUEST_UFO, f::GUEST_USO6] {
            let a = accept(Features::single(f::GUEST_CSUM).with(g));
            let (_, on) = offloads(RxOffloads::negotiated(a), TxOffloads::negotiated(a), false);
            assert!(on.contains(Offloads::GRO_HW));
        }
        // Receive offloads switchable only with CTRL_GUEST_OFFLOADS.
        assert!(!hw.contains(Offloads::RXCSUM) && !hw.contains(Offloads::GRO_HW));
        let (hw, on2) = offloads(RxOffloads::negotiated(a), TxOffloads::negotiated(a), true);
        assert!(hw.contains(Offloads::RXCSUM) && hw.contains(Offloads::GRO_HW));
        assert_eq!(on, on2);
        let none = accept(Features::EMPTY);
        let (hw, on) = offloads(
            RxOffloads::negotiated(none),
            TxOffloads::negotiated(none),
            true,
        );
        assert_eq!(hw, Offloads::NONE);
        assert_eq!(on, Offloads::NONE);
        // Checksum without TSO: no segmentation offload shown.
        let c = accept(Features::single(f::CSUM));
        let (hw, _) = offloads(RxOffloads::negotiated(c), TxOffloads::negotiated(c), false);
        assert!(hw.contains(Offloads::HW_CSUM) && !hw.contains(Offloads::TSO));
    }

    /// Receive fragments: rounded to the cache line, reads bounded.
    #[test]
    fn rx_frag_bounds() {
        assert!(RxFrag::alloc(0).is_none());
        let Some(frag) = RxFrag::alloc(100) else {
            panic!("no memory for a fragment");
        };
        assert!(frag.size() >= 100 && frag.size() % 64 == 0);
        let mut b = [0u8; 16];
        assert!(frag.read(0, &mut b).is_ok());
        assert!(frag.read(frag.size() - 16, &mut b).is_ok());
        assert!(frag.read(frag.size() - 15, &mut b).is_err());
        assert!(frag.read(u32::MAX, &mut b).is_err());
    }

    /// A fragment is mapped whole for the device and given back.
    #[test]
    fn rx_frag_mapping() {
        let Ok(tdev) = TestDmaDevice::new(c"rvirtio_net_kunit") else {
            panic!("no test DMA device");
        };
        for dma_api in [false, true] {
            let dma = DmaDevice::new(tdev.device(), dma_api);
            let Some(frag) = RxFrag::alloc(1536) else {
                panic!("no memory for a fragment");
            };
            let size = frag.size();
            let Ok(m) = MappedRxFrag::map(frag, &dma) else {
                panic!("mapping failed");
            };
            assert_eq!(m.buf().len, size);
            assert!(m.buf().addr != 0);
            let frag = m.unmap();
            let mut b = [0u8; 12];
            assert!(frag.read(0, &mut b).is_ok());
        }
    }
}
