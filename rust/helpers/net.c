// SPDX-License-Identifier: GPL-2.0
/*
 * rvirtio netdev shim: the networking objects the 7.2 kernel crate cannot
 * reach (linux/netdevice.h is not in its bindings, and most of the fast
 * path is static inline): a net_device whose private area is struct
 * rvirtio_net, its net_device_ops and ethtool_ops as trampolines into
 * Rust (struct rvirtio_net_cb), NAPI contexts, and the sk_buff, TX queue,
 * BQL and carrier inlines. The virtio logic stays in Rust; the shim only
 * forwards. Included by the helpers.c of the net driver; the Rust side is
 * rust/kext/net/, which checks every structure mirrored here with
 * rvirtio_net_c_layout().
 */
#include <linux/cpumask.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

/* Bump on any change of the functions or structures below (kext::net::SHIM_ABI). */
#define RVIRTIO_NET_SHIM_ABI 6

unsigned int rvirtio_net_abi(void);
unsigned int rvirtio_net_abi(void)
{
	return RVIRTIO_NET_SHIM_ABI;
}

/* Interface statistics (ndo_get_stats64), filled by the driver. */
struct rvirtio_net_stats {
	u64 rx_packets;
	u64 rx_bytes;
	u64 rx_dropped;
	u64 rx_errors;
	u64 rx_length_errors;
	u64 tx_packets;
	u64 tx_bytes;
	u64 tx_dropped;
	u64 tx_errors;
};

/* ethtool's link settings: speed in Mb/s (SPEED_UNKNOWN) and duplex. */
struct rvirtio_net_link {
	u32 speed;
	u8 duplex;
};

/* ethtool -g: ring sizes. */
struct rvirtio_net_rings {
	u32 rx_max;
	u32 rx;
	u32 tx_max;
	u32 tx;
};

/* ethtool -l: queue pairs (combined channels). */
struct rvirtio_net_channels {
	u32 max_combined;
	u32 combined;
};

/* What a transmitted packet asks of the device (from the skb). */
struct rvirtio_skb_tx {
	u32 len;
	u32 headlen;
	u32 nr_frags;
	u8 csum_partial;
	u16 csum_start;
	u16 csum_offset;
	/* RVIRTIO_GSO_* of the skb's gso_type, 0 without GSO. */
	u32 gso;
	u16 gso_size;
};

/* GSO kinds between Rust and the shim (SKB_GSO_* are not all visible to Rust). */
#define RVIRTIO_GSO_TCPV4 1
#define RVIRTIO_GSO_TCPV6 2
#define RVIRTIO_GSO_UDP 4
#define RVIRTIO_GSO_UDP_L4 8
#define RVIRTIO_GSO_ECN 16
/* A GSO type the shim does not know: the driver drops the packet. */
#define RVIRTIO_GSO_OTHER 32

/* Offload flags between Rust and the shim, mapped to netdev_features_t. */
#define RVIRTIO_NETIF_SG 1
#define RVIRTIO_NETIF_HW_CSUM 2
#define RVIRTIO_NETIF_TSO 4
#define RVIRTIO_NETIF_TSO6 8
#define RVIRTIO_NETIF_TSO_ECN 16
#define RVIRTIO_NETIF_RXCSUM 32
#define RVIRTIO_NETIF_GRO_HW 64
/* Receive VLAN filter (the driver implements vlan_rx_add_vid/kill_vid). */
#define RVIRTIO_NETIF_VLAN_FILTER 128
#define RVIRTIO_NETIF_GSO_UDP_L4 256

/* rvirtio_net_rx_flags(). */
#define RVIRTIO_NET_RX_PROMISC 1
#define RVIRTIO_NET_RX_ALLMULTI 2

struct rvirtio_net;
struct rvirtio_napi;

struct rvirtio_net_cb {
	int (*open)(void *drv, struct rvirtio_net *n);
	int (*stop)(void *drv, struct rvirtio_net *n);
	/* Returns a netdev_tx_t; owns skb (consumed or dropped) on NETDEV_TX_OK. */
	int (*start_xmit)(void *drv, struct rvirtio_net *n, struct sk_buff *skb, u32 queue,
			  bool more);
	/*
	 * The receive filters changed: from a work item (ndo_set_rx_mode is
	 * atomic), in process context under RTNL.
	 */
	void (*set_rx_mode)(void *drv, struct rvirtio_net *n);
	/* 0: the shim commits the address; else -errno. */
	int (*set_mac_address)(void *drv, struct rvirtio_net *n, const u8 *mac);
	int (*change_mtu)(void *drv, struct rvirtio_net *n, u32 mtu);
	void (*get_stats64)(void *drv, struct rvirtio_net_stats *s);
	int (*vlan_rx_add_vid)(void *drv, struct rvirtio_net *n, u16 vid);
	int (*vlan_rx_kill_vid)(void *drv, struct rvirtio_net *n, u16 vid);
	void (*tx_timeout)(void *drv, struct rvirtio_net *n, u32 queue);
	/* NAPI poll of queue index (receive or transmit); returns the work done. */
	int (*poll)(void *drv, struct rvirtio_net *n, struct rvirtio_napi *napi, u32 index,
		    bool tx, int budget);
	void (*get_link)(void *drv, struct rvirtio_net_link *l);
	void (*get_rings)(void *drv, struct rvirtio_net_rings *r);
	void (*get_channels)(void *drv, struct rvirtio_net_channels *c);
	/* ethtool -S: how many counters, their names, their values. */
	u32 (*stats_count)(void *drv);
	/* Writes name i, NUL-terminated, into name (ETH_GSTRING_LEN bytes). */
	void (*stats_name)(void *drv, u32 i, u8 *name);
	/* Writes count values. */
	void (*stats_values)(void *drv, u64 *values, u32 count);
	/*
	 * The interface's offloads change to features (RVIRTIO_NETIF_*
	 * bits), under RTNL: 0, or -errno to keep the old ones.
	 */
	int (*set_features)(void *drv, struct rvirtio_net *n, u32 features);
	/*
	 * After rvirtio_net_request_announce: the shim notified the peers
	 * (netdev_notify_peers), in process context under RTNL.
	 */
	void (*announce)(void *drv, struct rvirtio_net *n);
	/*
	 * ethtool -L combined: the number of queue pairs in use changes to
	 * combined (1..=max_combined, checked), under RTNL: 0 or -errno.
	 */
	int (*set_channels)(void *drv, struct rvirtio_net *n, u32 combined);
	/*
	 * ethtool -s speed/duplex: the link settings reported change (speed
	 * and duplex checked valid; nothing else may change), under RTNL: 0
	 * or -errno.
	 */
	int (*set_link)(void *drv, const struct rvirtio_net_link *l);
};

