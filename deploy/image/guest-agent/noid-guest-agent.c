/*
 * noid-guest-agent: the guest side of the Noid exec protocol.
 *
 * The wire format and its semantics are specified in docs/guest-protocol.md;
 * this file implements that document and nothing else. In short: the host
 * talks to us over the virtio-serial port named "org.noid.agent.0" (QEMU) or
 * a vsock connection to port 1024 (Cloud Hypervisor) with length-prefixed
 * frames; it can run commands (EXEC), feed their stdin, send them signals and
 * resize their pty; we stream their stdout/stderr back and report their exit
 * status.
 *
 * Design notes (the WHY):
 *
 *  - One thread, one poll() loop. The port, the vsock listener and its
 *    connection, every child's pipes and a SIGCHLD self-pipe are all
 *    non-blocking fds in one poll set. There are no locks, and every stream
 *    has its own pipes, so concurrent execs never mix output.
 *
 *  - Each transport is a connection of its own (struct conn) with its own
 *    queues, and each stream belongs to the connection that started it: a
 *    host on one transport never sees, or ends, another one's streams. Both
 *    are served whenever both exist, which costs nothing and lets a guest
 *    check its vsock side from a shell on the serial one (`probe`, below).
 *
 *  - vsock is one host connection at a time, like the port: a new connection
 *    replaces the old one. After a snapshot restore the old connection's
 *    peer is gone without a word (the VMM that held it is not running), so
 *    the newest host is the one that is really there.
 *
 *  - Only a host may connect over vsock: the peer must be the host (CID 2)
 *    or, from inside this guest (vsock_loopback, CID 1, or our own CID), a
 *    privileged source port, which only root (CAP_NET_BIND_SERVICE) can
 *    bind. Whoever connects runs commands as root and replaces the host's
 *    connection, and every image loads vsock_loopback, so without this any
 *    unprivileged process in the guest could become root and cut off the
 *    host. A refused peer is closed at once and never touches the host's
 *    connection. The virtio-serial port needs no such check: only the VMM
 *    is at its other end (and its device node is root's).
 *
 *  - The port fd is non-blocking for writes too, with an output queue. A
 *    blocking write to a virtio-serial port whose host side is disconnected
 *    blocks until a host connects again and then delivers the rest of a frame
 *    from the old connection to the new one. With a queue we can drop it
 *    instead when we see the host go away.
 *
 *  - While no host is connected, the port polls as POLLHUP|POLLIN forever and
 *    read() returns 0 (there is no event for "host came back"), so we take the
 *    port out of the poll set and look at it again every 100 ms.
 *
 *  - Back-pressure: when the output queue is above a high-water mark (the host
 *    is not reading), we stop reading the children's pipes, so they block in
 *    write() instead of us buffering without bound. Stdin for a child that does
 *    not read is buffered per stream up to a limit; past it the stream is
 *    killed, because blocking the port would also block PING and SIGNAL.
 *
 *  - The agent cannot see a disconnect that is followed by an immediate
 *    reconnect: QEMU reports the close and the new open back to back and the
 *    guest driver keeps only the latest state, so no POLLHUP is seen (in
 *    practice: never, when the host reconnects at once). Hence the
 *    RESET frame, which a reconnecting host sends first: it ends the old
 *    connection's streams and, answered by PONG, lets the host find the
 *    frame boundary again. RESET also ends the "bad frame length" state.
 *
 *  - Children are session leaders (setsid) so that SIGNAL and the kill on
 *    disconnect reach the whole process group, not just argv[0].
 *
 * Besides serving, the binary has two tool modes (docs/guest-protocol.md):
 *   noid-guest-agent probe [--cid N] [--port P] [--unix PATH] [-- CMD...]
 *     connects to an agent over vsock (default: this guest's own, CID 1,
 *     port 1024) from a privileged port (root only: see below), checks it
 *     answers RESET, and runs CMD there if given;
 *   noid-guest-agent identity HOSTNAME EPOCH_MS SEED_HEX MACHINE_ID_HEX|keep
 *     a restored guest's own hostname (and /etc/hostname, /etc/hosts), clock,
 *     entropy (as reseed) and, where the image has one, /etc/machine-id
 *     (left as it is with "keep": a VM restored from its own checkpoint).
 *   noid-guest-agent reseed HEX
 *     credits HEX (host randomness) to the kernel's entropy pool and reseeds
 *     the random generator at once, so that guests restored from one memory
 *     image stop sharing a generator state now, not at the next timed reseed.
 *   noid-guest-agent growfs MOUNTPOINT
 *     grows the ext4 file system at MOUNTPOINT to fill its device (growfs.c).
 *
 * Build: gcc -static -O2 -Wall -Wextra -o noid-guest-agent noid-guest-agent.c growfs.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/random.h>
#include <linux/vm_sockets.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "growfs.h"

#define PORT_NAME "org.noid.agent.0"
#define VSOCK_PORT 1024u
/* vsock ports up to this one need CAP_NET_BIND_SERVICE to bind (the kernel's
 * LAST_RESERVED_PORT in af_vsock.c); connect() without bind() takes a higher
 * one. */
#define VSOCK_LAST_PRIVILEGED_PORT 1023u
#define AGENT_ID "noid-guest-agent/1"

/* Frame types (docs/guest-protocol.md). */
enum {
	T_PING = 0x01,
	T_EXEC = 0x02,
	T_STDIN = 0x03,
	T_STDIN_CLOSE = 0x04,
	T_SIGNAL = 0x05,
	T_RESIZE = 0x06,
	T_RESET = 0x07,
	T_HELLO = 0x80,
	T_PONG = 0x81,
	T_STDOUT = 0x82,
	T_STDERR = 0x83,
	T_EXIT = 0x84,
	T_ERROR = 0x85,
	T_STDIN_ACK = 0x86,
};

#define HDR_LEN 9u               /* u32 len + u8 type + u32 stream */
#define MAX_BODY (1u << 20)      /* 1 MiB */
#define MAX_LEN (MAX_BODY + 5u)  /* largest legal value of the len field */
#define OUT_CHUNK (32u * 1024u)  /* max STDOUT/STDERR payload per frame */
#define PING_MAX 64u
#define FLAG_STDIN 0x1u
#define FLAG_TTY 0x2u
#define FLAG_STDIN_ACK 0x4u
#define MAX_STREAMS 256          /* protocol promises at least 64 */
#define OUT_HIGH_WATER (1u << 20)  /* stop reading children above this */
#define STDIN_LIMIT (16u << 20)    /* per-stream unwritten stdin cap */
#define ACK_EVERY (64u * 1024u)    /* STDIN_ACK once this much was taken */
#define DISCONNECTED_TICK_MS 100
#define PORT_SEARCH_MAX_MS 1000

/* A growable byte queue: pending bytes are data[off, len). */
struct bytes {
	uint8_t *data;
	size_t off, len, cap;
};

/* One host connection: the virtio-serial port, or an accepted socket. */
struct conn {
	const char *name;  /* for the log */
	int fd;            /* -1: no port found yet / no socket accepted */
	int is_socket;     /* EOF/HUP ends it for good and the fd is closed */
	int connected;     /* a host is there */
	int poisoned;      /* ignore input until a RESET: bad frame length, or host gone */
	struct bytes outq; /* frames waiting to be written */
	size_t head_left;  /* unwritten bytes of the frame at outq.off, 0 at a boundary */
	uint8_t *inbuf;    /* partial input frame(s) from the host */
	size_t inlen;
};

