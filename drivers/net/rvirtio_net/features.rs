// SPDX-License-Identifier: GPL-2.0

//! The features rvirtio_net negotiates, with the driver's own
//! requirements on top of the spec's, and the interface offloads they
//! give. Compiled into the driver and into its KUnit module.

use crate::{
    net::Offloads,
    virtio::{
        features::{
            DriverFeatures,
            FeatureDep,
            Features, //
        },
        net::{
            self as vnet,
            wire::feature as f,
            RxOffloads,
            TxOffloads, //
        },
    },
};

/// The features this driver uses.
pub const WANTED: Features = Features::single(f::CSUM)
    .with(f::GUEST_CSUM)
    .with(f::MTU)
    .with(f::MAC)
    .with(f::GUEST_TSO4)
    .with(f::GUEST_TSO6)
    .with(f::GUEST_ECN)
    .with(f::GUEST_UFO)
    .with(f::GUEST_USO4)
    .with(f::GUEST_USO6)
    .with(f::HOST_TSO4)
    .with(f::HOST_TSO6)
    .with(f::HOST_ECN)
    .with(f::HOST_UFO)
    .with(f::HOST_USO)
    .with(f::MRG_RXBUF)
    .with(f::STATUS)
    .with(f::SPEED_DUPLEX)
    .with(f::CTRL_VQ)
    .with(f::MQ)
    .with(f::CTRL_RX)
    .with(f::CTRL_VLAN)
    .with(f::CTRL_MAC_ADDR)
    .with(f::CTRL_GUEST_OFFLOADS)
    .with(f::GUEST_ANNOUNCE);

/// The driver's own requirements on top of the spec's
/// ([`vnet::FEATURE_DEPS`]): ECN needs TSO4 (the spec's "TSO4 or TSO6",
/// narrowed to what [`FeatureDep`] can say). The receive GSO offloads need
/// no MRG_RXBUF: without it the driver receives in big-packet mode.
pub const DRIVER_DEPS: [FeatureDep; 2] = [
    FeatureDep::new(f::GUEST_ECN, Features::single(f::GUEST_TSO4)),
    FeatureDep::new(f::HOST_ECN, Features::single(f::HOST_TSO4)),
];

/// Both lists of requirements, for negotiation.
pub const DEPS: [FeatureDep; vnet::FEATURE_DEPS.len() + DRIVER_DEPS.len()] = {
    let mut out =
        [FeatureDep::new(f::CSUM, Features::EMPTY); vnet::FEATURE_DEPS.len() + DRIVER_DEPS.len()];
    let (spec, ours) = out.split_at_mut(vnet::FEATURE_DEPS.len());
    spec.copy_from_slice(&vnet::FEATURE_DEPS);
    ours.copy_from_slice(&DRIVER_DEPS);
    out
};

/// What the driver tells the framework.
pub const DRIVER: DriverFeatures<'static> = DriverFeatures {
    wanted: WANTED,
    required: Features::EMPTY,
    deps: &DEPS,
};

/// The offloads the interface shows for the negotiated offloads: the
/// ones the user may switch (the receive ones with `ctrl_offloads`:
/// CTRL_GUEST_OFFLOADS), and the ones on.
pub fn offloads(rx: RxOffloads, tx: TxOffloads, ctrl_offloads: bool) -> (Offloads, Offloads) {
    let mut hw = Offloads::NONE;
    let mut on = Offloads::NONE;
    if tx.csum {
        hw = hw.with(Offloads::SG).with(Offloads::HW_CSUM);
        if tx.tso4 {
            hw = hw.with(Offloads::TSO);
        }
        if tx.tso6 {
            hw = hw.with(Offloads::TSO6);
        }
        if tx.ecn {
            hw = hw.with(Offloads::TSO_ECN);
        }
        on = hw;
        // UDP segmentation is switchable and starts off, as in C (HOST_UFO
        // has no interface feature: the stack no longer makes UFO packets
        // but a forwarded one, which `tx_header` passes on).
        if tx.uso {
            hw = hw.with(Offloads::GSO_UDP_L4);
        }
    }
    let mut rx_on = Offloads::NONE;
    if rx.csum {
        rx_on = rx_on.with(Offloads::RXCSUM);
    }
    if rx.tso4 || rx.tso6 || rx.ufo || rx.uso4 || rx.uso6 {
        rx_on = rx_on.with(Offloads::GRO_HW);
    }
    if ctrl_offloads {
        hw = hw.with(rx_on);
    }
    (hw, on.with(rx_on))
}