struct rvirtio_napi {
	struct napi_struct napi;
	struct rvirtio_net *n;
	u32 index;
	bool tx;
	/* Enabled (napi_enable without napi_disable since), under n->napi_lock. */
	bool enabled;
};

/*
 * The net_device's private area. Lifetime: drv is the driver's data; the
 * Rust side (kext::net::Registration) keeps it alive until after
 * rvirtio_net_free(). The net_device_ops and ethtool_ops end with
 * unregister_netdev() (it closes the device, which disables the NAPI
 * contexts, and waits for every caller under RTNL and in the transmit
 * path). The carrier may be set from the configuration interrupt: it goes
 * through lock and live, which unregister clears first, so nothing
 * touches a net_device being unregistered.
 */
struct rvirtio_net {
	struct net_device *dev;
	const struct rvirtio_net_cb *cb;
	void *drv;
	/* Orders carrier changes with unregister; live while registered. */
	spinlock_t lock;
	/* Serialises NAPI enable and disable (each once, in turn). */
	struct mutex napi_lock;
	bool live;
	bool registered;
	/* Runs cb->set_rx_mode; scheduled while live, cancelled by unregister. */
	struct work_struct rx_mode_work;
	/* Notifies peers and runs cb->announce; likewise. */
	struct work_struct announce_work;
	u32 nr_napi;
	/* Receive queue i at 2i, transmit queue i at 2i + 1. */
	struct rvirtio_napi *napi;
	char version[32];
};

static struct rvirtio_net *rvirtio_net_of(struct net_device *dev)
{
	return netdev_priv(dev);
}

static int rvirtio_net_open(struct net_device *dev)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	return n->cb->open(n->drv, n);
}

static int rvirtio_net_stop(struct net_device *dev)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	return n->cb->stop(n->drv, n);
}

static netdev_tx_t rvirtio_net_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	return n->cb->start_xmit(n->drv, n, skb, skb_get_queue_mapping(skb), netdev_xmit_more()) ?
		       NETDEV_TX_BUSY :
		       NETDEV_TX_OK;
}

static bool rvirtio_net_registered(struct rvirtio_net *n)
{
	unsigned long flags;
	bool registered;

	spin_lock_irqsave(&n->lock, flags);
	registered = n->registered;
	spin_unlock_irqrestore(&n->lock, flags);
	return registered;
}

static void rvirtio_net_set_rx_mode(struct net_device *dev)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	unsigned long flags;

	/* Atomic (the address list lock): the driver may sleep, so defer. */
	spin_lock_irqsave(&n->lock, flags);
	if (n->live)
		schedule_work(&n->rx_mode_work);
	spin_unlock_irqrestore(&n->lock, flags);
}

static void rvirtio_net_rx_mode_work(struct work_struct *work)
{
	struct rvirtio_net *n = container_of(work, struct rvirtio_net, rx_mode_work);

	rtnl_lock();
	if (rvirtio_net_registered(n))
		n->cb->set_rx_mode(n->drv, n);
	rtnl_unlock();
}

static void rvirtio_net_announce_work(struct work_struct *work)
{
	struct rvirtio_net *n = container_of(work, struct rvirtio_net, announce_work);

	rtnl_lock();
	if (rvirtio_net_registered(n)) {
		__netdev_notify_peers(n->dev);
		n->cb->announce(n->drv, n);
	}
	rtnl_unlock();
}

/* From any context: schedules the announcement; ignored unless live. */
void rvirtio_net_request_announce(struct rvirtio_net *n);
void rvirtio_net_request_announce(struct rvirtio_net *n)
{
	unsigned long flags;

	spin_lock_irqsave(&n->lock, flags);
	if (n->live)
		schedule_work(&n->announce_work);
	spin_unlock_irqrestore(&n->lock, flags);
}

static u32 rvirtio_netif_bits(netdev_features_t f);

static int rvirtio_net_set_features(struct net_device *dev, netdev_features_t features)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	return n->cb->set_features(n->drv, n, rvirtio_netif_bits(features));
}

/* Device-coalesced receive (GRO_HW) comes with checksums only. */
static netdev_features_t rvirtio_net_fix_features(struct net_device *dev,
						  netdev_features_t features)
{
	if (!(features & NETIF_F_RXCSUM))
		features &= ~NETIF_F_GRO_HW;
	return features;
}

static int rvirtio_net_set_mac_address(struct net_device *dev, void *p)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	struct sockaddr *addr = p;
	int err;

	err = eth_prepare_mac_addr_change(dev, p);
	if (err)
		return err;
	err = n->cb->set_mac_address(n->drv, n, (const u8 *)addr->sa_data);
	if (err)
		return err;
	eth_commit_mac_addr_change(dev, p);
	return 0;
}

static int rvirtio_net_change_mtu(struct net_device *dev, int mtu)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	int err;

	err = n->cb->change_mtu(n->drv, n, mtu);
	if (err)
		return err;
	WRITE_ONCE(dev->mtu, mtu);
	return 0;
}

static void rvirtio_net_get_stats64(struct net_device *dev, struct rtnl_link_stats64 *tot)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	struct rvirtio_net_stats s = {};

	n->cb->get_stats64(n->drv, &s);
	tot->rx_packets = s.rx_packets;
	tot->rx_bytes = s.rx_bytes;
	tot->rx_dropped = s.rx_dropped;
	tot->rx_errors = s.rx_errors;
	tot->rx_length_errors = s.rx_length_errors;
	tot->tx_packets = s.tx_packets;
	tot->tx_bytes = s.tx_bytes;
	tot->tx_dropped = s.tx_dropped;
	tot->tx_errors = s.tx_errors;
}

static int rvirtio_net_vlan_rx_add_vid(struct net_device *dev, __be16 proto, u16 vid)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	return n->cb->vlan_rx_add_vid(n->drv, n, vid);
}

static int rvirtio_net_vlan_rx_kill_vid(struct net_device *dev, __be16 proto, u16 vid)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	return n->cb->vlan_rx_kill_vid(n->drv, n, vid);
}

static void rvirtio_net_tx_timeout(struct net_device *dev, unsigned int txqueue)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	n->cb->tx_timeout(n->drv, n, txqueue);
}

static const struct net_device_ops rvirtio_net_ops = {
	.ndo_open = rvirtio_net_open,
	.ndo_stop = rvirtio_net_stop,
	.ndo_start_xmit = rvirtio_net_start_xmit,
	.ndo_validate_addr = eth_validate_addr,
	.ndo_set_rx_mode = rvirtio_net_set_rx_mode,
	.ndo_set_mac_address = rvirtio_net_set_mac_address,
	.ndo_change_mtu = rvirtio_net_change_mtu,
	.ndo_get_stats64 = rvirtio_net_get_stats64,
	.ndo_vlan_rx_add_vid = rvirtio_net_vlan_rx_add_vid,
	.ndo_vlan_rx_kill_vid = rvirtio_net_vlan_rx_kill_vid,
	.ndo_tx_timeout = rvirtio_net_tx_timeout,
	.ndo_set_features = rvirtio_net_set_features,
	.ndo_fix_features = rvirtio_net_fix_features,
	.ndo_features_check = passthru_features_check,
};

