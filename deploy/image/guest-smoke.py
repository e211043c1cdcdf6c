#!/usr/bin/env python3
"""Boot the Noid dev guest image under QEMU/TCG and exercise the guest agent.

A dev tool (python3, stdlib only): it builds nothing. Build the image first
with deploy/image/build-dev-image.sh. Exits non-zero on the first failure.

    guest-smoke.py [IMAGE_DIR] [--keep] [--qemu PATH]

IMAGE_DIR defaults to ${NOID_IMAGE_DIR:-~/.cache/noid/images/dev}.
The protocol is specified in docs/guest-protocol.md; GuestClient below is a
small, complete host-side client of it.
"""
import argparse
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

# ---------------------------------------------------------------- protocol --

PING, EXEC, STDIN, STDIN_CLOSE, SIGNAL, RESIZE, RESET = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
HELLO, PONG, STDOUT, STDERR, EXIT, ERROR = 0x80, 0x81, 0x82, 0x83, 0x84, 0x85
FLAG_STDIN, FLAG_TTY = 0x1, 0x2
MAX_LEN = (1 << 20) + 5
TYPE_NAMES = {
    PING: "PING", EXEC: "EXEC", STDIN: "STDIN", STDIN_CLOSE: "STDIN_CLOSE",
    SIGNAL: "SIGNAL", RESIZE: "RESIZE", RESET: "RESET", HELLO: "HELLO", PONG: "PONG",
    STDOUT: "STDOUT", STDERR: "STDERR", EXIT: "EXIT", ERROR: "ERROR",
}


class ProtocolError(Exception):
    pass


def encode_frame(ftype, stream, body=b""):
    return struct.pack(">IBI", len(body) + 5, ftype, stream) + body


def encode_exec(argv, env=None, flags=0):
    def strings(items):
        out = [struct.pack(">I", len(items))]
        for s in items:
            b = s.encode() if isinstance(s, str) else s
            out.append(struct.pack(">I", len(b)) + b)
        return b"".join(out)

    env = env or {}
    envs = [f"{k}={v}" for k, v in env.items()]
    return strings(argv) + strings(envs) + struct.pack(">I", flags)


class Result:
    def __init__(self, stream):
        self.stream = stream
        self.stdout = b""
        self.stderr = b""
        self.exit = None      # int once EXIT arrived
        self.error = None     # str if ERROR ended the stream

    @property
    def done(self):
        return self.exit is not None or self.error is not None

    def __repr__(self):
        return (f"Result(stream={self.stream}, exit={self.exit}, error={self.error!r}, "
                f"stdout={self.stdout!r}, stderr={self.stderr!r})")