struct stream {
	struct conn *conn; /* the connection that started it */
	uint32_t id;
	pid_t pgid;       /* == child pid; kept after reaping for SIGNAL */
	int reaped;       /* child has been waited for */
	int32_t status;   /* exit code or 128+signal, valid when reaped */
	int out_fd;       /* stdout pipe, or the pty master; -1 at EOF */
	int err_fd;       /* stderr pipe; -1 at EOF (or TTY: never used) */
	int in_fd;        /* stdin pipe, or a dup of the pty master; -1 if none */
	int tty;
	int stdin_open;   /* host may still send STDIN */
	int close_after_drain; /* STDIN_CLOSE arrived while stdin was pending */
	struct bytes in;  /* stdin not yet accepted by the child */
	int ack;          /* FLAG_STDIN_ACK: report stdin taken */
	size_t taken;     /* host bytes taken (or dropped) since the last report */
	size_t own;       /* bytes of ours queued in `in` (VEOF): never reported */
};

static struct conn serial = {.name = "serial port", .fd = -1};
static struct conn vsock = {.name = "vsock", .fd = -1, .is_socket = 1};
static int listen_fd = -1;  /* vsock (or, for tests, unix) listener */
static int hello_sent;      /* HELLO goes to the first host connection only */
static const size_t incap = 4 + MAX_LEN;
static struct stream *streams[MAX_STREAMS];
static int nstreams;
static unsigned long stream_epoch; /* bumped when a stream is added or removed */
static int sigchld_pipe[2] = {-1, -1};

static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("noid-guest-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		/* Out of memory in a tiny guest: exiting lets init respawn us
		 * with a clean slate, which beats limping on. */
		logmsg("out of memory");
		exit(1);
	}
	return q;
}

static char *xstrdup(const char *str)
{
	size_t n = strlen(str) + 1;
	return memcpy(xrealloc(NULL, n), str, n);
}

/* ---------- byte queues and big-endian helpers ---------- */

static size_t bytes_pending(const struct bytes *b) { return b->len - b->off; }

static void bytes_clear(struct bytes *b) { b->off = b->len = 0; }