static void rvirtio_net_get_drvinfo(struct net_device *dev, struct ethtool_drvinfo *info)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->version, n->version, sizeof(info->version));
	if (dev->dev.parent)
		strscpy(info->bus_info, dev_name(dev->dev.parent), sizeof(info->bus_info));
}

static int rvirtio_net_get_link_ksettings(struct net_device *dev,
					  struct ethtool_link_ksettings *cmd)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	struct rvirtio_net_link l = { .speed = SPEED_UNKNOWN, .duplex = DUPLEX_UNKNOWN };

	n->cb->get_link(n->drv, &l);
	cmd->base.speed = l.speed;
	cmd->base.duplex = l.duplex;
	cmd->base.port = PORT_OTHER;
	cmd->base.autoneg = AUTONEG_DISABLE;
	return 0;
}

/*
 * As the C driver's virtnet_set_link_ksettings: a valid speed and duplex
 * may be set (they are what is reported), nothing else: the port stays
 * PORT_OTHER, no autonegotiation, no link modes.
 */
static int rvirtio_net_set_link_ksettings(struct net_device *dev,
					  const struct ethtool_link_ksettings *cmd)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	struct ethtool_link_ksettings diff1 = *cmd;
	struct ethtool_link_ksettings diff2 = {};
	struct rvirtio_net_link l = { .speed = cmd->base.speed, .duplex = cmd->base.duplex };

	diff1.base.speed = 0;
	diff2.base.port = PORT_OTHER;
	ethtool_link_ksettings_zero_link_mode(&diff1, advertising);
	diff1.base.duplex = 0;
	diff1.base.cmd = 0;
	diff1.base.link_mode_masks_nwords = 0;
	if (!ethtool_validate_speed(l.speed) || !ethtool_validate_duplex(l.duplex) ||
	    memcmp(&diff1.base, &diff2.base, sizeof(diff1.base)) ||
	    !bitmap_empty(diff1.link_modes.supported, __ETHTOOL_LINK_MODE_MASK_NBITS) ||
	    !bitmap_empty(diff1.link_modes.lp_advertising, __ETHTOOL_LINK_MODE_MASK_NBITS))
		return -EINVAL;
	return n->cb->set_link(n->drv, &l);
}

static void rvirtio_net_get_ringparam(struct net_device *dev, struct ethtool_ringparam *ring,
				      struct kernel_ethtool_ringparam *kring,
				      struct netlink_ext_ack *extack)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	struct rvirtio_net_rings r = {};

	n->cb->get_rings(n->drv, &r);
	ring->rx_max_pending = r.rx_max;
	ring->rx_pending = r.rx;
	ring->tx_max_pending = r.tx_max;
	ring->tx_pending = r.tx;
}

static void rvirtio_net_get_channels(struct net_device *dev, struct ethtool_channels *ch)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	struct rvirtio_net_channels c = {};

	n->cb->get_channels(n->drv, &c);
	ch->max_combined = c.max_combined;
	ch->combined_count = c.combined;
}

static int rvirtio_net_set_channels(struct net_device *dev, struct ethtool_channels *ch)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	struct rvirtio_net_channels c = {};

	/* Combined channels only (queue pairs), as the C driver. */
	if (ch->rx_count || ch->tx_count || ch->other_count)
		return -EINVAL;
	n->cb->get_channels(n->drv, &c);
	if (!ch->combined_count || ch->combined_count > c.max_combined)
		return -EINVAL;
	return n->cb->set_channels(n->drv, n, ch->combined_count);
}

static int rvirtio_net_get_sset_count(struct net_device *dev, int sset)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	if (sset != ETH_SS_STATS)
		return -EOPNOTSUPP;
	return min_t(u32, n->cb->stats_count(n->drv), INT_MAX);
}

static void rvirtio_net_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);
	u32 i, count;

	if (sset != ETH_SS_STATS)
		return;
	count = n->cb->stats_count(n->drv);
	for (i = 0; i < count; i++) {
		memset(data, 0, ETH_GSTRING_LEN);
		n->cb->stats_name(n->drv, i, data);
		data[ETH_GSTRING_LEN - 1] = 0;
		data += ETH_GSTRING_LEN;
	}
}

static void rvirtio_net_get_ethtool_stats(struct net_device *dev, struct ethtool_stats *stats,
					  u64 *data)
{
	struct rvirtio_net *n = rvirtio_net_of(dev);

	n->cb->stats_values(n->drv, data, stats->n_stats);
}

static const struct ethtool_ops rvirtio_net_ethtool_ops = {
	.get_sset_count = rvirtio_net_get_sset_count,
	.get_strings = rvirtio_net_get_strings,
	.get_ethtool_stats = rvirtio_net_get_ethtool_stats,
	.get_drvinfo = rvirtio_net_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_link_ksettings = rvirtio_net_get_link_ksettings,
	.set_link_ksettings = rvirtio_net_set_link_ksettings,
	.get_ringparam = rvirtio_net_get_ringparam,
	.get_channels = rvirtio_net_get_channels,
	.set_channels = rvirtio_net_set_channels,
};

static int rvirtio_net_napi_poll(struct napi_struct *napi, int budget)
{
	struct rvirtio_napi *rn = container_of(napi, struct rvirtio_napi, napi);
	struct rvirtio_net *n = rn->n;

	return n->cb->poll(n->drv, n, rn, rn->index, rn->tx, budget);
}

/*
 * A net_device named eth%d with nr_pairs transmit and receive queues, a
 * NAPI context per queue, and the driver's callbacks; not registered.
 */
struct rvirtio_net *rvirtio_net_alloc(struct device *parent, u32 nr_pairs,
				      const struct rvirtio_net_cb *cb, void *drv,
				      const char *version);