class GuestClient:
    """One connection to the agent's socket. Frames for streams this client
    did not start are ignored, as the protocol asks of hosts."""

    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.buf = b""
        self.results = {}       # stream id -> Result, for streams we started
        self.control = []       # (type, body) frames on stream 0
        self.next_stream = 1

    def close(self):
        self.sock.close()

    def send(self, ftype, stream, body=b""):
        self.sock.sendall(encode_frame(ftype, stream, body))

    def _read_frame(self, deadline):
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">I", self.buf[:4])
                if n < 5 or n > MAX_LEN:
                    raise ProtocolError(f"bad frame length {n}")
                if len(self.buf) >= 4 + n:
                    ftype, stream = struct.unpack(">BI", self.buf[4:9])
                    body = self.buf[9:4 + n]
                    self.buf = self.buf[4 + n:]
                    return ftype, stream, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out waiting for a frame")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("timed out waiting for a frame") from None
            if not data:
                raise ProtocolError("agent socket closed")
            self.buf += data

    def pump(self, deadline):
        """Read and dispatch one frame."""
        ftype, stream, body = self._read_frame(deadline)
        if stream == 0:
            if ftype == ERROR:
                raise ProtocolError(f"agent ERROR on stream 0: {body.decode(errors='replace')}")
            self.control.append((ftype, body))
            return
        r = self.results.get(stream)
        if r is None or r.done:
            return  # not ours (e.g. a stream of an earlier connection)
        if ftype == STDOUT:
            r.stdout += body
        elif ftype == STDERR:
            r.stderr += body
        elif ftype == EXIT:
            (r.exit,) = struct.unpack(">i", body)
        elif ftype == ERROR:
            r.error = body.decode(errors="replace")
        else:
            raise ProtocolError(f"unexpected {TYPE_NAMES.get(ftype, hex(ftype))} on stream {stream}")

    def wait_control(self, ftype, timeout, body=None):
        deadline = time.monotonic() + timeout
        while True:
            for i, (t, b) in enumerate(self.control):
                if t == ftype and (body is None or b == body):
                    del self.control[i]
                    return b
            self.pump(deadline)

    def start(self, argv, env=None, flags=0):
        stream = self.next_stream
        self.next_stream += 1
        self.results[stream] = Result(stream)
        self.send(EXEC, stream, encode_exec(argv, env, flags))
        return stream

    def wait(self, stream, timeout=30):
        deadline = time.monotonic() + timeout
        r = self.results[stream]
        while not r.done:
            self.pump(deadline)
        del self.results[stream]
        return r

    def run(self, argv, env=None, stdin=None, timeout=30):
        flags = FLAG_STDIN if stdin is not None else 0
        s = self.start(argv, env, flags)
        if stdin is not None:
            if stdin:
                self.send(STDIN, s, stdin)
            self.send(STDIN_CLOSE, s)
        return self.wait(s, timeout)

    def ping(self, body, timeout=10):
        self.send(PING, 0, body)
        return self.wait_control(PONG, timeout, body)

    def reset(self, timeout=10):
        """RESET with a fresh nonce, then skip raw bytes up to the PONG that
        answers it: this also finds the frame boundary again if the
        connection started in the middle of a frame."""
        nonce = b"reset-" + os.urandom(8).hex().encode()
        self.send(RESET, 0, nonce)
        pattern = encode_frame(PONG, 0, nonce)
        deadline = time.monotonic() + timeout
        while pattern not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no PONG for RESET")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise ProtocolError("agent socket closed")
            self.buf += data
        skipped = self.buf.index(pattern)
        self.buf = self.buf[skipped + len(pattern):]
        self.results.clear()
        self.control.clear()
        return skipped


def connect_unix(path, deadline):
    """Connect, retrying until the socket exists and accepts (QEMU creates it
    a moment after it starts)."""
    last = None
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError) as e:
            last = e
            s.close()
            time.sleep(0.01)  # polling interval for a condition, with a deadline
    raise TimeoutError(f"cannot connect to {path}: {last}")


# ---------------------------------------------------------------- the VM ----

# Static network config for the NIC check. TEST-NET-1 addresses, and the NIC
# sits on QEMU's user backend with restrict=on: nothing leaves QEMU, and the
# check only reads the guest's configuration.
NET_ARGS = "noid.ip=192.0.2.10/24 noid.gw=192.0.2.1 noid.dns=192.0.2.53"


def qemu_command(qemu, image_dir, image, vmdir, disk, hostname, net=True):
    cmdline = f"{image['cmdline']} noid.hostname={hostname}"
    if net:
        cmdline += " " + NET_ARGS
    nic = ["-netdev", "user,id=net0,restrict=on",
           "-device", "virtio-net-pci,netdev=net0"] if net else []
    return [
        qemu,
        "-accel", "tcg", "-machine", "q35", "-cpu", "qemu64",
        "-m", "128", "-smp", "1",
        "-nographic", "-nodefaults", "-no-reboot",
        "-kernel", os.path.join(image_dir, image["kernel"]),
        "-initrd", os.path.join(image_dir, image["initramfs"]),
        "-append", cmdline,
        "-drive", f"file={disk},if=virtio,format=raw",
        "-chardev", f"socket,id=ser0,path={vmdir}/console.sock,server=on,wait=off,"
                    f"logfile={vmdir}/serial.log",
        "-serial", "chardev:ser0",
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", f"socket,id=agent0,path={vmdir}/agent.sock,server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=agent0,name=org.noid.agent.0",
    ] + nic


