// SPDX-License-Identifier: GPL-2.0

//! The trampolines the shim calls (its `struct rvirtio_net_cb`): each
//! turns the driver pointer back into `&T` and the raw objects into the
//! borrowed handles of this module.

use super::*;
use kernel::ffi::{c_int, c_void};

/// The callbacks of `T`, for [`Registration::new`].
pub(super) fn vtable<T: NetDeviceOps + EthtoolOps>() -> &'static Callbacks {
    &Vtable::<T>::CB
}

struct Vtable<T>(PhantomData<T>);

impl<T: NetDeviceOps + EthtoolOps> Vtable<T> {
    const CB: Callbacks = Callbacks {
        open: open::<T>,
        stop: stop::<T>,
        start_xmit: start_xmit::<T>,
        set_rx_mode: set_rx_mode::<T>,
        set_mac_address: set_mac_address::<T>,
        change_mtu: change_mtu::<T>,
        get_stats64: get_stats64::<T>,
        vlan_rx_add_vid: vlan_rx_add_vid::<T>,
        vlan_rx_kill_vid: vlan_rx_kill_vid::<T>,
        tx_timeout: tx_timeout::<T>,
        poll: poll::<T>,
        get_link: get_link::<T>,
        get_rings: get_rings::<T>,
        get_channels: get_channels::<T>,
        stats_count: stats_count::<T>,
        stats_name: stats_name::<T>,
        stats_values: stats_values::<T>,
        set_features: set_features::<T>,
        announce: announce::<T>,
        set_channels: set_channels::<T>,
        set_link: set_link::<T>,
    };
}

/// The driver's data and the interface of a callback.
///
/// # Safety
///
/// `drv` is the driver pointer of the interface `n` of a live
/// [`Registration<T>`], which outlives `'a` (the callback's duration: the
/// registration unregisters, which waits for every callback, before it
/// drops the data).
unsafe fn parts<'a, T>(drv: *mut c_void, n: *mut RawNet) -> Option<(&'a T, NetDev<'a>)> {
    let n = NonNull::new(n)?;
    // SAFETY: as the caller promises: `drv` is a live `T`.
    let ops = unsafe { &*drv.cast::<T>() };
    // SAFETY: as the caller promises: `n` is live for `'a`.
    Some((ops, unsafe { NetDev::from_raw(n) }))
}