struct rvirtio_net *rvirtio_net_alloc(struct device *parent, u32 nr_pairs,
				      const struct rvirtio_net_cb *cb, void *drv,
				      const char *version)
{
	struct net_device *dev;
	struct rvirtio_net *n;
	u32 i;

	if (!nr_pairs || nr_pairs > 0x8000)
		return NULL;
	dev = alloc_etherdev_mq(sizeof(*n), nr_pairs);
	if (!dev)
		return NULL;
	n = netdev_priv(dev);
	n->dev = dev;
	n->cb = cb;
	n->drv = drv;
	spin_lock_init(&n->lock);
	mutex_init(&n->napi_lock);
	INIT_WORK(&n->rx_mode_work, rvirtio_net_rx_mode_work);
	INIT_WORK(&n->announce_work, rvirtio_net_announce_work);
	strscpy(n->version, version, sizeof(n->version));
	n->nr_napi = 2 * nr_pairs;
	n->napi = kcalloc(n->nr_napi, sizeof(*n->napi), GFP_KERNEL);
	if (!n->napi) {
		free_netdev(dev);
		return NULL;
	}
	dev->netdev_ops = &rvirtio_net_ops;
	dev->ethtool_ops = &rvirtio_net_ethtool_ops;
	dev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	SET_NETDEV_DEV(dev, parent);
	for (i = 0; i < n->nr_napi; i++) {
		struct rvirtio_napi *rn = &n->napi[i];

		rn->n = n;
		rn->index = i / 2;
		rn->tx = i % 2;
		if (rn->tx)
			netif_napi_add_tx(dev, &rn->napi, rvirtio_net_napi_poll);
		else
			netif_napi_add(dev, &rn->napi, rvirtio_net_napi_poll);
	}
	netif_carrier_off(dev);
	return n;
}

static netdev_features_t rvirtio_netif_features(u32 f)
{
	netdev_features_t r = 0;

	if (f & RVIRTIO_NETIF_SG)
		r |= NETIF_F_SG;
	if (f & RVIRTIO_NETIF_HW_CSUM)
		r |= NETIF_F_HW_CSUM;
	if (f & RVIRTIO_NETIF_TSO)
		r |= NETIF_F_TSO;
	if (f & RVIRTIO_NETIF_TSO6)
		r |= NETIF_F_TSO6;
	if (f & RVIRTIO_NETIF_TSO_ECN)
		r |= NETIF_F_TSO_ECN;
	if (f & RVIRTIO_NETIF_RXCSUM)
		r |= NETIF_F_RXCSUM;
	if (f & RVIRTIO_NETIF_GRO_HW)
		r |= NETIF_F_GRO_HW;
	if (f & RVIRTIO_NETIF_VLAN_FILTER)
		r |= NETIF_F_HW_VLAN_CTAG_FILTER;
	if (f & RVIRTIO_NETIF_GSO_UDP_L4)
		r |= NETIF_F_GSO_UDP_L4;
	return r;
}

static u32 rvirtio_netif_bits(netdev_features_t f)
{
	u32 r = 0;

	if (f & NETIF_F_SG)
		r |= RVIRTIO_NETIF_SG;
	if (f & NETIF_F_HW_CSUM)
		r |= RVIRTIO_NETIF_HW_CSUM;
	if (f & NETIF_F_TSO)
		r |= RVIRTIO_NETIF_TSO;
	if (f & NETIF_F_TSO6)
		r |= RVIRTIO_NETIF_TSO6;
	if (f & NETIF_F_TSO_ECN)
		r |= RVIRTIO_NETIF_TSO_ECN;
	if (f & NETIF_F_RXCSUM)
		r |= RVIRTIO_NETIF_RXCSUM;
	if (f & NETIF_F_GRO_HW)
		r |= RVIRTIO_NETIF_GRO_HW;
	if (f & NETIF_F_HW_VLAN_CTAG_FILTER)
		r |= RVIRTIO_NETIF_VLAN_FILTER;
	if (f & NETIF_F_GSO_UDP_L4)
		r |= RVIRTIO_NETIF_GSO_UDP_L4;
	return r;
}

/* Before registration: offloads, MTU range and MTU, queue counts. */
void rvirtio_net_configure(struct rvirtio_net *n, u32 hw_features, u32 features, u32 min_mtu,
			   u32 max_mtu, u32 mtu);
void rvirtio_net_configure(struct rvirtio_net *n, u32 hw_features, u32 features, u32 min_mtu,
			   u32 max_mtu, u32 mtu)
{
	struct net_device *dev = n->dev;

	dev->hw_features = rvirtio_netif_features(hw_features);
	dev->features = rvirtio_netif_features(features) | NETIF_F_HIGHDMA;
	dev->vlan_features = dev->features & ~NETIF_F_HW_VLAN_CTAG_FILTER;
	dev->min_mtu = min_mtu;
	dev->max_mtu = max_mtu;
	dev->mtu = mtu;
}

void rvirtio_net_set_mac(struct rvirtio_net *n, const u8 *mac);
void rvirtio_net_set_mac(struct rvirtio_net *n, const u8 *mac)
{
	eth_hw_addr_set(n->dev, mac);
}

void rvirtio_net_random_mac(struct rvirtio_net *n);
void rvirtio_net_random_mac(struct rvirtio_net *n)
{
	eth_hw_addr_random(n->dev);
}

void rvirtio_net_mac(struct rvirtio_net *n, u8 *mac);
void rvirtio_net_mac(struct rvirtio_net *n, u8 *mac)
{
	memcpy(mac, n->dev->dev_addr, ETH_ALEN);
}

/*
 * The used number of queue pairs (netif_set_real_num_queues): before
 * registration, or under RTNL (rtnl: the caller holds it).
 */
int rvirtio_net_set_real_num_queues(struct rvirtio_net *n, u32 pairs, bool rtnl);
int rvirtio_net_set_real_num_queues(struct rvirtio_net *n, u32 pairs, bool rtnl)
{
	if (!pairs || 2 * pairs > n->nr_napi)
		return -EINVAL;
	if (!rtnl && rvirtio_net_registered(n))
		return -EBUSY;
	if (rtnl)
		ASSERT_RTNL();
	return netif_set_real_num_queues(n->dev, pairs, pairs);
}

/* Online CPUs (num_online_cpus). */
u32 rvirtio_net_online_cpus(void);
u32 rvirtio_net_online_cpus(void)
{
	return num_online_cpus();
}

/*
 * Places queue pair q on the online CPUs of rank first .. first + count - 1
 * (wrapping), as the C driver's virtnet_set_affinity: its nr_irqs
 * interrupts (Linux numbers) are steered there and XPS sends from those
 * CPUs on transmit queue q. Returns the first error.
 */
int rvirtio_net_set_pair_affinity(struct rvirtio_net *n, u32 q, u32 first, u32 count,
				  const u32 *irqs, u32 nr_irqs);
int rvirtio_net_set_pair_affinity(struct rvirtio_net *n, u32 q, u32 first, u32 count,
				  const u32 *irqs, u32 nr_irqs)
{
	cpumask_var_t mask;
	int cpu, rank = 0, err = 0, e;
	u32 i, online;

	if (q >= n->dev->num_tx_queues || !count)
		return -EINVAL;
	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return -ENOMEM;
	cpus_read_lock();
	online = num_online_cpus();
	for_each_online_cpu(cpu) {
		/* Rank rank is in the group when (rank - first) mod online < count. */
		if (((u32)rank + online - first % online) % online < count)
			cpumask_set_cpu(cpu, mask);
		rank++;
	}
	for (i = 0; i < nr_irqs; i++) {
		e = irq_set_affinity(irqs[i], mask);
		if (e && !err)
			err = e;
	}
	cpus_read_unlock();
	e = netif_set_xps_queue(n->dev, mask, q);
	if (e && !err)
		err = e;
	free_cpumask_var(mask);
	return err;
}

