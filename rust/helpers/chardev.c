// SPDX-License-Identifier: GPL-2.0
/*
 * rvirtio character device shim: a character device node in a device class
 * of the module's (RVIRTIO_CHARDEV_CLASS, e.g. "virtio-ports"), with a
 * "name" attribute, whose file operations are Rust callbacks. The
 * including helpers.c defines RVIRTIO_CHARDEV_CLASS before including this
 * file. The Rust side is rust/kext/chardev.rs, which checks the callback
 * table's layout with rvirtio_chardev_c_layout().
 *
 * Lifetimes:
 * - The class and the character device region are registered when the
 *   first device is added and unregistered when the last one is released
 *   (not merely removed: an open file keeps its device), so they outlive
 *   every device of theirs. The module has no init hook of its own here.
 * - struct rvirtio_chardev embeds the struct device and the struct cdev;
 *   the cdev holds a reference on the device while a file is open
 *   (cdev_device_add() makes the device the cdev's parent), and the
 *   device's release frees the struct.
 * - open() asks the Rust side, under c->lock, for a per-file pointer (its
 *   own reference on the Rust object); rvirtio_chardev_remove() clears
 *   c->priv under the same lock, so no open reaches the registration's
 *   pointer after it returns. A file keeps the per-file pointer until
 *   release(): the Rust object outlives every open file, and the module
 *   (cdev.owner) cannot be unloaded while one is open.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kdev_t.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#ifndef RVIRTIO_CHARDEV_CLASS
#error "define RVIRTIO_CHARDEV_CLASS (the device class name) before including chardev.c"
#endif

/* Bump on any change of the functions or structures below (kext::chardev::SHIM_ABI). */
#define RVIRTIO_CHARDEV_SHIM_ABI 1

/* Minors of the module's region: one per device node. */
#define RVIRTIO_CHARDEV_MINORS 4096

unsigned int rvirtio_chardev_abi(void);
unsigned int rvirtio_chardev_abi(void)
{
	return RVIRTIO_CHARDEV_SHIM_ABI;
}

struct rvirtio_chardev_cb {
	/* Returns 0 and the file's own pointer in *file, or -errno. Sleeps. */
	int (*open)(void *priv, void **file);
	/* The file's last reference is gone: drop the file's pointer. */
	void (*release)(void *file);
	ssize_t (*read)(void *file, char __user *buf, size_t len, bool nonblock);
	ssize_t (*write)(void *file, const char __user *buf, size_t len, bool nonblock);
	__poll_t (*poll)(void *file, struct file *filp, poll_table *wait);
	int (*fasync)(void *file, int fd, struct file *filp, int on);
};

struct rvirtio_chardev {
	struct device dev;
	struct cdev cdev;
	struct mutex lock; /* priv, name */
	void *priv;	   /* NULL once removed */
	const struct rvirtio_chardev_cb *cb;
	char *name;
};

/* What an open file points to. */
struct rvirtio_chardev_file {
	const struct rvirtio_chardev_cb *cb;
	void *file;
};

static DEFINE_MUTEX(rvirtio_chardev_mutex); /* users, region, class */
static unsigned int rvirtio_chardev_users;
static dev_t rvirtio_chardev_base;
static DEFINE_IDA(rvirtio_chardev_minors);

static ssize_t name_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct rvirtio_chardev *c = container_of(dev, struct rvirtio_chardev, dev);
	ssize_t r;

	mutex_lock(&c->lock);
	r = sysfs_emit(buf, "%s\n", c->name ? c->name : "");
	mutex_unlock(&c->lock);
	return r;
}
static DEVICE_ATTR_RO(name);

static struct attribute *rvirtio_chardev_attrs[] = {
	&dev_attr_name.attr,
	NULL,
};
ATTRIBUTE_GROUPS(rvirtio_chardev);

static const struct class rvirtio_chardev_class = {
	.name = RVIRTIO_CHARDEV_CLASS,
	.dev_groups = rvirtio_chardev_groups,
};