fn errno(r: Result) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's `ndo_open` with its registration's pointers.
unsafe extern "C" fn open<T: NetDeviceOps>(drv: *mut c_void, n: *mut RawNet) -> c_int {
    // SAFETY: `ndo_open` runs under RTNL, in process context.
    let rtnl = unsafe { Rtnl::new() };
    // SAFETY: the shim's pointers, live for the call.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.open(dev, &rtnl)),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's `ndo_stop` with its registration's pointers.
unsafe extern "C" fn stop<T: NetDeviceOps>(drv: *mut c_void, n: *mut RawNet) -> c_int {
    // SAFETY: `ndo_stop` runs under RTNL, in process context.
    let rtnl = unsafe { Rtnl::new() };
    // SAFETY: as above.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.stop(dev, &rtnl)),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's `ndo_start_xmit` with its registration's pointers
/// and an skb it hands over; returns non-zero for `NETDEV_TX_BUSY` (the
/// skb is then given back).
unsafe extern "C" fn start_xmit<T: NetDeviceOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    skb: *mut RawSkb,
    queue: u32,
    more: bool,
) -> c_int {
    let Some(skb) = NonNull::new(skb) else {
        return 0;
    };
    // SAFETY: the stack hands the skb over.
    let skb = unsafe { Skb::from_raw(skb) };
    // SAFETY: as above.
    let Some((ops, dev)) = (unsafe { parts::<T>(drv, n) }) else {
        skb.drop_with(DropReason::NotSpecified);
        return 0;
    };
    match ops.start_xmit(dev, skb, queue, more) {
        Xmit::Ok => 0,
        Xmit::Busy(skb) => {
            // Back to the stack, which still owns it with NETDEV_TX_BUSY.
            let _ = skb.into_raw();
            1
        }
    }
}

/// # Safety
///
/// Called by the shim's `ndo_set_rx_mode` with its registration's pointers.
unsafe extern "C" fn set_rx_mode<T: NetDeviceOps>(drv: *mut c_void, n: *mut RawNet) {
    // SAFETY: as above.
    if let Some((ops, dev)) = unsafe { parts::<T>(drv, n) } {
        ops.set_rx_mode(dev);
    }
}

/// # Safety
///
/// Called by the shim's `ndo_set_mac_address` with its registration's
/// pointers and `ETH_ALEN` bytes at `mac`.
unsafe extern "C" fn set_mac_address<T: NetDeviceOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    mac: *const u8,
) -> c_int {
    if mac.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: the shim passes a `struct sockaddr`'s data, at least
    // `ETH_ALEN` bytes, for the call.
    let mac = unsafe { &*mac.cast::<[u8; ETH_ALEN]>() };
    // SAFETY: as above.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.set_mac_address(dev, mac)),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's `ndo_change_mtu` with its registration's pointers.
unsafe extern "C" fn change_mtu<T: NetDeviceOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    mtu: u32,
) -> c_int {
    // SAFETY: as above.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.change_mtu(dev, mtu)),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's `ndo_get_stats64` with its registration's driver
/// pointer and a statistics structure for the call.
unsafe extern "C" fn get_stats64<T: NetDeviceOps>(drv: *mut c_void, s: *mut Stats) {
    if drv.is_null() || s.is_null() {
        return;
    }
    // SAFETY: a live `T` (see `parts`).
    let ops = unsafe { &*drv.cast::<T>() };
    // SAFETY: the shim's structure, ours for the call.
    ops.get_stats64(unsafe { &mut *s });
}

/// # Safety
///
/// Called by the shim's `ndo_vlan_rx_add_vid` with its registration's
/// pointers.
unsafe extern "C" fn vlan_rx_add_vid<T: NetDeviceOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    vid: u16,
) -> c_int {
    // SAFETY: as above.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.vlan_rx_add_vid(dev, vid)),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's `ndo_vlan_rx_kill_vid` with its registration's
/// pointers.
unsafe extern "C" fn vlan_rx_kill_vid<T: NetDeviceOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    vid: u16,
) -> c_int {
    // SAFETY: as above.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.vlan_rx_kill_vid(dev, vid)),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's `ndo_tx_timeout` with its registration's pointers.
unsafe extern "C" fn tx_timeout<T: NetDeviceOps>(drv: *mut c_void, n: *mut RawNet, queue: u32) {
    // SAFETY: as above.
    if let Some((ops, dev)) = unsafe { parts::<T>(drv, n) } {
        ops.tx_timeout(dev, queue);
    }
}

/// # Safety
///
/// Called by the shim's NAPI poll with its registration's pointers and the
/// NAPI context being polled.
unsafe extern "C" fn poll<T: NetDeviceOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    napi: *mut RawNapi,
    queue: u32,
    tx: bool,
    budget: c_int,
) -> c_int {
    let Some(napi) = NonNull::new(napi) else {
        return 0;
    };
    // SAFETY: as above.
    let Some((ops, dev)) = (unsafe { parts::<T>(drv, n) }) else {
        return 0;
    };
    // SAFETY: a context of the live interface, being polled for the call.
    let poll = unsafe { NapiPoll::new(Napi::from_raw(napi)) };
    let kind = if tx { NapiKind::Tx } else { NapiKind::Rx };
    let budget = u32::try_from(budget).unwrap_or(0);
    let done = ops.poll(dev, poll, queue, kind, budget);
    // NAPI requires at most the budget.
    c_int::try_from(done.min(budget)).unwrap_or(0)
}

/// # Safety
///
/// Called by the shim's ethtool `get_link_ksettings` with its
/// registration's driver pointer and a structure for the call.
unsafe extern "C" fn get_link<T: EthtoolOps>(drv: *mut c_void, l: *mut Link) {
    if drv.is_null() || l.is_null() {
        return;
    }
    // SAFETY: a live `T`; the shim's structure, ours for the call.
    unsafe { *l = (*drv.cast::<T>()).link() };
}