class Console:
    """The serial console socket: a shell prompt, as a person would use it."""

    def __init__(self, path, deadline):
        self.sock = connect_unix(path, deadline)
        self.seen = b""

    def expect_after(self, line, want, timeout):
        """Type `line` until `want` shows up (re-typing every few seconds,
        since input typed before the shell is up may be lost)."""
        deadline = time.monotonic() + timeout
        next_send = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(f"console: {want!r} not seen; got {self.seen[-400:]!r}")
            if now >= next_send:
                self.sock.sendall(line)
                next_send = now + 5
            self.sock.settimeout(max(0.05, min(deadline, next_send) - now))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not data:
                raise ProtocolError("console socket closed")
            self.seen += data
            if want in self.seen:
                self.seen = b""
                return

    def close(self):
        self.sock.close()


# ---------------------------------------------------------------- checks ----

def check(cond, what, detail=None):
    if not cond:
        raise AssertionError(f"{what}: {detail!r}" if detail is not None else what)
    print(f"  ok  {what}")


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)  # polling interval for a condition, with a deadline
    raise TimeoutError(what)


def smoke(args):
    image_dir = os.path.abspath(args.image_dir)
    with open(os.path.join(image_dir, "image.json")) as f:
        image = json.load(f)
    vmdir = tempfile.mkdtemp(prefix="noid-smoke-")
    disk = os.path.join(vmdir, "disk.ext4")
    subprocess.run(["cp", "--sparse=always", os.path.join(image_dir, image["disk"]), disk],
                   check=True)
    cmd = qemu_command(args.qemu, image_dir, image, vmdir, disk, "smoke", net=not args.no_net)
    print("qemu:", shlex.join(cmd))
    t0 = time.monotonic()
    qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(f"{vmdir}/qemu.out", "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    timings = {}
    try:
        agent = GuestClient(f"{vmdir}/agent.sock", time.monotonic() + 10)
        hello = agent.wait_control(HELLO, 60).decode()
        timings["boot_to_hello_s"] = time.monotonic() - t0
        print(f"HELLO after {timings['boot_to_hello_s']:.2f} s: {hello!r}")
        check(hello == "noid-guest-agent/1 hostname=smoke", "HELLO body", hello)
        serial = os.path.join(vmdir, "serial.log")
        wait_for(lambda: b"NOID-READY" in open(serial, "rb").read(), 30,
                 "NOID-READY on the serial console")
        check(True, "NOID-READY on the serial console")

        r = agent.run(["echo", "hi"])
        check(r.stdout == b"hi\n" and r.stderr == b"" and r.exit == 0, "echo hi", r)

        r = agent.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        check(r.stdout == b"out\n" and r.stderr == b"err\n" and r.exit == 3,
              "stdout, stderr and exit 3 kept apart", r)

        r = agent.run(["sh", "-c", "echo $FOO"], env={"FOO": "bar"})
        check(r.stdout == b"bar\n" and r.exit == 0, "env FOO=bar", r)

        r = agent.run(["sh", "-c", 'echo "$PATH $HOME $TERM"; pwd'])
        check(r.stdout == b"/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin:/run/noid"
              b" /root linux\n/\n",
              "default env and cwd", r)

        r = agent.run(["pwd"], env={"HOME": "/tmp"})
        check(r.stdout == b"/tmp\n", "HOME from the host is the cwd", r)

        r = agent.run(["/no/such/command"])
        check(r.exit == 127 and b"noid-guest-agent: /no/such/command: No such file" in r.stderr,
              "nonexistent command -> 127", r)
        r = agent.run(["no-such-command-either"])
        check(r.exit == 127, "nonexistent command on PATH -> 127", r)
        r = agent.run(["/etc/passwd"])
        check(r.exit == 126, "non-executable file -> 126", r)

        a = agent.start(["sh", "-c", "for i in 1 2 3; do echo A$i; done"])
        b = agent.start(["sh", "-c", "for i in 1 2 3; do echo B$i; done"])
        ra, rb = agent.wait(a), agent.wait(b)
        check(ra.stdout == b"A1\nA2\nA3\n" and ra.exit == 0 and
              rb.stdout == b"B1\nB2\nB3\n" and rb.exit == 0,
              "two concurrent execs keep their own output", (ra, rb))

        s = agent.start(["sleep", "30"])
        agent.ping(b"sleeping")  # the EXEC has been processed when PONG comes back
        agent.send(SIGNAL, s, struct.pack(">I", 9))
        r = agent.wait(s, timeout=10)
        check(r.exit == 137, "sleep 30 + SIGNAL 9 -> 137", r)

        r = agent.run(["cat"], stdin=b"abc")
        check(r.stdout == b"abc" and r.exit == 0, "cat with STDIN abc + STDIN_CLOSE", r)

        big = os.urandom(300_000).hex().encode()  # 600 KB through stdin and back
        r = agent.run(["sh", "-c", "cat | md5sum"], stdin=big)
        check(r.stdout.split()[0].decode() == hashlib.md5(big).hexdigest() and r.exit == 0,
              "600 KB of stdin", r.stdout)
        r = agent.run(["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x"])
        check(r.stdout == b"x" * 200000 and r.exit == 0, "200 KB of stdout", len(r.stdout))

        s = agent.start(["sh", "-c", "tty; stty size; echo $TERM"], flags=FLAG_TTY)
        r = agent.wait(s)
        check(r.stdout.startswith(b"/dev/pts/") and b"24 80" in r.stdout and
              b"xterm" in r.stdout and r.exit == 0, "TTY exec", r)

        s = agent.start(["sh", "-c", "read x; stty size; echo got $x"], flags=FLAG_TTY | FLAG_STDIN)
        agent.send(RESIZE, s, struct.pack(">HH", 40, 120))
        agent.send(STDIN, s, b"hello\n")
        r = agent.wait(s)
        check(b"40 120" in r.stdout and b"got hello" in r.stdout and r.exit == 0,
              "TTY with STDIN and RESIZE", r)

        r = agent.run(["hostname"])
        check(r.stdout == b"smoke\n", "hostname", r)

        r = agent.run(["cat", "/proc/mounts"])
        check(any(l.split()[1:3] == [b"/data", b"ext4"] for l in r.stdout.splitlines()),
              "/data is mounted (ext4)", r.stdout)

        if not args.no_net:
            r = agent.run(["sh", "-c", "ip -4 addr show eth0; ip route; cat /etc/resolv.conf"])
            out = r.stdout.decode()
            check("inet 192.0.2.10/24" in out and "default via 192.0.2.1 dev eth0" in out
                  and "nameserver 192.0.2.53" in out, "eth0 configured from noid.ip/gw/dns", out)

        r = agent.run(["sh", "-c", "free -h >/dev/null && top -bn1 >/dev/null && df /data >/dev/null"
                       " && ip addr show lo | grep -q 127.0.0.1 && sync && echo fine"])
        check(r.stdout == b"fine\n", "free, top, df, ip, sync", r)

        # Malformed frames are reported on stream 0 and change nothing.
        agent.send(0x42, 0, b"")
        try:
            agent.wait_control(PONG, 10, b"never")
            raise AssertionError("expected an ERROR for an unknown type")
        except ProtocolError as e:
            check("unknown frame type" in str(e), "unknown frame type -> ERROR on stream 0", str(e))
        s = agent.start(["sleep", "30"])
        agent.send(EXEC, s, encode_exec(["true"]))
        try:
            agent.wait_control(PONG, 10, b"never")
            raise AssertionError("expected an ERROR for a stream id in use")
        except ProtocolError as e:
            check("already in use" in str(e), "EXEC on a stream in use -> ERROR on stream 0", str(e))
        agent.send(SIGNAL, s, struct.pack(">I", 15))
        r = agent.wait(s)
        check(r.exit == 143, "... and the running stream is unaffected (SIGTERM -> 143)", r)
        s = agent.start([])
        r = agent.wait(s)
        check(r.error is not None and r.exit is None, "EXEC argc 0 -> ERROR on the stream", r)

        # Disconnect with a running exec: the agent must kill it. Watched from
        # the serial console, since no host is attached to the agent then.
        agent.start(["sleep", "1000"])
        agent.ping(b"before-disconnect")
        agent.close()
        con = Console(f"{vmdir}/console.sock", time.monotonic() + 10)
        con.expect_after(b"pidof sleep >/dev/null || echo no$((6*7))sleep\n", b"no42sleep", 30)
        check(True, "host disconnect kills running execs")

        # A reconnecting host sends RESET first (docs/guest-protocol.md): until then the
        # agent drops what arrives, which a departed host may have left half written.
        agent = GuestClient(f"{vmdir}/agent.sock", time.monotonic() + 10)
        agent.next_stream = 1000
        agent.reset()
        agent.ping(b"after-reconnect")
        check(True, "reconnect: RESET, then PING -> PONG")
        r = agent.run(["echo", "again"])
        check(r.stdout == b"again\n" and r.exit == 0, "reconnect: exec works", r)

        con.expect_after(b"echo con$((1+1))\n", b"con2", 30)
        check(True, "serial console shell")
        con.close()

        # An immediate reconnect is invisible to the guest: RESET ends the
        # old connection's streams.
        s = agent.start(["sleep", "1000"])
        agent.ping(b"before-fast-reconnect")
        agent.close()
        agent = GuestClient(f"{vmdir}/agent.sock", time.monotonic() + 10)
        agent.next_stream = 2000
        agent.reset()
        r = agent.run(["sh", "-c", "pidof sleep || echo none"])
        check(r.stdout == b"none\n", "fast reconnect + RESET kills old execs", r)

        # Same while output is streaming and the host stops reading: the
        # new connection may start in the middle of a frame.
        s = agent.start(["yes", "0123456789abcdef"])
        deadline = time.monotonic() + 30
        while len(agent.results[s].stdout) < 200_000:
            agent.pump(deadline)
        agent.close()
        agent = GuestClient(f"{vmdir}/agent.sock", time.monotonic() + 10)
        agent.next_stream = 3000
        skipped = agent.reset()
        r = agent.run(["sh", "-c", "pidof yes || echo none"])
        check(r.stdout == b"none\n",
              f"fast reconnect during streaming output + RESET ({skipped} bytes skipped)", r)

        # A bad frame length desynchronises the agent; RESET recovers it.
        agent.sock.sendall(b"\xff\xff\xff\xffjunk")
        try:
            agent.wait_control(PONG, 10, b"never")
            raise AssertionError("expected an ERROR for a bad length")
        except ProtocolError as e:
            check("bad frame length" in str(e), "bad frame length -> ERROR on stream 0", str(e))
        agent.reset()
        r = agent.run(["echo", "resynced"])
        check(r.stdout == b"resynced\n", "RESET after a bad frame length", r)

        streams = [agent.start(["sh", "-c", f"echo s{i}; echo e{i} >&2; exit {i % 7}"])
                   for i in range(64)]
        results = [agent.wait(st, timeout=120) for st in streams]
        check(all(r.stdout == f"s{i}\n".encode() and r.stderr == f"e{i}\n".encode()
                  and r.exit == i % 7 for i, r in enumerate(results)),
              "64 concurrent execs", [r for r in results if r.exit is None][:3])

        samples = []
        for _ in range(20):
            t = time.monotonic()
            r = agent.run(["true"])
            samples.append(time.monotonic() - t)
            if r.exit != 0:
                raise AssertionError(f"true failed: {r}")
        samples.sort()
        timings["exec_true_p50_ms"] = statistics.median(samples) * 1000
        timings["exec_true_p90_ms"] = samples[int(len(samples) * 0.9) - 1] * 1000
        agent.close()
        print(f"timings: boot to HELLO {timings['boot_to_hello_s']:.2f} s, "
              f"exec `true` p50 {timings['exec_true_p50_ms']:.1f} ms "
              f"(p90 {timings['exec_true_p90_ms']:.1f} ms, n=20)")
        print("guest smoke: all checks passed")
        return 0
    except Exception as e:
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        try:
            with open(os.path.join(vmdir, "serial.log"), "rb") as f:
                tail = f.read()[-3000:].decode(errors="replace")
            print("--- serial.log (tail) ---\n" + tail, file=sys.stderr)
        except OSError:
            pass
        return 1
    finally:
        if qemu.poll() is None:
            os.killpg(qemu.pid, signal.SIGKILL)
        qemu.wait()
        if args.keep:
            print("kept", vmdir)
        else:
            shutil.rmtree(vmdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image_dir", nargs="?",
                    default=os.environ.get("NOID_IMAGE_DIR",
                                           os.path.expanduser("~/.cache/noid/images/dev")))
    ap.add_argument("--keep", action="store_true", help="keep the VM dir (logs)")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--no-net", action="store_true", help="boot without a NIC")
    sys.exit(smoke(ap.parse_args()))


if __name__ == "__main__":
    main()
