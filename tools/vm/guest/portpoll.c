// SPDX-License-Identifier: GPL-2.0
/*
 * portpoll DEV: the poll, O_NONBLOCK and SIGIO behaviour of a virtio port
 * whose host side (console.host) waits for "p2-ready\n", answers
 * "from-host\n" and closes:
 *   - with the host open and nothing sent, an O_NONBLOCK read is EAGAIN
 *     and poll does not report POLLIN;
 *   - the host's data raises POLLIN and sends SIGIO (O_ASYNC);
 *   - the data reads back as sent;
 *   - the host closing raises POLLHUP, and a read then returns 0 (EOF).
 * Prints one "ok:" line per check; exits 1 at the first failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t sigio;

static void on_sigio(int sig)
{
	(void)sig;
	sigio = 1;
}

static int fail(const char *what)
{
	printf("FAIL: %s (%s)\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct pollfd p;
	char buf[64];
	size_t got = 0;
	ssize_t n;
	int fd, i;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_RDWR | O_NONBLOCK);
	if (fd < 0)
		return fail("open");
	n = read(fd, buf, sizeof(buf));
	if (n != -1 || errno != EAGAIN)
		return fail("an O_NONBLOCK read with no data is not EAGAIN");
	printf("ok: O_NONBLOCK read with no data: EAGAIN\n");
	p = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT };
	if (poll(&p, 1, 0) != 1 || (p.revents & (POLLIN | POLLHUP)) || !(p.revents & POLLOUT))
		return fail("poll with the host open and no data is not just POLLOUT");
	printf("ok: poll with the host open and no data: POLLOUT only\n");
	signal(SIGIO, on_sigio);
	if (fcntl(fd, F_SETOWN, getpid()) < 0 ||
	    fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC) < 0)
		return fail("O_ASYNC");
	if (write(fd, "p2-ready\n", 9) != 9)
		return fail("write");
	/* SIGIO may arrive while poll sleeps: poll is then EINTR, not done. */
	do {
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		n = poll(&p, 1, 60000);
	} while (n < 0 && errno == EINTR);
	if (n != 1 || !(p.revents & POLLIN))
		return fail("no POLLIN for the host's data");
	printf("ok: POLLIN for the host's data\n");
	for (i = 0; i < 100 && !sigio; i++)
		usleep(10000);
	if (!sigio)
		return fail("no SIGIO for the host's data");
	printf("ok: SIGIO for the host's data\n");
	while (got < 10) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN)
			return fail("read");
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		poll(&p, 1, 1000);
	}
	if (got != 10 || memcmp(buf, "from-host\n", 10))
		return fail("the host's data did not read back as sent");
	printf("ok: read the host's data\n");
	for (i = 0; i < 600; i++) {
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) == 1 && (p.revents & POLLHUP))
			break;
	}
	if (!(p.revents & POLLHUP))
		return fail("no POLLHUP after the host closed");
	printf("ok: POLLHUP once the host closed\n");
	n = read(fd, buf, sizeof(buf));
	if (n != 0)
		return fail("a read after the host closed is not EOF");
	printf("ok: EOF once the host closed\n");
	close(fd);
	return 0;
}