int rvirtio_net_register(struct rvirtio_net *n);
int rvirtio_net_register(struct rvirtio_net *n)
{
	unsigned long flags;
	int err;

	err = register_netdev(n->dev);
	if (err)
		return err;
	spin_lock_irqsave(&n->lock, flags);
	n->live = true;
	n->registered = true;
	spin_unlock_irqrestore(&n->lock, flags);
	return 0;
}

/*
 * Unregisters (once): carrier changes stop first, then the device is
 * closed (NAPI disabled) and every callback has returned.
 */
void rvirtio_net_unregister(struct rvirtio_net *n);
void rvirtio_net_unregister(struct rvirtio_net *n)
{
	unsigned long flags;
	bool registered;

	spin_lock_irqsave(&n->lock, flags);
	n->live = false;
	registered = n->registered;
	n->registered = false;
	spin_unlock_irqrestore(&n->lock, flags);
	if (registered) {
		unregister_netdev(n->dev);
		/* Not scheduled again: live is false. */
		cancel_work_sync(&n->rx_mode_work);
		cancel_work_sync(&n->announce_work);
	}
}

/* Under RTNL: RVIRTIO_NET_RX_PROMISC and RVIRTIO_NET_RX_ALLMULTI. */
u32 rvirtio_net_rx_flags(struct rvirtio_net *n);
u32 rvirtio_net_rx_flags(struct rvirtio_net *n)
{
	u32 r = 0;

	if (n->dev->flags & IFF_PROMISC)
		r |= RVIRTIO_NET_RX_PROMISC;
	if (n->dev->flags & IFF_ALLMULTI)
		r |= RVIRTIO_NET_RX_ALLMULTI;
	return r;
}

/*
 * Copies at most uc_max unicast and mc_max multicast addresses (ETH_ALEN
 * bytes each) under the address list lock; *uc_n and *mc_n get the full
 * counts, which may be larger.
 */
void rvirtio_net_addr_lists(struct rvirtio_net *n, u8 *uc, u32 uc_max, u32 *uc_n, u8 *mc,
			    u32 mc_max, u32 *mc_n);
void rvirtio_net_addr_lists(struct rvirtio_net *n, u8 *uc, u32 uc_max, u32 *uc_n, u8 *mc,
			    u32 mc_max, u32 *mc_n)
{
	struct netdev_hw_addr *ha;
	u32 i;

	netif_addr_lock_bh(n->dev);
	*uc_n = netdev_uc_count(n->dev);
	*mc_n = netdev_mc_count(n->dev);
	i = 0;
	netdev_for_each_uc_addr(ha, n->dev) {
		if (i >= uc_max)
			break;
		memcpy(uc + i * ETH_ALEN, ha->addr, ETH_ALEN);
		i++;
	}
	i = 0;
	netdev_for_each_mc_addr(ha, n->dev) {
		if (i >= mc_max)
			break;
		memcpy(mc + i * ETH_ALEN, ha->addr, ETH_ALEN);
		i++;
	}
	netif_addr_unlock_bh(n->dev);
}

void rvirtio_napi_disable(struct rvirtio_napi *rn);

/*
 * After rvirtio_net_unregister: disables the NAPI contexts the driver left
 * enabled, so no poll runs once this returns (before the driver's data
 * goes).
 */
void rvirtio_net_quiesce(struct rvirtio_net *n);
void rvirtio_net_quiesce(struct rvirtio_net *n)
{
	u32 i;

	for (i = 0; i < n->nr_napi; i++)
		rvirtio_napi_disable(&n->napi[i]);
}

/* After rvirtio_net_quiesce: frees it all. */
void rvirtio_net_free(struct rvirtio_net *n);
void rvirtio_net_free(struct rvirtio_net *n)
{
	u32 i;

	for (i = 0; i < n->nr_napi; i++)
		netif_napi_del(&n->napi[i].napi);
	kfree(n->napi);
	mutex_destroy(&n->napi_lock);
	free_netdev(n->dev);
}

/* Carrier from any context; ignored unless registered. */
void rvirtio_net_set_carrier(struct rvirtio_net *n, bool on);
void rvirtio_net_set_carrier(struct rvirtio_net *n, bool on)
{
	unsigned long flags;

	spin_lock_irqsave(&n->lock, flags);
	if (n->live) {
		if (on)
			netif_carrier_on(n->dev);
		else
			netif_carrier_off(n->dev);
	}
	spin_unlock_irqrestore(&n->lock, flags);
}

bool rvirtio_net_carrier_ok(struct rvirtio_net *n);
bool rvirtio_net_carrier_ok(struct rvirtio_net *n)
{
	return netif_carrier_ok(n->dev);
}

u32 rvirtio_net_mtu(struct rvirtio_net *n);
u32 rvirtio_net_mtu(struct rvirtio_net *n)
{
	return READ_ONCE(n->dev->mtu);
}

/* NAPI context i (receive queue i/2 or transmit queue i/2), or NULL. */
struct rvirtio_napi *rvirtio_net_napi(struct rvirtio_net *n, u32 i);
struct rvirtio_napi *rvirtio_net_napi(struct rvirtio_net *n, u32 i)
{
	return i < n->nr_napi ? &n->napi[i] : NULL;
}

/* Enables rn unless it is enabled (napi_enable twice is a BUG). Sleeps. */
void rvirtio_napi_enable(struct rvirtio_napi *rn);
void rvirtio_napi_enable(struct rvirtio_napi *rn)
{
	might_sleep();
	mutex_lock(&rn->n->napi_lock);
	if (!rn->enabled) {
		napi_enable(&rn->napi);
		rn->enabled = true;
	}
	mutex_unlock(&rn->n->napi_lock);
}

/* Disables rn if it is enabled, waiting for its poll. Sleeps. */
void rvirtio_napi_disable(struct rvirtio_napi *rn)
{
	might_sleep();
	mutex_lock(&rn->n->napi_lock);
	if (rn->enabled) {
		napi_disable(&rn->napi);
		rn->enabled = false;
	}
	mutex_unlock(&rn->n->napi_lock);
}

/* Claims rn for a poll: false when scheduled already, or disabled. */
bool rvirtio_napi_schedule_prep(struct rvirtio_napi *rn);
bool rvirtio_napi_schedule_prep(struct rvirtio_napi *rn)
{
	return napi_schedule_prep(&rn->napi);
}

/* Schedules the poll claimed by rvirtio_napi_schedule_prep (only then). */
void rvirtio_napi_schedule(struct rvirtio_napi *rn);
void rvirtio_napi_schedule(struct rvirtio_napi *rn)
{
	__napi_schedule(&rn->napi);
}