static void bytes_free(struct bytes *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Make room for n more bytes at data + len. */
static uint8_t *bytes_reserve(struct bytes *b, size_t n)
{
	if (b->off > 0 && b->off == b->len)
		b->off = b->len = 0;
	if (b->cap - b->len < n && b->off > 0) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---------- output frames ---------- */

static void write_header(uint8_t *p, uint8_t type, uint32_t stream, size_t body)
{
	put_u32(p, (uint32_t)(body + 5));
	p[4] = type;
	put_u32(p + 5, stream);
}

/* Queue one frame for the host. Frames for a host that is gone are dropped:
 * nobody could interpret them on a later connection. */
static void send_frame(struct conn *c, uint8_t type, uint32_t stream, const void *body, size_t n)
{
	if (!c->connected || c->poisoned)
		return;
	uint8_t *p = bytes_reserve(&c->outq, HDR_LEN + n);
	write_header(p, type, stream, n);
	if (n)
		memcpy(p + HDR_LEN, body, n);
	c->outq.len += HDR_LEN + n;
}

static void send_error(struct conn *c, uint32_t stream, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	send_frame(c, T_ERROR, stream, msg, (size_t)n);
}

/* Advance past n written bytes, keeping track of frame boundaries so that
 * RESET can drop whole queued frames without cutting one in half. Frames
 * are always queued whole, so a header is complete at a boundary. */
static void outq_consume(struct conn *c, size_t n)
{
	while (n > 0) {
		if (c->head_left == 0)
			c->head_left = 4 + (size_t)get_u32(c->outq.data + c->outq.off);
		size_t take = n < c->head_left ? n : c->head_left;
		c->outq.off += take;
		c->head_left -= take;
		n -= take;
	}
}

/* Drop queued output, except the rest of a frame already partly written:
 * the host is reading from the middle of it. */
static void outq_drop_unsent(struct conn *c)
{
	c->outq.len = c->outq.off + c->head_left;
}

static void on_disconnect(struct conn *c);

/* Write as much of the output queue as the connection takes without blocking. */
static void flush_conn(struct conn *c)
{
	while (c->connected && bytes_pending(&c->outq) > 0) {
		ssize_t n = write(c->fd, c->outq.data + c->outq.off, bytes_pending(&c->outq));
		if (n > 0) {
			outq_consume(c, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* A socket that fails a write (EPIPE, ECONNRESET) has lost its
		 * host for good. On the port, EAGAIN means the virtqueue is
		 * full (QEMU throttles the port while its socket is full) and
		 * poll() tells us when it drains; any other error is treated
		 * the same, as POLLHUP follows if the host went away. */
		if (c->is_socket && n < 0 && errno != EAGAIN)
			on_disconnect(c);
		break;
	}
	if (bytes_pending(&c->outq) == 0)
		bytes_clear(&c->outq);
}

/* ---------- streams ---------- */

static struct stream *find_stream(struct conn *c, uint32_t id)
{
	for (int i = 0; i < nstreams; i++)
		if (streams[i]->conn == c && streams[i]->id == id)
			return streams[i];
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void remove_stream(struct stream *s)
{
	stream_epoch++;
	for (int i = 0; i < nstreams; i++) {
		if (streams[i] == s) {
			streams[i] = streams[--nstreams];
			break;
		}
	}
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
	close_fd(&s->in_fd);
	bytes_free(&s->in);
	free(s);
}

/* Signal a stream's process group. Right after fork() the child may not have
 * called setsid() yet, so the group does not exist (ESRCH): then signal the
 * child itself, which is the whole group-to-be (it has not forked yet). */
static void signal_stream(struct stream *s, int sig)
{
	if (kill(-s->pgid, sig) < 0 && errno == ESRCH && !s->reaped)
		kill(s->pgid, sig);
}

/* EXIT is sent only once the child is reaped AND its output reached EOF, so
 * that every output frame precedes it. */
static void maybe_finish(struct stream *s)
{
	if (!s->reaped || s->out_fd >= 0 || s->err_fd >= 0)
		return;
	uint8_t body[4];
	put_u32(body, (uint32_t)s->status);
	send_frame(s->conn, T_EXIT, s->id, body, sizeof(body));
	remove_stream(s);
}

/* The host is gone (or reset us): output has nowhere to go, so end every
 * stream of its connection without EXIT. The children are reaped later by
 * the generic waitpid() loop. */
static void kill_streams(struct conn *c)
{
	for (int i = nstreams - 1; i >= 0; i--) {
		struct stream *s = streams[i];
		if (s->conn != c)
			continue;
		signal_stream(s, SIGKILL);
		remove_stream(s); /* moves the last stream to i: already seen */
	}
}

static void reap_children(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (int i = 0; i < nstreams; i++) {
			struct stream *s = streams[i];
			if (s->pgid != pid || s->reaped)
				continue;
			s->reaped = 1;
			if (WIFEXITED(st))
				s->status = WEXITSTATUS(st);
			else if (WIFSIGNALED(st))
				s->status = 128 + WTERMSIG(st);
			else
				s->status = 255;
			maybe_finish(s);
			break;
		}
	}
}

/* Read one chunk of a child's output straight into the output queue. */
static void read_child_output(struct stream *s, int *fd, uint8_t type)
{
	struct conn *c = s->conn;
	uint8_t *p = bytes_reserve(&c->outq, HDR_LEN + OUT_CHUNK);
	ssize_t n = read(*fd, p + HDR_LEN, OUT_CHUNK);
	if (n > 0) {
		if (c->connected && !c->poisoned) {
			write_header(p, type, s->id, (size_t)n);
			c->outq.len += HDR_LEN + (size_t)n;
		}
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* 0 is EOF on a pipe; a pty master reports EIO once the last slave
	 * fd is closed, which is its EOF. */
	close_fd(fd);
	maybe_finish(s);
}

/* Counts n bytes of `in` as gone to the child (or dropped); the agent's
 * own bytes in the queue are not the host's to count. */
static void count_taken(struct stream *s, size_t n)
{
	size_t own = n < s->own ? n : s->own;
	s->own -= own;
	s->taken += n - own;
}

/* STDIN_ACK: the host keeps at most a window of stdin in flight, so it
 * hears of every byte that left our queue, in chunks, and of the rest as
 * soon as the queue is empty (else a host at its window would wait on a
 * report that never comes). */
static void report_taken(struct stream *s, int force)
{
	if (!s->ack || s->taken == 0)
		return;
	if (!force && s->taken < ACK_EVERY && bytes_pending(&s->in) > 0)
		return;
	uint8_t body[4];
	put_u32(body, (uint32_t)s->taken);
	send_frame(s->conn, T_STDIN_ACK, s->id, body, sizeof(body));
	s->taken = 0;
}

static void stdin_drop(struct stream *s)
{
	/* What the child will never read is taken as far as the host's
	 * window goes: later STDIN is dropped the same way. */
	count_taken(s, bytes_pending(&s->in));
	report_taken(s, 1);
	s->own = 0;
	bytes_free(&s->in);
	s->close_after_drain = 0;
	if (!s->tty)
		close_fd(&s->in_fd);
}

static void write_child_stdin(struct stream *s)
{
	while (s->in_fd >= 0 && bytes_pending(&s->in) > 0) {
		ssize_t n = write(s->in_fd, s->in.data + s->in.off, bytes_pending(&s->in));
		if (n > 0) {
			s->in.off += (size_t)n;
			count_taken(s, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			report_taken(s, 0);
			return;
		}
		/* EPIPE/EIO: the child closed its end; the rest is moot. */
		stdin_drop(s);
		return;
	}
	bytes_clear(&s->in);
	report_taken(s, 0);
	if (s->close_after_drain) {
		s->close_after_drain = 0;
		close_fd(&s->in_fd);
	}
}

/* ---------- EXEC ---------- */

struct reader {
	const uint8_t *p;
	size_t left;
};

static int rd_u32(struct reader *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = get_u32(r->p);
	r->p += 4;
	r->left -= 4;
	return 0;
}

/* A length-prefixed string, copied and NUL-terminated. Embedded NULs are
 * rejected: execve() could not pass them on. */
static char *rd_str(struct reader *r)
{
	uint32_t n;
	if (rd_u32(r, &n) < 0 || n > r->left || memchr(r->p, 0, n))
		return NULL;
	char *s = xrealloc(NULL, (size_t)n + 1);
	memcpy(s, r->p, n);
	s[n] = 0;
	r->p += n;
	r->left -= n;
	return s;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Parse a list "u32 count, count x (u32 n, n bytes)" into a NULL-terminated
 * vector. The count is bounded by the remaining bytes before allocating. */
static char **rd_strv(struct reader *r, uint32_t *count)
{
	if (rd_u32(r, count) < 0 || *count > r->left / 4)
		return NULL;
	char **v = xrealloc(NULL, ((size_t)*count + 1) * sizeof(char *));
	for (uint32_t i = 0; i <= *count; i++)
		v[i] = NULL;
	for (uint32_t i = 0; i < *count; i++) {
		if (!(v[i] = rd_str(r))) {
			free_strv(v);
			return NULL;
		}
	}
	return v;
}

/* Default environment overridden/extended by the host's KEY=VALUE entries.
 * /run/noid comes last: a root-disk guest has this agent there (the host runs
 * "noid-guest-agent reseed" by name), and it must never shadow the image's own
 * commands. */
static char **build_env(char **given, int tty)
{
	static const char *defaults[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin:/run/noid",
		"HOME=/root", NULL,
	};
	size_t ngiven = 0;
	while (given[ngiven])
		ngiven++;
	char **env = xrealloc(NULL, (ngiven + 4) * sizeof(char *));
	size_t n = 0;
	for (const char **d = defaults; *d; d++)
		env[n++] = xstrdup(*d);
	env[n++] = xstrdup(tty ? "TERM=xterm" : "TERM=linux");
	for (size_t i = 0; i < ngiven; i++) {
		size_t klen = (size_t)(strchr(given[i], '=') - given[i]) + 1;
		size_t j;
		for (j = 0; j < n; j++)
			if (strncmp(env[j], given[i], klen) == 0)
				break;
		if (j < n)
			free(env[j]);
		else
			n++;
		env[j] = xstrdup(given[i]);
	}
	env[n] = NULL;
	return env;
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Runs in the forked child; never returns. For TTY, in_r/out_w/err_w are all
 * the pty slave. */
static void child_exec(char **argv, char **env, const char *cwd, int tty, int in_r,
		       int out_w, int err_w)
{
	/* Own session and process group: SIGNAL targets -pgid, and a TTY
	 * child needs a session to take the pty as controlling terminal. */
	setsid();
	if (tty) {
		ioctl(out_w, TIOCSCTTY, 0);
	} else if (in_r < 0) {
		in_r = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (in_r >= 0)
		dup2(in_r, 0);
	else
		close(0);
	dup2(out_w, 1);
	dup2(err_w, 2);
	/* Everything else the agent holds is O_CLOEXEC. But SIG_IGN and the
	 * signal mask survive exec: undo ours. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (chdir(cwd) < 0 && chdir("/") < 0) {
		/* nowhere sane to go; exec anyway */
	}
	/* execvp searches the PATH of the current environment, so install the
	 * child's environment first (we are single-threaded: this is safe). */
	environ = env;
	execvp(argv[0], argv);
	int err = errno;
	dprintf(2, "noid-guest-agent: %s: %s\n", argv[0], strerror(err));
	/* The shell's convention, so hosts need not special-case us. */
	_exit(err == ENOENT ? 127 : 126);
}

static int apply_identity(char **argv, char *err, size_t errlen);
static int is_identity(char **argv, uint32_t argc);

static void handle_exec(struct conn *c, uint32_t id, const uint8_t *body, size_t n)
{
	if (id == 0) {
		send_error(c, 0, "EXEC on stream 0");
		return;
	}
	if (find_stream(c, id)) {
		/* Reported on stream 0, not on the stream: an ERROR there would
		 * end the running stream in the host's eyes while it goes on
		 * running here. */
		send_error(c, 0, "EXEC: stream %u already in use", id);
		return;
	}
	struct reader r = {body, n};
	uint32_t argc = 0, envc = 0, flags = 0;
	char **argv = rd_strv(&r, &argc);
	char **given = argv ? rd_strv(&r, &envc) : NULL;
	char **env = NULL;
	int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
	int master = -1, slave = -1;

	if (!argv || !given || rd_u32(&r, &flags) < 0 || r.left != 0) {
		send_error(c, id, "EXEC: malformed body");
		goto out;
	}
	if (argc == 0) {
		send_error(c, id, "EXEC: argc must be >= 1");
		goto out;
	}
	if (flags & ~(FLAG_STDIN | FLAG_TTY | FLAG_STDIN_ACK)) {
		send_error(c, id, "EXEC: unknown flags 0x%x", flags);
		goto out;
	}
	if ((flags & FLAG_STDIN_ACK) && !(flags & FLAG_STDIN)) {
		send_error(c, id, "EXEC: flag STDIN_ACK needs STDIN");
		goto out;
	}
	/* cwd is $HOME only if the host gave HOME; the default HOME is not. */
	const char *cwd = "/";
	for (char **e = given; *e; e++) {
		if (**e == '=' || !strchr(*e, '=')) {
			send_error(c, id, "EXEC: env entry is not KEY=VALUE");
			goto out;
		}
		if (strncmp(*e, "HOME=", 5) == 0)
			cwd = *e + 5;
	}
	if (nstreams >= MAX_STREAMS) {
		send_error(c, id, "EXEC: too many streams (max %d)", MAX_STREAMS);
		goto out;
	}
	if (is_identity(argv, argc) && flags == 0) {
		/* In this process: nothing to fork on a create's critical path. */
		char err[300] = "";
		int status = apply_identity(argv, err, sizeof err - 1);
		if (err[0]) {
			char line[320];
			int len = snprintf(line, sizeof line, "noid-guest-agent: %s\n", err);
			send_frame(c, T_STDERR, id, line, (size_t)len);
		}
		uint8_t st[4];
		put_u32(st, (uint32_t)status);
		send_frame(c, T_EXIT, id, st, sizeof(st));
		goto out;
	}
	int tty = (flags & FLAG_TTY) != 0;
	env = build_env(given, tty);

	if (tty) {
		char name[64];
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		/* The parent opens the slave before forking: a master with no
		 * open slave reads EIO (our EOF), and the child might not have
		 * opened it yet by the time we poll. */
		if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
		    ptsname_r(master, name, sizeof(name)) != 0 ||
		    (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
			send_error(c, id, "EXEC: cannot allocate a pty: %s", strerror(errno));
			goto out;
		}
		/* A sane size until the host sends RESIZE. */
		struct winsize ws = {.ws_row = 24, .ws_col = 80};
		ioctl(master, TIOCSWINSZ, &ws);
	} else if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 ||
		   ((flags & FLAG_STDIN) && pipe2(in_pipe, O_CLOEXEC) < 0)) {
		send_error(c, id, "EXEC: pipe: %s", strerror(errno));
		goto out;
	}

	pid_t pid = fork();
	if (pid < 0) {
		send_error(c, id, "EXEC: fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		if (tty)
			child_exec(argv, env, cwd, 1, slave, slave, slave);
		child_exec(argv, env, cwd, 0, in_pipe[0], out_pipe[1], err_pipe[1]);
	}

	struct stream *s = xrealloc(NULL, sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->conn = c;
	s->id = id;
	s->pgid = pid;
	s->tty = tty;
	s->out_fd = s->err_fd = s->in_fd = -1;
	if (tty) {
		s->out_fd = master;
		master = -1;
		/* A second fd on the master for stdin, so that reaching EOF on
		 * output (closing out_fd) does not take RESIZE/STDIN with it. */
		s->in_fd = fcntl(s->out_fd, F_DUPFD_CLOEXEC, 0);
		s->stdin_open = (flags & FLAG_STDIN) != 0;
		set_nonblock_cloexec(s->out_fd);
	} else {
		s->out_fd = out_pipe[0];
		s->err_fd = err_pipe[0];
		s->in_fd = in_pipe[1];
		out_pipe[0] = err_pipe[0] = in_pipe[1] = -1;
		s->stdin_open = s->in_fd >= 0;
		set_nonblock_cloexec(s->out_fd);
		set_nonblock_cloexec(s->err_fd);
		if (s->in_fd >= 0)
			set_nonblock_cloexec(s->in_fd);
	}
	streams[nstreams++] = s;
	stream_epoch++;
	if (flags & FLAG_STDIN_ACK) {
		/* The first report, of nothing, tells the host we pace: until
		 * it comes the host sends no STDIN, since an agent from before
		 * STDIN_ACK answers ERROR and never starts the stream. */
		s->ack = 1;
		uint8_t zero[4] = {0};
		send_frame(c, T_STDIN_ACK, id, zero, sizeof(zero));
	}

out:
	/* Closes the child's ends in the parent (and everything on failure). */
	close_fd(&in_pipe[0]);
	close_fd(&in_pipe[1]);
	close_fd(&out_pipe[0]);
	close_fd(&out_pipe[1]);
	close_fd(&err_pipe[0]);
	close_fd(&err_pipe[1]);
	close_fd(&master);
	close_fd(&slave);
	free_strv(argv);
	free_strv(given);
	free_strv(env);
}

/* ---------- other host frames ---------- */

static void handle_stdin(struct stream *s, const uint8_t *body, size_t n)
{
	if (!s->stdin_open || s->in_fd < 0) {
		/* Either the EXEC had no STDIN flag (a host bug, reported) or
		 * the child already closed its stdin (a normal race: drop). */
		if (!s->stdin_open) {
			send_error(s->conn, 0, "STDIN: stream %u has no open stdin", s->id);
		} else {
			count_taken(s, n);
			report_taken(s, 1);
		}
		return;
	}
	if (n == 0)
		return;
	if (bytes_pending(&s->in) + n > STDIN_LIMIT) {
		/* The child is not reading. Blocking the port would also block
		 * PING and SIGNAL, so end the stream instead; its EXIT (137)
		 * follows. */
		send_error(s->conn, 0, "STDIN: stream %u: child does not read its stdin, killed", s->id);
		signal_stream(s, SIGKILL);
		s->stdin_open = 0;
		count_taken(s, n); /* dropped with the rest below */
		stdin_drop(s);
		return;
	}
	memcpy(bytes_reserve(&s->in, n), body, n);
	s->in.len += n;
	write_child_stdin(s);
}

static void handle_stdin_close(struct stream *s)
{
	if (!s->stdin_open)
		return;
	s->stdin_open = 0;
	if (s->tty) {
		/* A pty has no half-close: send the terminal's EOF character
		 * (VEOF, normally ^D) as a terminal user would. */
		struct termios t;
		uint8_t eof = 4;
		if (tcgetattr(s->in_fd, &t) == 0)
			eof = t.c_cc[VEOF];
		*bytes_reserve(&s->in, 1) = eof;
		s->in.len++;
		s->own++;
	} else {
		s->close_after_drain = 1;
	}
	write_child_stdin(s);
}

static void handle_frame(struct conn *c, uint8_t type, uint32_t id, const uint8_t *body, size_t n)
{
	struct stream *s = NULL;
	switch (type) {
	case T_PING:
		if (id != 0 || n > PING_MAX) {
			send_error(c, 0, "PING: must be on stream 0 with at most %u bytes", PING_MAX);
			return;
		}
		send_frame(c, T_PONG, 0, body, n);
		return;
	case T_EXEC:
		handle_exec(c, id, body, n);
		return;
	case T_RESET:
		if (id != 0 || n > PING_MAX) {
			send_error(c, 0, "RESET: must be on stream 0 with at most %u bytes", PING_MAX);
			return;
		}
		/* A host that (re)connected: whatever we were doing was for a
		 * previous connection, which we may not have seen go away
		 * (see on_disconnect). */
		kill_streams(c);
		outq_drop_unsent(c);
		send_frame(c, T_PONG, 0, body, n);
		return;
	case T_STDIN:
	case T_STDIN_CLOSE:
	case T_SIGNAL:
	case T_RESIZE:
		break;
	default:
		send_error(c, 0, "unknown frame type 0x%02x", type);
		return;
	}
	/* Frames for streams we do not know are dropped silently: the host
	 * may legitimately race with an EXIT we already sent. */
	if (id == 0 || !(s = find_stream(c, id)))
		return;
	switch (type) {
	case T_STDIN:
		handle_stdin(s, body, n);
		break;
	case T_STDIN_CLOSE:
		handle_stdin_close(s);
		break;
	case T_SIGNAL:
		if (n != 4 || get_u32(body) >= (uint32_t)NSIG) {
			send_error(c, 0, "SIGNAL: stream %u: bad body", id);
			break;
		}
		/* The group outlives the child if it left descendants behind;
		 * signalling them is what the host wants. */
		signal_stream(s, (int)get_u32(body));
		break;
	case T_RESIZE:
		if (n != 4) {
			send_error(c, 0, "RESIZE: stream %u: bad body", id);
			break;
		}
		if (s->tty && s->in_fd >= 0) {
			struct winsize ws = {
				.ws_row = (unsigned short)(body[0] << 8 | body[1]),
				.ws_col = (unsigned short)(body[2] << 8 | body[3]),
			};
			ioctl(s->in_fd, TIOCSWINSZ, &ws);
		}
		break;
	}
}

/* ---------- connections ---------- */

static void reset_connection_state(struct conn *c)
{
	kill_streams(c);
	bytes_clear(&c->outq);
	c->head_left = 0;
	c->inlen = 0;
	c->poisoned = 0;
}

static void on_connect(struct conn *c)
{
	c->connected = 1;
	if (!c->inbuf)
		c->inbuf = xrealloc(NULL, incap);
	if (!hello_sent) {
		char host[256] = "";
		char msg[300];
		gethostname(host, sizeof(host) - 1);
		int m = snprintf(msg, sizeof(msg), "%s hostname=%s", AGENT_ID, host);
		send_frame(c, T_HELLO, 0, msg, (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1);
		hello_sent = 1;
	}
}

/* Is a host connected to the port? It signals POLLHUP while none is. */
static int host_connected_now(void)
{
	struct pollfd p = {.fd = serial.fd, .events = POLLIN | POLLOUT};
	if (poll(&p, 1, 0) < 0)
		return serial.connected;
	return !(p.revents & POLLHUP);
}

/* On the port this is seen only if the host stays away long enough: QEMU
 * reports a close and a quick reconnect back to back, and the guest driver
 * keeps just the latest state, so an immediate reconnect looks like nothing
 * happened. That is why the protocol has RESET. A socket's end is final. */
static void on_disconnect(struct conn *c)
{
	c->connected = 0;
	reset_connection_state(c);
	if (c->is_socket) {
		close_fd(&c->fd);
		return;
	}
	/* What the old host sent and we had not read yet may still be in the
	 * port, ahead of the next host's RESET. Skip input up to a RESET
	 * instead of reading the leftovers away now: the driver can show the
	 * next host's bytes before it shows that host connected, and reading
	 * "until a host is there" then swallowed that host's RESET, leaving
	 * both ends waiting (a restored guest hears "host gone" from QEMU just
	 * as the new host connects). */
	c->poisoned = 1;
}

/* In the desynchronised state, look for the header of a RESET frame
 * (len 5..5+PING_MAX, type RESET, stream 0): a host that reconnects starts
 * with one, and we may not have noticed it reconnect. Returns its offset. */
static ssize_t find_reset(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + HDR_LEN <= n; i++) {
		uint32_t len = get_u32(p + i);
		if (len >= 5 && len <= 5 + PING_MAX && p[i + 4] == T_RESET && get_u32(p + i + 5) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* Drop the first n bytes of the input buffer. */
static void inbuf_consume(struct conn *c, size_t n)
{
	memmove(c->inbuf, c->inbuf + n, c->inlen - n);
	c->inlen -= n;
}

static void read_conn(struct conn *c)
{
	ssize_t n = read(c->fd, c->inbuf + c->inlen, incap - c->inlen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			on_disconnect(c);
		return;
	}
	if (n == 0) {
		/* EOF: the host went away between poll() and read(). */
		on_disconnect(c);
		return;
	}
	c->inlen += (size_t)n;
	for (;;) {
		if (c->poisoned) {
			ssize_t at = find_reset(c->inbuf, c->inlen);
			if (at < 0) {
				/* Keep a possible partial header for later. */
				size_t keep = c->inlen < HDR_LEN - 1 ? c->inlen : HDR_LEN - 1;
				inbuf_consume(c, c->inlen - keep);
				return;
			}
			inbuf_consume(c, (size_t)at);
			c->poisoned = 0;
		}
		size_t off = 0;
		/* A frame may end the connection (a failed write): stop then. */
		while (c->connected && c->inlen - off >= 4) {
			uint32_t len = get_u32(c->inbuf + off);
			if (len < 5 || len > MAX_LEN)
				break;
			if (c->inlen - off < 4 + (size_t)len)
				break;
			const uint8_t *f = c->inbuf + off;
			handle_frame(c, f[4], get_u32(f + 5), f + HDR_LEN, len - 5);
			off += 4 + (size_t)len;
		}
		if (!c->connected)
			return;
		if (c->inlen - off >= 4) {
			uint32_t len = get_u32(c->inbuf + off);
			if (len < 5 || len > MAX_LEN) {
				/* Frame boundaries are lost. Tell the host, end its
				 * streams and skip input until it reconnects or a
				 * RESET shows up (possibly later in this buffer). */
				send_error(c, 0, "bad frame length %u: ignoring input until reconnect or RESET",
					   len);
				kill_streams(c);
				c->poisoned = 1;
				inbuf_consume(c, off + 1);
				continue;
			}
		}
		inbuf_consume(c, off);
		return;
	}
}

/* Whether the listener is vsock (the peer check applies) rather than the
 * unix socket of a host-side test (NOID_AGENT_LISTEN). */
static int listen_vsock;
static unsigned long refused_peers;

/* The host (CID 2: Cloud Hypervisor's vsock device, like vhost-vsock, sends
 * the host's packets from it, and nothing in the guest can), or root in this
 * guest: a local peer (the loopback transport's CID 1, or our own CID) whose
 * source port is privileged. Anything else could be any process. */
static int vsock_peer_is_host(int fd, const struct sockaddr_vm *peer)
{
	if (peer->svm_cid == VMADDR_CID_HOST)
		return 1;
	int local = peer->svm_cid == VMADDR_CID_LOCAL;
	struct sockaddr_vm self;
	socklen_t sl = sizeof(self);
	if (!local && getsockname(fd, (struct sockaddr *)&self, &sl) == 0 && sl >= sizeof(self))
		local = self.svm_cid == peer->svm_cid;
	return local && peer->svm_port <= VSOCK_LAST_PRIVILEGED_PORT;
}

/* A new host on the listener replaces the one before (see the top); a peer
 * that is not a host is closed before it can send a byte. */
static void accept_host(void)
{
	struct sockaddr_vm peer = {0};
	socklen_t pl = sizeof(peer);
	int fd = accept4(listen_fd, listen_vsock ? (struct sockaddr *)&peer : NULL,
			 listen_vsock ? &pl : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return; /* EAGAIN, or the peer gave up already */
	if (listen_vsock && (pl < sizeof(peer) || peer.svm_family != AF_VSOCK ||
			     !vsock_peer_is_host(fd, &peer))) {
		close_fd(&fd);
		/* Logged at the 1st, 2nd, 4th, ... refusal: a process that
		 * keeps trying cannot flood the console. */
		refused_peers++;
		if ((refused_peers & (refused_peers - 1)) == 0)
			logmsg("refused vsock connection from cid %u port %u (%lu so far): "
			       "only the host (cid 2) or root in this guest (a source port <= %u)",
			       peer.svm_cid, peer.svm_port, refused_peers, VSOCK_LAST_PRIVILEGED_PORT);
		return;
	}
	if (vsock.fd >= 0) {
		logmsg("new %s host: dropping the previous connection", vsock.name);
		on_disconnect(&vsock);
	}
	vsock.fd = fd;
	on_connect(&vsock);
}

/* The vsock listener on port 1024. A test on the host may ask for a unix
 * socket path instead (NOID_AGENT_LISTEN): accept() and the rest of the
 * connection handling are the same for both. */
static int open_listener(void)
{
	const char *unix_path = getenv("NOID_AGENT_LISTEN");
	int fd;
	if (unix_path) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		if (strlen(unix_path) >= sizeof(a.sun_path)) {
			logmsg("NOID_AGENT_LISTEN: path longer than %zu bytes", sizeof(a.sun_path) - 1);
			return -1;
		}
		strcpy(a.sun_path, unix_path);
		unlink(unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)) {
			logmsg("cannot listen on %s: %s", unix_path, strerror(errno));
			close_fd(&fd);
		}
		vsock.name = "unix socket";
		return fd;
	}
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		/* A guest without vsock (a QEMU guest may have none): the port
		 * alone serves. */
		logmsg("no vsock listener: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = VSOCK_PORT};
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0) {
		logmsg("cannot listen on vsock port %u: %s", VSOCK_PORT, strerror(errno));
		close_fd(&fd);
	}
	listen_vsock = fd >= 0;
	return fd;
}

/* Find /dev/<name> for the virtio port called PORT_NAME. */
static int open_port(char *path, size_t pathlen)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	if (!d)
		return -1;
	struct dirent *de;
	int fd = -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char npath[512], name[128];
		snprintf(npath, sizeof(npath), "/sys/class/virtio-ports/%s/name", de->d_name);
		int nfd = open(npath, O_RDONLY | O_CLOEXEC);
		if (nfd < 0)
			continue;
		ssize_t n = read(nfd, name, sizeof(name) - 1);
		close(nfd);
		if (n <= 0)
			continue;
		name[n] = 0;
		name[strcspn(name, "\n")] = 0;
		if (strcmp(name, PORT_NAME) != 0)
			continue;
		snprintf(path, pathlen, "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		break;
	}
	closedir(d);
	return fd;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void on_sigchld(int sig)
{
	(void)sig;
	int saved = errno;
	/* The pipe is non-blocking: if it is full a wakeup is pending anyway. */
	if (write(sigchld_pipe[1], "x", 1) < 0) {
	}
	errno = saved;
}

/* Make sure fds 0-2 exist, so no pipe of ours lands on them and gets
 * clobbered by dup2() in a child. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0) {
			int n = open("/dev/null", O_RDWR);
			if (n >= 0 && n != fd) {
				dup2(n, fd);
				close(n);
			}
		}
	}
}

/* ---------- tool mode: probe ---------- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int probe_send(int fd, uint8_t type, uint32_t stream, const void *body, size_t n)
{
	uint8_t *f = xrealloc(NULL, HDR_LEN + n);
	write_header(f, type, stream, n);
	if (n)
		memcpy(f + HDR_LEN, body, n);
	int r = write_all(fd, f, HDR_LEN + n);
	free(f);
	return r;
}

/* One whole frame; *body (NUL-terminated for printing) is the caller's. */
static int probe_recv(int fd, uint8_t *type, uint32_t *stream, uint8_t **body, size_t *n)
{
	uint8_t h[HDR_LEN];
	if (read_all(fd, h, HDR_LEN) < 0)
		return -1;
	uint32_t len = get_u32(h);
	if (len < 5 || len > MAX_LEN)
		return -1;
	*type = h[4];
	*stream = get_u32(h + 5);
	*n = len - 5;
	*body = xrealloc(NULL, *n + 1);
	(*body)[*n] = 0;
	return read_all(fd, *body, *n);
}

static int probe_connect(unsigned cid, unsigned port, const char *unix_path, char *where, size_t wl)
{
	int fd;
	if (unix_path) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path);
		snprintf(where, wl, "unix socket %s", unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			close_fd(&fd);
	} else {
		struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
		snprintf(where, wl, "vsock cid %u port %u", cid, port);
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		/* The agent serves a peer in its own guest only from a
		 * privileged port (see the top), so take the highest free one.
		 * Without one (not root) connect anyway: the agent says no,
		 * and an old agent would not. */
		unsigned p = VSOCK_LAST_PRIVILEGED_PORT;
		for (; fd >= 0 && p > 0; p--) {
			struct sockaddr_vm me = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = p};
			if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0)
				break;
			if (errno != EADDRINUSE) {
				logmsg("probe: cannot bind a privileged vsock port (%s): an agent refuses "
				       "a connection from its own guest without one", strerror(errno));
				break;
			}
		}
		if (fd >= 0 && p == 0)
			logmsg("probe: every privileged vsock port is taken: an agent refuses "
			       "a connection from its own guest without one");
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			close_fd(&fd);
	}
	return fd;
}

/* Checks that an agent answers (RESET -> PONG) and runs CMD there if given,
 * passing on its output and exit status. For an operator in a guest, and for
 * the image's test of the vsock side from the serial side. */
static int run_probe(int argc, char **argv)
{
	unsigned cid = VMADDR_CID_LOCAL, port = VSOCK_PORT;
	const char *unix_path = NULL;
	int i = 2;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--cid") == 0 && i + 1 < argc) {
			cid = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			port = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc) {
			unix_path = argv[++i];
		} else {
			logmsg("usage: noid-guest-agent probe [--cid N] [--port P] [--unix PATH] [-- CMD ARGS...]");
			return 2;
		}
	}
	char where[160];
	int fd = probe_connect(cid, port, unix_path, where, sizeof(where));
	if (fd < 0) {
		logmsg("probe: cannot connect to %s: %s", where, strerror(errno));
		return 1;
	}
	/* An agent that refused us has closed the socket: a write must fail
	 * with EPIPE (and say so), not kill the probe. */
	signal(SIGPIPE, SIG_IGN);
	/* A dead agent must not hang the probe; a command may run long. */
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char nonce[32];
	int nl = snprintf(nonce, sizeof(nonce), "probe-%d", (int)getpid());
	if (probe_send(fd, T_RESET, 0, nonce, (size_t)nl) < 0) {
		logmsg("probe: %s: cannot send RESET: %s", where, strerror(errno));
		return 1;
	}
	errno = 0; /* read() at EOF sets none: "closed" below, not an old error */
	for (;;) {
		uint8_t type, *body;
		uint32_t stream;
		size_t n;
		if (probe_recv(fd, &type, &stream, &body, &n) < 0) {
			logmsg("probe: %s: no PONG to RESET (%s)", where, errno ? strerror(errno) : "closed");
			return 1;
		}
		int pong = type == T_PONG && n == (size_t)nl && memcmp(body, nonce, n) == 0;
		free(body); /* a HELLO may come first */
		if (pong)
			break;
	}
	if (i >= argc) {
		printf("agent answers on %s\n", where);
		return 0;
	}
	struct timeval none = {0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	struct bytes req = {0};
	uint32_t cmdc = (uint32_t)(argc - i);
	put_u32(bytes_reserve(&req, 4), cmdc);
	req.len += 4;
	for (int k = i; k < argc; k++) {
		size_t l = strlen(argv[k]);
		uint8_t *p = bytes_reserve(&req, 4 + l);
		put_u32(p, (uint32_t)l);
		memcpy(p + 4, argv[k], l);
		req.len += 4 + l;
	}
	put_u32(bytes_reserve(&req, 8), 0);     /* no env */
	put_u32(req.data + req.len + 4, 0);     /* no flags */
	req.len += 8;
	if (probe_send(fd, T_EXEC, 1, req.data, req.len) < 0) {
		logmsg("probe: %s: cannot send EXEC: %s", where, strerror(errno));
		return 1;
	}
	for (;;) {
		uint8_t type, *body;
		uint32_t stream;
		size_t n;
		if (probe_recv(fd, &type, &stream, &body, &n) < 0) {
			logmsg("probe: %s: connection ended before EXIT", where);
			return 1;
		}
		int status = -1;
		if (type == T_STDOUT && stream == 1)
			write_all(1, body, n);
		else if (type == T_STDERR && stream == 1)
			write_all(2, body, n);
		else if (type == T_EXIT && stream == 1 && n == 4)
			status = (int)get_u32(body);
		else if (type == T_ERROR) {
			logmsg("probe: %s: agent error: %s", where, (char *)body);
			status = 1;
		}
		free(body);
		if (status >= 0)
			return status;
	}
}

/* ---------- tool mode: reseed ---------- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Writing to /dev/urandom only mixes bytes into the pool: the generator
 * keeps its state until its next timed reseed, so two guests restored from
 * one memory image would go on producing the same output until then.
 * RNDADDENTROPY credits the bytes and RNDRESEEDCRNG makes the generator
 * take its next key from the pool now. */
static int reseed_hex(const char *hex)
{
	const size_t max = 512;
	size_t len = hex ? strlen(hex) : 0;
	if (len == 0 || len % 2 != 0 || len / 2 > max) {
		logmsg("reseed: HEX must be an even number of hex digits, at most %zu bytes", max);
		return 2;
	}
	size_t n = len / 2;
	struct rand_pool_info *info = xrealloc(NULL, sizeof(*info) + n);
	info->entropy_count = (int)(n * 8);
	info->buf_size = (int)n;
	uint8_t *buf = (uint8_t *)info->buf;
	for (size_t k = 0; k < n; k++) {
		int hi = hexval(hex[2 * k]), lo = hexval(hex[2 * k + 1]);
		if (hi < 0 || lo < 0) {
			logmsg("reseed: not a hex digit at position %zu", hi < 0 ? 2 * k : 2 * k + 1);
			free(info);
			return 2;
		}
		buf[k] = (uint8_t)(hi << 4 | lo);
	}
	/* This runs inside the long-lived agent too (identity): nothing may leak. */
	int status = 0;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY, info) < 0) {
		logmsg("reseed: cannot add entropy: %s", strerror(errno));
		status = 1;
	} else if (ioctl(fd, RNDRESEEDCRNG) < 0 && errno != ENODATA) {
		/* ENODATA: not seeded yet; its first seed comes from the pool,
		 * which now holds these bytes. */
		logmsg("reseed: cannot reseed: %s", strerror(errno));
		status = 1;
	}
	memset(buf, 0, n);
	free(info);
	if (fd >= 0)
		close(fd);
	return status;
}

static int run_reseed(int argc, char **argv)
{
	if (argc != 3) {
		logmsg("usage: noid-guest-agent reseed HEX");
		return 2;
	}
	return reseed_hex(argv[2]);
}

/* ---------- tool mode: identity ---------- */

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	size_t len = strlen(text), done = 0;
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	return close(fd);
}

/* Everything a guest restored from a snapshot makes its own, in one step
 * list without a shell: right after a restore every code path the guest runs
 * is cold (under TCG each is translated again), and a script's fork and exec
 * of a shell, hostname, date and this tool cost most of a golden create. The
 * agent runs it in its own process when asked to exec "noid-guest-agent
 * identity ..." (handle_exec), so a create forks nothing. Steps as
 * IdentitySteps.java names them; the first that fails ends it, its message
 * (into err) naming it. Returns an exit status: 0, 1 (a step failed) or 2. */
static int apply_identity(char **argv, char *err, size_t errlen)
{
	const char *host = argv[2];
	char *end = NULL;
	errno = 0;
	long long ms = strtoll(argv[3], &end, 10);
	/* "keep": the guest is the same machine again (its own checkpoint restored), not a copy. */
	int keep = strcmp(argv[5], "keep") == 0;
	int bad = errno || !end || end == argv[3] || *end || ms < 0 || strlen(host) == 0 ||
		  strlen(host) > 64 || (!keep && strlen(argv[5]) != 32);
	/* Host-chosen values, checked anyway: a newline in a name would add lines to /etc/hosts. */
	for (const char *p = host; !bad && *p; p++)
		bad = !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.');
	for (const char *p = argv[5]; !bad && !keep && *p; p++)
		bad = hexval(*p) < 0;
	if (bad) {
		snprintf(err, errlen, "usage: noid-guest-agent identity HOSTNAME EPOCH_MS SEED_HEX"
			 " MACHINE_ID_HEX|keep");
		return 2;
	}
	char text[256];
	snprintf(text, sizeof text, "%s\n", host);
	if (sethostname(host, strlen(host)) < 0 || write_text("/etc/hostname", text) < 0) {
		snprintf(err, errlen, "identity step hostname failed: %s", strerror(errno));
		return 1;
	}
	snprintf(text, sizeof text, "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n", host);
	if (write_text("/etc/hosts", text) < 0) {
		snprintf(err, errlen, "identity step hostname failed: /etc/hosts: %s", strerror(errno));
		return 1;
	}
	struct timespec now = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	if (clock_settime(CLOCK_REALTIME, &now) < 0) {
		snprintf(err, errlen, "identity step clock failed: %s", strerror(errno));
		return 1;
	}
	if (reseed_hex(argv[4]) != 0) {
		snprintf(err, errlen, "identity step entropy failed");
		return 1;
	}
	if (!keep && access("/etc/machine-id", F_OK) == 0) {
		snprintf(text, sizeof text, "%s\n", argv[5]);
		if (write_text("/etc/machine-id", text) < 0) {
			snprintf(err, errlen, "identity step machine-id failed: %s", strerror(errno));
			return 1;
		}
	}
	return 0;
}

static int is_identity(char **argv, uint32_t argc)
{
	return argc == 6 && strcmp(argv[0], "noid-guest-agent") == 0 &&
	       strcmp(argv[1], "identity") == 0;
}

static int run_identity(int argc, char **argv)
{
	char err[256] = "";
	if (argc != 6) {
		logmsg("usage: noid-guest-agent identity HOSTNAME EPOCH_MS SEED_HEX MACHINE_ID_HEX");
		return 2;
	}
	/* argv is the exec's as handle_exec sees it: [tool, "identity", ...] */
	int status = apply_identity(argv, err, sizeof err);
	if (status != 0)
		logmsg("%s", err);
	return status;
}

/* ---------- serving ---------- */

/* Socket connections end on EOF or error, which read() reports; the port's
 * end is POLLHUP, and POLLIN there means data. */
static void handle_conn_events(struct conn *c, short rev)
{
	if (!c->connected || !rev)
		return;
	if (!c->is_socket && (rev & POLLHUP)) {
		on_disconnect(c);
		return;
	}
	if (rev & (POLLIN | (c->is_socket ? POLLHUP | POLLERR : 0)))
		read_conn(c);
	if (c->connected && (rev & POLLOUT))
		flush_conn(c);
}

static int serve(void)
{
	ensure_std_fds();
	/* A write to a child's closed stdin must be an error, not our death. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(sigchld_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		logmsg("pipe: %s", strerror(errno));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);

	listen_fd = open_listener();
	if (listen_fd >= 0)
		logmsg("listening on %s", getenv("NOID_AGENT_LISTEN") ? getenv("NOID_AGENT_LISTEN")
								      : "vsock port 1024");
	/* Test hook: run on the host against an inherited fd (e.g. one end of
	 * a socketpair) instead of the virtio port. */
	const char *test_fd = getenv("NOID_AGENT_FD");
	if (test_fd) {
		serial.fd = atoi(test_fd);
		set_nonblock_cloexec(serial.fd);
		logmsg("using fd %d", serial.fd);
	}
	/* The port appears once virtio_console has probed, and init starts us
	 * right after insmod: look for it with a short, growing back-off, in
	 * the loop, so that vsock is served meanwhile. A Cloud Hypervisor guest
	 * has no such port: the search ends when a host comes over vsock. */
	int searching = serial.fd < 0 && !getenv("NOID_AGENT_LISTEN");
	long backoff = 20, next_search = now_ms();
	int warned = 0;

	static struct pollfd pfd[4 + 3 * MAX_STREAMS];
	static struct stream *owner[4 + 3 * MAX_STREAMS];
	for (;;) {
		if (searching && vsock.connected) {
			logmsg("host came over vsock: not looking for virtio port %s any more", PORT_NAME);
			searching = 0;
		}
		if (searching && now_ms() >= next_search) {
			char path[300];
			if ((serial.fd = open_port(path, sizeof(path))) >= 0) {
				logmsg("using %s", path);
				searching = 0;
			} else {
				if (!warned && backoff >= PORT_SEARCH_MAX_MS) {
					logmsg("waiting for virtio port %s", PORT_NAME);
					warned = 1;
				}
				next_search = now_ms() + backoff;
				if (backoff < PORT_SEARCH_MAX_MS)
					backoff *= 2;
			}
		}
		if (serial.fd >= 0 && !serial.connected && host_connected_now())
			on_connect(&serial);
		flush_conn(&serial);
		flush_conn(&vsock);

		int np = 0;
		pfd[np++] = (struct pollfd){.fd = sigchld_pipe[0], .events = POLLIN};
		/* Without a host the port is always "ready" (POLLHUP), so leave
		 * it out and re-check on a timer instead of spinning. */
		pfd[np++] = (struct pollfd){
			.fd = serial.connected ? serial.fd : -1,
			.events = POLLIN | (bytes_pending(&serial.outq) ? POLLOUT : 0),
		};
		pfd[np++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		pfd[np++] = (struct pollfd){
			.fd = vsock.connected ? vsock.fd : -1,
			.events = POLLIN | (bytes_pending(&vsock.outq) ? POLLOUT : 0),
		};
		const int first_stream = np;
		for (int i = 0; i < nstreams; i++) {
			struct stream *s = streams[i];
			int want_output = bytes_pending(&s->conn->outq) < OUT_HIGH_WATER;
			if (want_output && s->out_fd >= 0) {
				owner[np] = s;
				pfd[np++] = (struct pollfd){.fd = s->out_fd, .events = POLLIN};
			}
			if (want_output && s->err_fd >= 0) {
				owner[np] = s;
				pfd[np++] = (struct pollfd){.fd = s->err_fd, .events = POLLIN};
			}
			if (s->in_fd >= 0 && bytes_pending(&s->in) > 0) {
				owner[np] = s;
				pfd[np++] = (struct pollfd){.fd = s->in_fd, .events = POLLOUT};
			}
		}

		long timeout = -1;
		if (serial.fd >= 0 && !serial.connected)
			timeout = DISCONNECTED_TICK_MS;
		if (searching) {
			long wait = next_search - now_ms();
			if (wait < 0)
				wait = 0;
			if (timeout < 0 || wait < timeout)
				timeout = wait;
		}
		int r = poll(pfd, (nfds_t)np, (int)timeout);
		if (r < 0) {
			if (errno != EINTR) {
				logmsg("poll: %s", strerror(errno));
				sleep_ms(100);
			}
			continue;
		}

		if (pfd[0].revents) {
			char drain[64];
			while (read(sigchld_pipe[0], drain, sizeof(drain)) > 0)
				;
		}

		/* Host frames may end streams and start new ones (a new stream
		 * can reuse a freed one's address and fds): then this round's
		 * stream results are stale, and the next poll() reports again. */
		unsigned long epoch = stream_epoch;
		handle_conn_events(&serial, pfd[1].revents);
		if (pfd[2].revents & POLLIN)
			accept_host();
		handle_conn_events(&vsock, pfd[3].revents);

		for (int i = first_stream; i < np && epoch == stream_epoch; i++) {
			if (!pfd[i].revents)
				continue;
			/* Streams may end (and be freed) below; each pollfd is
			 * matched back to a stream that still exists first. */
			struct stream *s = owner[i];
			int alive = 0;
			for (int j = 0; j < nstreams; j++)
				alive |= streams[j] == s;
			if (!alive)
				continue;
			if (pfd[i].fd == s->out_fd)
				read_child_output(s, &s->out_fd, T_STDOUT);
			else if (pfd[i].fd == s->err_fd)
				read_child_output(s, &s->err_fd, T_STDERR);
			else if (pfd[i].fd == s->in_fd)
				write_child_stdin(s);
		}
		reap_children();
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "probe") == 0)
		return run_probe(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "reseed") == 0)
		return run_reseed(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "growfs") == 0)
		return run_growfs(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "identity") == 0)
		return run_identity(argc, argv);
	if (argc >= 2) {
		logmsg("usage: noid-guest-agent [probe ... | reseed HEX | growfs MOUNTPOINT |"
		       " identity HOSTNAME EPOCH_MS SEED_HEX MACHINE_ID_HEX|keep]");
		return 2;
	}
	return serve();
}
