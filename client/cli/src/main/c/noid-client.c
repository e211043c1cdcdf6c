/*
 * noid-client: the thin client of the noid CLI in C. It sends the command line to the per-user
 * daemon (dev.noid.cli.daemon.DaemonServer) over its Unix socket and relays the answer; the
 * protocol is dev.noid.cli.launch.Frames. A JVM, even one that loads a dozen classes, costs
 * 50-150 ms here before the first byte; this costs about 1 ms.
 *
 * The launcher (deploy/bin/noid) builds it with the system C compiler on first use and runs
 * it with NOID_LAUNCHER, NOID_JAVA_HOME and NOID_CP set. When there is no daemon to talk to,
 * it runs the launcher again with NOID_CLIENT=java (the Java thin client starts the daemon);
 * when the daemon says the command needs this terminal, with NOID_DAEMON=0 (in-process).
 *
 * Whoever listens on the socket gets the command line and NOID_TOKEN and writes what the user
 * sees, so the client connects only through a directory that is the user's own and closed to
 * others (private_dir); else it runs the command in-process, which needs no socket.
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef O_PATH
#define O_PATH O_RDONLY /* without it, a working directory we can read */
#endif

#define MAGIC 0x4e4f4931u /* "NOI1", as Frames.MAGIC */
#define STDOUT_FRAME 1
#define STDERR_FRAME 2
#define EXIT_FRAME 3
#define RUN_LOCALLY_FRAME 4

extern char **environ;
static char **args;
static const char *forwarded[] = {"NOID_URL", "NOID_TOKEN", "NOID_CA_FILE", "NOID_CONFIG_DIR", "HOME",
                                  "XDG_CONFIG_HOME", "COLUMNS", "NO_COLOR", "TERM", "NOID_TIMING", NULL};

/* Runs the launcher again, with NAME=VALUE added: the Java client or the in-process path. */
static void relaunch(const char *name, const char *value) {
  const char *launcher = getenv("NOID_LAUNCHER");
  if (launcher == NULL) {
    fprintf(stderr, "noid: NOID_LAUNCHER is not set (run noid-client through deploy/bin/noid)\n");
    exit(1);
  }
  setenv(name, value, 1);
  args[0] = (char *)launcher;
  execv(launcher, args);
  fprintf(stderr, "noid: cannot run %s: %s\n", launcher, strerror(errno));
  exit(1);
}

/* FNV-1a over the same string as DaemonAddress.key: Java home, then each jar's path|size|mtime. */
static uint64_t fnv(uint64_t h, const char *s) {
  for (; *s; s++) {
    h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  }
  return h;
}

/* The daemon's directory (as DaemonAddress.of) and its socket's name in it (as socket()). */
static int daemon_address(char *dir, size_t dir_size, char *name, size_t name_size) {
  const char *home = getenv("NOID_JAVA_HOME"), *cp = getenv("NOID_CP");
  if (home == NULL || cp == NULL) {
    return -1;
  }
  uint64_t h = fnv(0xcbf29ce484222325ULL, home);
  char *jars = strdup(cp), *save = NULL;
  for (char *jar = strtok_r(jars, ":", &save); jar; jar = strtok_r(NULL, ":", &save)) {
    char buf[64];
    struct stat st;
    h = fnv(fnv(h, "|"), jar);
    if (stat(jar, &st) == 0) {
      long long ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
      snprintf(buf, sizeof buf, "|%lld|%lld", (long long)st.st_size, ms);
      h = fnv(h, buf);
    }
  }
  free(jars);
  const char *runtime = getenv("XDG_RUNTIME_DIR"), *user_home = getenv("HOME");
  int n = runtime && *runtime ? snprintf(dir, dir_size, "%s/noid", runtime)
                              : snprintf(dir, dir_size, "%s/.cache/noid/daemon", user_home ? user_home : "/");
  int m = snprintf(name, name_size, "d-%llx.sock", (unsigned long long)h);
  return n > 0 && (size_t)n < dir_size && m > 0 && (size_t)m < name_size ? 0 : -1;
}

/*
 * The daemon's directory, open, when it is a directory (not a symbolic link) owned by this
 * user that no one else can enter: only then can no one else have put the socket there. -1
 * when it does not exist (the Java client makes it); else says why on stderr and runs the
 * command in-process. Held open, so that the socket is looked up in the directory checked, not
 * in one put in its place since. The same check as DaemonAddress.distrust: a too-open directory
 * is refused, not repaired, as a socket another user made in it while it was open would stay.
 */
static int private_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    return -1;
  }
  char why[128];
  struct stat st;
  if (fd < 0) {
    int e = errno;
    snprintf(why, sizeof why, "%s", lstat(dir, &st) != 0 ? strerror(e) : S_ISLNK(st.st_mode) ? "a symbolic link"
                                    : !S_ISDIR(st.st_mode) ? "not a directory" : strerror(e));
  } else if (fstat(fd, &st) != 0) {
    snprintf(why, sizeof why, "%s", strerror(errno));
  } else if (st.st_uid != geteuid()) {
    snprintf(why, sizeof why, "owned by uid %ld, not %ld", (long)st.st_uid, (long)geteuid());
  } else if ((st.st_mode & 077) != 0) {
    snprintf(why, sizeof why, "mode %03o: other users can enter it", (unsigned)(st.st_mode & 0777));
  } else {
    return fd;
  }
  fprintf(stderr, "noid: not using the daemon socket in %s (%s; remove it and noid makes a private one); "
                  "running in this process\n", dir, why);
  relaunch("NOID_DAEMON", "0");
  return -1;
}