static int rvirtio_chardev_get(void)
{
	int err = 0;

	mutex_lock(&rvirtio_chardev_mutex);
	if (rvirtio_chardev_users == 0) {
		err = alloc_chrdev_region(&rvirtio_chardev_base, 0, RVIRTIO_CHARDEV_MINORS,
					  RVIRTIO_CHARDEV_CLASS);
		if (!err) {
			err = class_register(&rvirtio_chardev_class);
			if (err)
				unregister_chrdev_region(rvirtio_chardev_base,
							 RVIRTIO_CHARDEV_MINORS);
		}
	}
	if (!err)
		rvirtio_chardev_users++;
	mutex_unlock(&rvirtio_chardev_mutex);
	return err;
}

static void rvirtio_chardev_put(void)
{
	mutex_lock(&rvirtio_chardev_mutex);
	if (--rvirtio_chardev_users == 0) {
		class_unregister(&rvirtio_chardev_class);
		unregister_chrdev_region(rvirtio_chardev_base, RVIRTIO_CHARDEV_MINORS);
	}
	mutex_unlock(&rvirtio_chardev_mutex);
}

static int rvirtio_chardev_open(struct inode *inode, struct file *filp)
{
	struct rvirtio_chardev *c = container_of(inode->i_cdev, struct rvirtio_chardev, cdev);
	struct rvirtio_chardev_file *f;
	int err;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->cb = c->cb;
	mutex_lock(&c->lock);
	err = c->priv ? c->cb->open(c->priv, &f->file) : -ENXIO;
	mutex_unlock(&c->lock);
	if (err) {
		kfree(f);
		return err;
	}
	filp->private_data = f;
	return stream_open(inode, filp);
}

static int rvirtio_chardev_release(struct inode *inode, struct file *filp)
{
	struct rvirtio_chardev_file *f = filp->private_data;

	f->cb->release(f->file);
	kfree(f);
	return 0;
}

static ssize_t rvirtio_chardev_read(struct file *filp, char __user *buf, size_t len, loff_t *pos)
{
	struct rvirtio_chardev_file *f = filp->private_data;

	return f->cb->read(f->file, buf, len, filp->f_flags & O_NONBLOCK);
}

static ssize_t rvirtio_chardev_write(struct file *filp, const char __user *buf, size_t len,
				     loff_t *pos)
{
	struct rvirtio_chardev_file *f = filp->private_data;

	return f->cb->write(f->file, buf, len, filp->f_flags & O_NONBLOCK);
}

static __poll_t rvirtio_chardev_poll(struct file *filp, poll_table *wait)
{
	struct rvirtio_chardev_file *f = filp->private_data;

	return f->cb->poll(f->file, filp, wait);
}

static int rvirtio_chardev_fasync(int fd, struct file *filp, int on)
{
	struct rvirtio_chardev_file *f = filp->private_data;

	return f->cb->fasync(f->file, fd, filp, on);
}

static const struct file_operations rvirtio_chardev_fops = {
	.owner = THIS_MODULE,
	.open = rvirtio_chardev_open,
	.release = rvirtio_chardev_release,
	.read = rvirtio_chardev_read,
	.write = rvirtio_chardev_write,
	.poll = rvirtio_chardev_poll,
	.fasync = rvirtio_chardev_fasync,
	.llseek = noop_llseek,
};

static void rvirtio_chardev_dev_release(struct device *dev)
{
	struct rvirtio_chardev *c = container_of(dev, struct rvirtio_chardev, dev);

	ida_free(&rvirtio_chardev_minors, MINOR(dev->devt));
	kfree(c->name);
	kfree(c);
	rvirtio_chardev_put();
}

/* Adds the node /dev/<node> under parent, in the class. Sleeps. */
int rvirtio_chardev_add(struct device *parent, const char *node,
			const struct rvirtio_chardev_cb *cb, void *priv,
			struct rvirtio_chardev **out);
int rvirtio_chardev_add(struct device *parent, const char *node,
			const struct rvirtio_chardev_cb *cb, void *priv,
			struct rvirtio_chardev **out)
{
	struct rvirtio_chardev *c;
	int minor, err;