bool rvirtio_napi_complete_done(struct rvirtio_napi *rn, int work);
bool rvirtio_napi_complete_done(struct rvirtio_napi *rn, int work)
{
	return napi_complete_done(&rn->napi, work);
}

/* Receive: the Ethernet type, then GRO. Consumes skb. */
void rvirtio_napi_gro_receive(struct rvirtio_napi *rn, struct sk_buff *skb);
void rvirtio_napi_gro_receive(struct rvirtio_napi *rn, struct sk_buff *skb)
{
	skb->protocol = eth_type_trans(skb, rn->n->dev);
	napi_gro_receive(&rn->napi, skb);
}

/* An skb with len bytes of linear room, for this NAPI context. */
struct sk_buff *rvirtio_napi_alloc_skb(struct rvirtio_napi *rn, u32 len);
struct sk_buff *rvirtio_napi_alloc_skb(struct rvirtio_napi *rn, u32 len)
{
	return napi_alloc_skb(&rn->napi, len);
}

/* Transmit completion in NAPI (budget 0: from netpoll). */
void rvirtio_napi_consume_skb(struct sk_buff *skb, int budget);
void rvirtio_napi_consume_skb(struct sk_buff *skb, int budget)
{
	napi_consume_skb(skb, budget);
}

/* TX queue state and byte queue limits of transmit queue q. */
static struct netdev_queue *rvirtio_txq(struct rvirtio_net *n, u32 q)
{
	return netdev_get_tx_queue(n->dev, q);
}

bool rvirtio_net_txq_valid(struct rvirtio_net *n, u32 q);
bool rvirtio_net_txq_valid(struct rvirtio_net *n, u32 q)
{
	return q < n->dev->num_tx_queues;
}

/* Stops q; a full barrier after, so a following check of the ring sees
 * completions that ran before a waker saw the queue running. */
void rvirtio_net_txq_stop(struct rvirtio_net *n, u32 q);
void rvirtio_net_txq_stop(struct rvirtio_net *n, u32 q)
{
	netif_tx_stop_queue(rvirtio_txq(n, q));
	smp_mb__after_atomic();
}

void rvirtio_net_txq_wake(struct rvirtio_net *n, u32 q);
void rvirtio_net_txq_wake(struct rvirtio_net *n, u32 q)
{
	netif_tx_wake_queue(rvirtio_txq(n, q));
}

void rvirtio_net_txq_start(struct rvirtio_net *n, u32 q);
void rvirtio_net_txq_start(struct rvirtio_net *n, u32 q)
{
	netif_tx_start_queue(rvirtio_txq(n, q));
}

/* Whether this CPU holds q's transmit lock (the stack around start_xmit, or
 * rvirtio_net_txq_lock). */
static bool rvirtio_txq_owned(struct netdev_queue *txq)
{
	/* The owner cannot be this CPU unless it is us: a holder does not
	 * migrate (spinlock, bottom halves off). */
	return READ_ONCE(txq->xmit_lock_owner) == raw_smp_processor_id();
}

/*
 * The queue's transmit lock (as the stack holds it around start_xmit).
 * false, and a warning, when this CPU holds it already: taking it again
 * would deadlock.
 */
bool rvirtio_net_txq_lock(struct rvirtio_net *n, u32 q);
bool rvirtio_net_txq_lock(struct rvirtio_net *n, u32 q)
{
	struct netdev_queue *txq = rvirtio_txq(n, q);

	local_bh_disable();
	if (rvirtio_txq_owned(txq)) {
		local_bh_enable();
		net_warn_ratelimited("%s: transmit queue %u locked twice\n", n->dev->name, q);
		return false;
	}
	__netif_tx_lock(txq, smp_processor_id());
	return true;
}

void rvirtio_net_txq_unlock(struct rvirtio_net *n, u32 q);
void rvirtio_net_txq_unlock(struct rvirtio_net *n, u32 q)
{
	__netif_tx_unlock_bh(rvirtio_txq(n, q));
}

bool rvirtio_net_txq_stopped(struct rvirtio_net *n, u32 q);
bool rvirtio_net_txq_stopped(struct rvirtio_net *n, u32 q)
{
	return netif_tx_queue_stopped(rvirtio_txq(n, q));
}

/*
 * BQL. Both under q's transmit lock (checked: refused otherwise), so they
 * are serialised; completed reports at most the bytes in flight
 * (dql_completed BUGs on more), clamping and warning once.
 */
bool rvirtio_net_txq_sent(struct rvirtio_net *n, u32 q, u32 bytes);
bool rvirtio_net_txq_sent(struct rvirtio_net *n, u32 q, u32 bytes)
{
	struct netdev_queue *txq = rvirtio_txq(n, q);

	if (!rvirtio_txq_owned(txq)) {
		WARN_ONCE(1, "%s: BQL sent without the transmit lock of queue %u\n",
			  n->dev->name, q);
		return false;
	}
	netdev_tx_sent_queue(txq, bytes);
	return true;
}

/* Returns the bytes reported (bytes, or the clamped count). */
u32 rvirtio_net_txq_completed(struct rvirtio_net *n, u32 q, u32 pkts, u32 bytes);
u32 rvirtio_net_txq_completed(struct rvirtio_net *n, u32 q, u32 pkts, u32 bytes)
{
	struct netdev_queue *txq = rvirtio_txq(n, q);

	if (!rvirtio_txq_owned(txq)) {
		WARN_ONCE(1, "%s: BQL completed without the transmit lock of queue %u\n",
			  n->dev->name, q);
		return 0;
	}
#ifdef CONFIG_BQL
	u32 in_flight = READ_ONCE(txq->dql.num_queued) - txq->dql.num_completed;
	if (bytes > in_flight) {
		WARN_ONCE(1, "%s: BQL: queue %u completed %u bytes, %u in flight\n",
			  n->dev->name, q, bytes, in_flight);
		bytes = in_flight;
	}
#endif
	netdev_tx_completed_queue(txq, pkts, bytes);
	return bytes;
}

/* Microseconds since q last started a transmission (for tx_timeout). */
u32 rvirtio_net_txq_stalled_us(struct rvirtio_net *n, u32 q);
u32 rvirtio_net_txq_stalled_us(struct rvirtio_net *n, u32 q)
{
	return jiffies_to_usecs(jiffies - READ_ONCE(rvirtio_txq(n, q)->trans_start));
}