/* Connects to NAME in the directory DIR_FD; the working directory is the caller's again after. */
static int connect_in(int dir_fd, const char *name) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", name);
  int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (here < 0 || fd < 0) {
    close(here);
    close(fd);
    return -1;
  }
  /* A relative name is looked up from the working directory: the directory held open. */
  int ok = fchdir(dir_fd) == 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
  if (fchdir(here) != 0) {
    fprintf(stderr, "noid: cannot return to the working directory: %s\n", strerror(errno));
    exit(1);
  }
  close(here);
  if (!ok) {
    close(fd);
    return -1;
  }
  return fd;
}

/* A growable request buffer in the big-endian layout of DataOutputStream. */
static char *req;
static size_t req_len, req_cap;

static void put(const void *p, size_t n) {
  if (req_len + n > req_cap) {
    req_cap = (req_len + n) * 2 + 1024;
    req = realloc(req, req_cap);
    if (req == NULL) {
      exit(1);
    }
  }
  memcpy(req + req_len, p, n);
  req_len += n;
}

static void put_int(uint32_t v) {
  unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};
  put(b, 4);
}

static void put_str(const char *s) {
  put_int((uint32_t)strlen(s));
  put(s, strlen(s));
}

static int read_full(int fd, void *p, size_t n) {
  for (size_t got = 0; got < n;) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) {
        continue;
      }
      return -1;
    }
    got += (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *p, size_t n) {
  for (size_t done = 0; done < n;) {
    ssize_t w = write(fd, (const char *)p + done, n - done);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    done += (size_t)w;
  }
  return 0;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* As the Java client's CliException.failureOf: exec's other codes are its guest command's. */
static int failure_of(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (argv[i][0] != '-') {
      return strcmp(argv[i], "exec") == 0 ? 255 : 1;
    }
  }
  return 1;
}

int main(int argc, char **argv) {
  double started = now_ms();
  args = argv;
  int failed = failure_of(argc, argv);
  char dir[4096], name[64], cwd[4096];
  if (daemon_address(dir, sizeof dir, name, sizeof name) != 0 || getcwd(cwd, sizeof cwd) == NULL) {
    relaunch("NOID_CLIENT", "java");
  }
  int dir_fd = private_dir(dir);
  int fd = dir_fd < 0 ? -1 : connect_in(dir_fd, name);
  if (fd < 0) {
    relaunch("NOID_CLIENT", "java"); /* no daemon yet: the Java client starts it */
  }
  close(dir_fd);
  double connected = now_ms();
  put_int(MAGIC);
  put_int((uint32_t)(argc - 1));
  for (int i = 1; i < argc; i++) {
    put_str(argv[i]);
  }
  int envc = 0;
  for (int i = 0; forwarded[i]; i++) {
    envc += getenv(forwarded[i]) != NULL;
  }
  put_int((uint32_t)envc);
  for (int i = 0; forwarded[i]; i++) {
    const char *v = getenv(forwarded[i]);
    if (v != NULL) {
      put_str(forwarded[i]);
      put_str(v);
    }
  }
  put_str(cwd);
  unsigned char ttys = (isatty(0) ? 1 : 0) | (isatty(1) ? 2 : 0) | (isatty(2) ? 4 : 0);
  put(&ttys, 1);
  if (write_full(fd, req, req_len) != 0) {
    relaunch("NOID_CLIENT", "java");
  }
  static char buf[65536];
  for (;;) {
    unsigned char head[5];
    if (read_full(fd, head, 5) != 0) {
      fprintf(stderr, "noid: the daemon closed the connection without an exit code (see its log; "
                      "NOID_DAEMON=0 runs commands without it)\n");
      return failed;
    }
    uint32_t len = (uint32_t)head[1] << 24 | (uint32_t)head[2] << 16 | (uint32_t)head[3] << 8 | head[4];
    if (head[0] == RUN_LOCALLY_FRAME) {
      close(fd);
      relaunch("NOID_DAEMON", "0"); /* it needs this terminal */
    }
    if (head[0] == EXIT_FRAME) {
      unsigned char c[4];
      if (len != 4 || read_full(fd, c, 4) != 0) {
        return failed;
      }
      int code = (int)((uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 | (uint32_t)c[2] << 8 | c[3]);
      const char *launched = getenv("NOID_T_LAUNCHER");
      if (getenv("NOID_TIMING") && launched) {
        double l = atof(launched) * 1e3, done = now_ms();
        fprintf(stderr, "noid-timing: c-client launcher=%.1f connect=%.1f daemon=%.1f\n",
                started - l, connected - started, done - connected);
      }
      return code;
    }
    int out = head[0] == STDOUT_FRAME ? 1 : 2;
    while (len > 0) {
      size_t n = len < sizeof buf ? len : sizeof buf;
      if (read_full(fd, buf, n) != 0) {
        return failed;
      }
      if (write_full(out, buf, n) != 0) {
        /* The reader went (`noid watch | head -1`, SIGPIPE ignored): hanging up ends the
         * command in the daemon, which would otherwise run on unread. 141: as a shell
         * reports SIGPIPE. */
        close(fd);
        return 141;
      }
      len -= (uint32_t)n;
    }
  }
}