/// # Safety
///
/// Called by the shim's ethtool `get_ringparam` with its registration's
/// driver pointer and a structure for the call.
unsafe extern "C" fn get_rings<T: EthtoolOps>(drv: *mut c_void, r: *mut Rings) {
    if drv.is_null() || r.is_null() {
        return;
    }
    // SAFETY: as above.
    unsafe { *r = (*drv.cast::<T>()).rings() };
}

/// # Safety
///
/// Called by the shim's ethtool `get_channels` with its registration's
/// driver pointer and a structure for the call.
unsafe extern "C" fn get_channels<T: EthtoolOps>(drv: *mut c_void, c: *mut Channels) {
    if drv.is_null() || c.is_null() {
        return;
    }
    // SAFETY: as above.
    unsafe { *c = (*drv.cast::<T>()).channels() };
}

/// # Safety
///
/// Called by the shim's ethtool `get_sset_count` and `get_strings` with
/// its registration's driver pointer.
unsafe extern "C" fn stats_count<T: EthtoolOps>(drv: *mut c_void) -> u32 {
    if drv.is_null() {
        return 0;
    }
    // SAFETY: a live `T` (see `parts`).
    unsafe { (*drv.cast::<T>()).stats_count() }
}

/// # Safety
///
/// Called by the shim's ethtool `get_strings` with its registration's
/// driver pointer and a zeroed name of `STAT_NAME_LEN` bytes.
unsafe extern "C" fn stats_name<T: EthtoolOps>(drv: *mut c_void, i: u32, name: *mut u8) {
    if drv.is_null() || name.is_null() {
        return;
    }
    // SAFETY: the shim's `ETH_GSTRING_LEN` bytes (checked equal to
    // `STAT_NAME_LEN` by `check_abi`), ours for the call.
    let buf = unsafe { &mut *name.cast::<[u8; STAT_NAME_LEN]>() };
    let mut n = StatName::new(buf);
    // SAFETY: a live `T`.
    unsafe { (*drv.cast::<T>()).stat_name(i, &mut n) };
}

/// # Safety
///
/// Called by the shim's ethtool `get_ethtool_stats` with its
/// registration's driver pointer and `count` values to fill.
unsafe extern "C" fn stats_values<T: EthtoolOps>(drv: *mut c_void, values: *mut u64, count: u32) {
    if drv.is_null() || values.is_null() {
        return;
    }
    // SAFETY: the ethtool core's array of `count` (`n_stats`) values, ours
    // for the call.
    let v = unsafe { core::slice::from_raw_parts_mut(values, count as usize) };
    v.fill(0);
    // SAFETY: a live `T`.
    unsafe { (*drv.cast::<T>()).stats(v) };
}

/// # Safety
///
/// Called by the shim's `ndo_set_features` with its registration's
/// pointers.
unsafe extern "C" fn set_features<T: NetDeviceOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    features: u32,
) -> c_int {
    // SAFETY: as above.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.set_features(dev, Offloads(features))),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's announce work item with its registration's
/// pointers.
unsafe extern "C" fn announce<T: NetDeviceOps>(drv: *mut c_void, n: *mut RawNet) {
    // SAFETY: as above.
    if let Some((ops, dev)) = unsafe { parts::<T>(drv, n) } {
        ops.announce(dev);
    }
}

/// # Safety
///
/// Called by the shim's ethtool `set_channels` (under RTNL, process
/// context) with its registration's pointers.
unsafe extern "C" fn set_channels<T: EthtoolOps>(
    drv: *mut c_void,
    n: *mut RawNet,
    combined: u32,
) -> c_int {
    // SAFETY: ethtool's `set_channels` runs under RTNL, in process context.
    let rtnl = unsafe { Rtnl::new() };
    // SAFETY: as above.
    match unsafe { parts::<T>(drv, n) } {
        Some((ops, dev)) => errno(ops.set_channels(dev, &rtnl, combined)),
        None => EINVAL.to_errno(),
    }
}

/// # Safety
///
/// Called by the shim's ethtool `set_link_ksettings` with its
/// registration's driver pointer and a structure for the call.
unsafe extern "C" fn set_link<T: EthtoolOps>(drv: *mut c_void, l: *const Link) -> c_int {
    if drv.is_null() || l.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: a live `T` (see `parts`); the shim's structure, read for the
    // call.
    errno(unsafe { (*drv.cast::<T>()).set_link(*l) })
}