	err = rvirtio_chardev_get();
	if (err)
		return err;
	minor = ida_alloc_max(&rvirtio_chardev_minors, RVIRTIO_CHARDEV_MINORS - 1, GFP_KERNEL);
	if (minor < 0) {
		rvirtio_chardev_put();
		return minor;
	}
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c) {
		ida_free(&rvirtio_chardev_minors, minor);
		rvirtio_chardev_put();
		return -ENOMEM;
	}
	mutex_init(&c->lock);
	c->cb = cb;
	c->priv = priv;
	/* From here the device's release frees c, the minor and the users count. */
	device_initialize(&c->dev);
	c->dev.class = &rvirtio_chardev_class;
	c->dev.parent = parent;
	c->dev.devt = MKDEV(MAJOR(rvirtio_chardev_base), minor);
	c->dev.release = rvirtio_chardev_dev_release;
	cdev_init(&c->cdev, &rvirtio_chardev_fops);
	c->cdev.owner = THIS_MODULE;
	err = dev_set_name(&c->dev, "%s", node);
	if (!err)
		err = cdev_device_add(&c->cdev, &c->dev);
	if (err) {
		put_device(&c->dev);
		return err;
	}
	*out = c;
	return 0;
}

/*
 * Removes the node: no open() reaches priv after this returns; open files
 * keep their own pointers until they are released. Sleeps.
 */
void rvirtio_chardev_remove(struct rvirtio_chardev *c);
void rvirtio_chardev_remove(struct rvirtio_chardev *c)
{
	mutex_lock(&c->lock);
	c->priv = NULL;
	mutex_unlock(&c->lock);
	cdev_device_del(&c->cdev, &c->dev);
	put_device(&c->dev);
}

/* Sets the "name" attribute (copied) and tells udev. Sleeps. */
int rvirtio_chardev_set_name(struct rvirtio_chardev *c, const char *name);
int rvirtio_chardev_set_name(struct rvirtio_chardev *c, const char *name)
{
	char *n = kstrdup(name, GFP_KERNEL);

	if (!n)
		return -ENOMEM;
	mutex_lock(&c->lock);
	swap(c->name, n);
	mutex_unlock(&c->lock);
	kfree(n);
	return kobject_uevent(&c->dev.kobj, KOBJ_CHANGE);
}

/* The layout of struct rvirtio_chardev_cb (kext::chardev::CField). */
enum rvirtio_chardev_c_field {
	RVIRTIO_CHARDEV_CB,
	RVIRTIO_CHARDEV_CB_OPEN,
	RVIRTIO_CHARDEV_CB_RELEASE,
	RVIRTIO_CHARDEV_CB_READ,
	RVIRTIO_CHARDEV_CB_WRITE,
	RVIRTIO_CHARDEV_CB_POLL,
	RVIRTIO_CHARDEV_CB_FASYNC,
};

long rvirtio_chardev_c_layout(u32 id);
long rvirtio_chardev_c_layout(u32 id)
{
	switch (id) {
	case RVIRTIO_CHARDEV_CB:
		return sizeof(struct rvirtio_chardev_cb);
	case RVIRTIO_CHARDEV_CB_OPEN:
		return offsetof(struct rvirtio_chardev_cb, open);
	case RVIRTIO_CHARDEV_CB_RELEASE:
		return offsetof(struct rvirtio_chardev_cb, release);
	case RVIRTIO_CHARDEV_CB_READ:
		return offsetof(struct rvirtio_chardev_cb, read);
	case RVIRTIO_CHARDEV_CB_WRITE:
		return offsetof(struct rvirtio_chardev_cb, write);
	case RVIRTIO_CHARDEV_CB_POLL:
		return offsetof(struct rvirtio_chardev_cb, poll);
	case RVIRTIO_CHARDEV_CB_FASYNC:
		return offsetof(struct rvirtio_chardev_cb, fasync);
	default:
		return -1;
	}
}
