// SPDX-License-Identifier: GPL-2.0
/*
 * sigdfl: runs a command with SIGINT and SIGQUIT at their default action.
 * A non-interactive shell starts a command put in the background with '&'
 * with both ignored, and a shell started so keeps them ignored for good
 * (POSIX: a signal ignored on entry stays ignored), so an interactive
 * shell the VM test starts in the background (console.sh: on hvc0) would
 * never see ^C interrupt anything.
 *
 * usage: sigdfl PROG [ARGS...]    e.g. setsid sigdfl sh -c '...' &
 *
 * Built static by tools/vm/mkinitramfs.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: sigdfl PROG [ARGS...]\n");
		return 2;
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "sigdfl: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