/* sk_buff accessors. */
void rvirtio_skb_tx_info(struct sk_buff *skb, struct rvirtio_skb_tx *t);
void rvirtio_skb_tx_info(struct sk_buff *skb, struct rvirtio_skb_tx *t)
{
	struct skb_shared_info *sh = skb_shinfo(skb);

	memset(t, 0, sizeof(*t));
	t->len = skb->len;
	t->headlen = skb_headlen(skb);
	t->nr_frags = sh->nr_frags;
	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		t->csum_partial = 1;
		t->csum_start = skb_checksum_start_offset(skb);
		t->csum_offset = skb->csum_offset;
	}
	if (skb_is_gso(skb)) {
		unsigned int g = sh->gso_type;

		t->gso_size = sh->gso_size;
		if (g & SKB_GSO_TCPV4)
			t->gso |= RVIRTIO_GSO_TCPV4;
		if (g & SKB_GSO_TCPV6)
			t->gso |= RVIRTIO_GSO_TCPV6;
		if (g & SKB_GSO_UDP)
			t->gso |= RVIRTIO_GSO_UDP;
		if (g & SKB_GSO_UDP_L4)
			t->gso |= RVIRTIO_GSO_UDP_L4;
		if (g & SKB_GSO_TCP_ECN)
			t->gso |= RVIRTIO_GSO_ECN;
		if (g & ~(SKB_GSO_TCPV4 | SKB_GSO_TCPV6 | SKB_GSO_UDP | SKB_GSO_UDP_L4 |
			  SKB_GSO_TCP_ECN | SKB_GSO_DODGY))
			t->gso |= RVIRTIO_GSO_OTHER;
	}
}

/* The linear data (headlen bytes). */
void *rvirtio_skb_data(struct sk_buff *skb);
void *rvirtio_skb_data(struct sk_buff *skb)
{
	return skb->data;
}

/* Fragment i: its address in the linear map and its length, or -EINVAL. */
int rvirtio_skb_frag(struct sk_buff *skb, u32 i, void **addr, u32 *len);
int rvirtio_skb_frag(struct sk_buff *skb, u32 i, void **addr, u32 *len)
{
	const skb_frag_t *f;

	if (i >= skb_shinfo(skb)->nr_frags)
		return -EINVAL;
	f = &skb_shinfo(skb)->frags[i];
	/* Unreadable (device memory) fragments have no address. */
	*addr = skb_frag_address_safe(f);
	*len = skb_frag_size(f);
	return *addr ? 0 : -EINVAL;
}

/* The control buffer (the driver's while it owns the skb). */
/*
 * Where a virtio-net header of len bytes can go right before the linear
 * data, as C's can_push: the header not shared with a clone, the
 * headroom, the data aligned for the header's 16-bit fields; NULL
 * otherwise. The skb's data pointer is not moved.
 */
u8 *rvirtio_skb_hdr_room(struct sk_buff *skb, u32 len);
u8 *rvirtio_skb_hdr_room(struct sk_buff *skb, u32 len)
{
	if (skb_header_cloned(skb) || skb_headroom(skb) < len ||
	    !IS_ALIGNED((unsigned long)skb->data, sizeof(__virtio16)))
		return NULL;
	return skb->data - len;
}

u8 *rvirtio_skb_cb(struct sk_buff *skb);
u8 *rvirtio_skb_cb(struct sk_buff *skb)
{
	return (u8 *)skb->cb;
}

/* Appends len bytes to the linear part; -ENOSPC without the room. */
int rvirtio_skb_put_data(struct sk_buff *skb, const void *data, u32 len);
int rvirtio_skb_put_data(struct sk_buff *skb, const void *data, u32 len)
{
	if (skb_tailroom(skb) < len)
		return -ENOSPC;
	skb_put_data(skb, data, len);
	return 0;
}

/*
 * Appends len bytes at addr (in a page fragment whose reference the skb
 * takes) to the packet head, through *curr: once the current skb has
 * MAX_SKB_FRAGS fragments, a new one is chained (head's frag_list, then
 * ->next), as the C driver's receive_mergeable does. -ENOMEM when no skb
 * can be allocated (the fragment is not taken).
 */
int rvirtio_skb_add_frag(struct sk_buff *head, struct sk_buff **curr, void *addr, u32 len,
			 u32 truesize);
int rvirtio_skb_add_frag(struct sk_buff *head, struct sk_buff **curr, void *addr, u32 len,
			 u32 truesize)
{
	struct page *page = virt_to_head_page(addr);
	u32 offset = addr - page_address(page);
	struct sk_buff *c = *curr;
	int nr = skb_shinfo(c)->nr_frags;

	if (nr == MAX_SKB_FRAGS) {
		struct sk_buff *nskb = alloc_skb(0, GFP_ATOMIC);

		if (!nskb)
			return -ENOMEM;
		if (c == head)
			skb_shinfo(c)->frag_list = nskb;
		else
			c->next = nskb;
		head->truesize += nskb->truesize;
		c = nskb;
		*curr = c;
		nr = 0;
	}
	if (c != head) {
		head->data_len += len;
		head->len += len;
		head->truesize += truesize;
	}
	skb_add_rx_frag(c, nr, page, offset, len, truesize);
	return 0;
}

u32 rvirtio_skb_len(struct sk_buff *skb);
u32 rvirtio_skb_len(struct sk_buff *skb)
{
	return skb->len;
}

/* A partial checksum from start (from the frame start) at offset; false
 * when it lies outside the packet. */
bool rvirtio_skb_set_csum_partial(struct sk_buff *skb, u16 start, u16 offset);
bool rvirtio_skb_set_csum_partial(struct sk_buff *skb, u16 start, u16 offset)
{
	return skb_partial_csum_set(skb, start, offset);
}

