// SPDX-License-Identifier: GPL-2.0
/*
 * blkgeo: HDIO_GETGEO on an already open descriptor (default 0), for the
 * VM tests: a block device removed while open can still be asked, but no
 * longer opened by name. Prints "heads=H sectors=S cylinders=C start=N";
 * on failure prints the error and exits 1.
 *
 * usage: blkgeo [FD]        e.g. exec 3</dev/vda; ...; blkgeo 3
 *
 * Built static by tools/vm/mkinitramfs (the guest has no compiler and no
 * scripting language with ioctl).
 */
#include <errno.h>
#include <linux/hdreg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

int main(int argc, char **argv)
{
	struct hd_geometry g;
	int fd = argc > 1 ? atoi(argv[1]) : 0;

	memset(&g, 0, sizeof(g));
	if (ioctl(fd, HDIO_GETGEO, &g) < 0) {
		int e = errno;

		fprintf(stderr, "blkgeo: HDIO_GETGEO on fd %d: %s (errno %d)\n", fd, strerror(e), e);
		return 1;
	}
	printf("heads=%u sectors=%u cylinders=%u start=%lu\n", g.heads, g.sectors, g.cylinders,
	       g.start);
	return 0;
}