void rvirtio_skb_set_csum_unnecessary(struct sk_buff *skb);
void rvirtio_skb_set_csum_unnecessary(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

/*
 * GSO metadata from a device: the type (RVIRTIO_GSO_*), the segment size;
 * marked SKB_GSO_DODGY (untrusted: the stack recounts the segments).
 * -EINVAL for an unknown type, or without a partial checksum set before.
 */
int rvirtio_skb_set_gso(struct sk_buff *skb, u32 gso, u16 size);
int rvirtio_skb_set_gso(struct sk_buff *skb, u32 gso, u16 size)
{
	struct skb_shared_info *sh = skb_shinfo(skb);
	unsigned int type;

	if (skb->ip_summed != CHECKSUM_PARTIAL || !size)
		return -EINVAL;
	switch (gso & ~RVIRTIO_GSO_ECN) {
	case RVIRTIO_GSO_TCPV4:
		type = SKB_GSO_TCPV4;
		break;
	case RVIRTIO_GSO_TCPV6:
		type = SKB_GSO_TCPV6;
		break;
	case RVIRTIO_GSO_UDP:
		type = SKB_GSO_UDP;
		break;
	case RVIRTIO_GSO_UDP_L4:
		type = SKB_GSO_UDP_L4;
		break;
	default:
		return -EINVAL;
	}
	if (gso & RVIRTIO_GSO_ECN)
		type |= SKB_GSO_TCP_ECN;
	sh->gso_size = size;
	sh->gso_type = type | SKB_GSO_DODGY;
	sh->gso_segs = 0;
	return 0;
}

/* Drops skb with a reason (SKB_DROP_REASON_*: see kext::net::DropReason). */
void rvirtio_skb_drop(struct sk_buff *skb, u32 reason);
void rvirtio_skb_drop(struct sk_buff *skb, u32 reason)
{
	dev_kfree_skb_any_reason(skb, reason);
}

/* A page fragment of len bytes (aligned to the cache line) for receive. */
void *rvirtio_net_alloc_frag(u32 len);
void *rvirtio_net_alloc_frag(u32 len)
{
	return netdev_alloc_frag_align(SKB_DATA_ALIGN(len), SMP_CACHE_BYTES);
}

void rvirtio_net_free_frag(void *addr);
void rvirtio_net_free_frag(void *addr)
{
	skb_free_frag(addr);
}

u32 rvirtio_net_frag_size(u32 len);
u32 rvirtio_net_frag_size(u32 len)
{
	return SKB_DATA_ALIGN(len);
}

/*
 * The structures and values mirrored in Rust (kext::net::abi), in the
 * order of Rust's CField: sizes, offsets of every field, values.
 */
#define RVIRTIO_NET_C_FIELDS(X)                                                 \
	X(sizeof(struct rvirtio_net_stats))                                     \
	X(offsetof(struct rvirtio_net_stats, rx_packets))                       \
	X(offsetof(struct rvirtio_net_stats, rx_bytes))                         \
	X(offsetof(struct rvirtio_net_stats, rx_dropped))                       \
	X(offsetof(struct rvirtio_net_stats, rx_errors))                        \
	X(offsetof(struct rvirtio_net_stats, rx_length_errors))                 \
	X(offsetof(struct rvirtio_net_stats, tx_packets))                       \
	X(offsetof(struct rvirtio_net_stats, tx_bytes))                         \
	X(offsetof(struct rvirtio_net_stats, tx_dropped))                       \
	X(offsetof(struct rvirtio_net_stats, tx_errors))                        \
	X(sizeof(struct rvirtio_net_link))                                      \
	X(offsetof(struct rvirtio_net_link, speed))                             \
	X(offsetof(struct rvirtio_net_link, duplex))                            \
	X(sizeof(struct rvirtio_net_rings))                                     \
	X(offsetof(struct rvirtio_net_rings, rx_max))                           \
	X(offsetof(struct rvirtio_net_rings, rx))                               \
	X(offsetof(struct rvirtio_net_rings, tx_max))                           \
	X(offsetof(struct rvirtio_net_rings, tx))                               \
	X(sizeof(struct rvirtio_net_channels))                                  \
	X(offsetof(struct rvirtio_net_channels, max_combined))                  \
	X(offsetof(struct rvirtio_net_channels, combined))                      \
	X(sizeof(struct rvirtio_skb_tx))                                        \
	X(offsetof(struct rvirtio_skb_tx, len))                                 \
	X(offsetof(struct rvirtio_skb_tx, headlen))                             \
	X(offsetof(struct rvirtio_skb_tx, nr_frags))                            \
	X(offsetof(struct rvirtio_skb_tx, csum_partial))                        \
	X(offsetof(struct rvirtio_skb_tx, csum_start))                          \
	X(offsetof(struct rvirtio_skb_tx, csum_offset))                         \
	X(offsetof(struct rvirtio_skb_tx, gso))                                 \
	X(offsetof(struct rvirtio_skb_tx, gso_size))                            \
	X(sizeof(struct rvirtio_net_cb))                                        \
	X(offsetof(struct rvirtio_net_cb, open))                                \
	X(offsetof(struct rvirtio_net_cb, stop))                                \
	X(offsetof(struct rvirtio_net_cb, start_xmit))                          \
	X(offsetof(struct rvirtio_net_cb, set_rx_mode))                         \
	X(offsetof(struct rvirtio_net_cb, set_mac_address))                     \
	X(offsetof(struct rvirtio_net_cb, change_mtu))                          \
	X(offsetof(struct rvirtio_net_cb, get_stats64))                         \
	X(offsetof(struct rvirtio_net_cb, vlan_rx_add_vid))                     \
	X(offsetof(struct rvirtio_net_cb, vlan_rx_kill_vid))                    \
	X(offsetof(struct rvirtio_net_cb, tx_timeout))                          \
	X(offsetof(struct rvirtio_net_cb, poll))                                \
	X(offsetof(struct rvirtio_net_cb, get_link))                            \
	X(offsetof(struct rvirtio_net_cb, get_rings))                           \
	X(offsetof(struct rvirtio_net_cb, get_channels))                        \
	X(offsetof(struct rvirtio_net_cb, stats_count))                         \
	X(offsetof(struct rvirtio_net_cb, stats_name))                          \
	X(offsetof(struct rvirtio_net_cb, stats_values))                        \
	X(offsetof(struct rvirtio_net_cb, set_features))                        \
	X(offsetof(struct rvirtio_net_cb, announce))                            \
	X(offsetof(struct rvirtio_net_cb, set_channels))                        \
	X(offsetof(struct rvirtio_net_cb, set_link))                            \
	X(sizeof_field(struct sk_buff, cb))                                     \
	X(MAX_SKB_FRAGS)                                                        \
	X(SKB_DROP_REASON_NOT_SPECIFIED)                                        \
	X(SKB_DROP_REASON_NOMEM)                                                \
	X(SKB_DROP_REASON_PKT_TOO_SMALL)                                        \
	X(SKB_DROP_REASON_DEV_HDR)                                              \
	X(DUPLEX_HALF)                                                          \
	X(DUPLEX_FULL)                                                          \
	X(DUPLEX_UNKNOWN)                                                       \
	X(ETH_GSTRING_LEN)                                                       \
	X(RVIRTIO_NET_RX_PROMISC)                                               \
	X(RVIRTIO_NET_RX_ALLMULTI)                                              \
	X(RVIRTIO_NETIF_RXCSUM)                                                 \
	X(RVIRTIO_NETIF_GRO_HW)                                                 \
	X(RVIRTIO_NETIF_VLAN_FILTER)                                            \
	X(RVIRTIO_NETIF_GSO_UDP_L4)

#define RVIRTIO_NET_C_VALUE(v) (long)(v),

/* The size, offset or value number id of the list above, or -1. */
long rvirtio_net_c_layout(u32 id);
long rvirtio_net_c_layout(u32 id)
{
	static const long values[] = { RVIRTIO_NET_C_FIELDS(RVIRTIO_NET_C_VALUE) };

	return id < ARRAY_SIZE(values) ? values[id] : -1;
}
#undef RVIRTIO_NET_C_VALUE
#undef RVIRTIO_NET_C_FIELDS
