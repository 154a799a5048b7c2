package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/loopat/desktop/backend/link"
)

// relayMain is the in-sandbox daemon: its stdin/stdout carry the link to the host
// (a podman exec session), it listens on the host-exec socket (and optionally a
// gateway TCP port) and splices every connection onto a new link stream. It exits
// when its stdin closes, i.e. the host went away.
func relayMain(args []string) int {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	socket := fs.String("socket", "", "unix socket to listen on (default: first usable of "+strings.Join(socketCandidates, ", ")+")")
	gateway := fs.String("gateway", "", "also listen on this TCP address (e.g. 127.0.0.1:4141) for the model gateway")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("relay", os.Getpid())

	l, path, err := listenSocket(*socket, log)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	defer cleanupSocket(path)
	pl, err := listenPromote(promoteSocket(path))
	if err != nil {
		log.Error("listen promote", "err", err)
		return 1
	}
	defer pl.Close()

	rel, err := link.NewRelay(link.Pipe{Reader: os.Stdin, Writer: os.Stdout, Closer: os.Stdin.Close})
	if err != nil {
		log.Error("link", "err", err)
		return 1
	}
	defer rel.Close()

	var gl net.Listener
	if *gateway != "" {
		gl, err = net.Listen("tcp", *gateway)
		if err != nil {
			log.Error("listen gateway", "addr", *gateway, "err", err)
			return 1
		}
		defer gl.Close()
		go acceptLoop(gl, rel, link.TagGateway, log)
	}
	go acceptLoop(l, rel, link.TagHostExec, log)
	go acceptLoop(pl, rel, link.TagPromote, log)

	hello := link.Hello{Version: 1, PID: os.Getpid(), Socket: path}
	if gl != nil {
		hello.Gateway = gl.Addr().String()
	}
	if err := rel.SayHello(hello); err != nil {
		log.Error("hello", "err", err)
		return 1
	}
	go serveForwards(rel, log)
	go watchPorts(rel, log)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	select {
	case <-rel.Done():
		log.Info("host link closed")
	case s := <-sigs:
		log.Info("stopping", "signal", s.String())
	}
	l.Close()
	pl.Close()
	return 0
}

// firstChunk bounds the first read of a host-exec connection (a small request
// with its stdin EOF; larger ones follow through the splice).
const firstChunk = 32 << 10

func acceptLoop(l net.Listener, rel *link.Relay, tag byte, log *slog.Logger) {
	for {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				log.Error("accept", "err", err)
			}
			return
		}
		go func() {
			var first []byte
			if tag == link.TagHostExec {
				// The forwarder speaks first (its request): the tag and the request
				// cross the link in one frame. A client that never writes holds
				// only its own connection; the host sees nothing of it.
				buf := make([]byte, firstChunk)
				n, err := c.Read(buf)
				if n == 0 {
					if err != nil && !errors.Is(err, io.EOF) {
						log.Warn("read host-exec request", "err", err)
					}
					c.Close()
					return
				}
				first = buf[:n]
			}
			st, err := rel.OpenWith(tag, first)
			if err != nil {
				log.Warn("open stream", "err", err)
				c.Close()
				return
			}
			link.Splice(c, st)
		}()
	}
}

// listenSocket listens on the first usable socket path, replacing a stale socket
// and stopping an older relay that still owns it (an app restart re-attaches).
func listenSocket(want string, log *slog.Logger) (net.Listener, string, error) {
	paths := socketCandidates
	if want != "" {
		paths = []string{want}
	}
	var errs []string
	for _, p := range paths {
		l, err := listenAt(p, log)
		if err == nil {
			return l, p, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, "", fmt.Errorf("no usable socket path: %s", strings.Join(errs, "; "))
}

func listenAt(path string, log *slog.Logger) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stopOldRelay(pidFile(path), log)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false) // cleanupSocket decides: a newer relay may own the path
	// Anyone in the sandbox acts as this loop anyway; let every sandbox user call.
	_ = os.Chmod(dir, 0o755)
	if err := os.Chmod(path, 0o666); err != nil {
		l.Close()
		return nil, err
	}
	if err := os.WriteFile(pidFile(path), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// listenPromote listens on the promote socket (the old relay was stopped by listenAt).
func listenPromote(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale promote socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o666); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func pidFile(socket string) string { return strings.TrimSuffix(socket, ".sock") + ".pid" }

// stopOldRelay terminates the relay recorded in pidfile if it is still running.
func stopOldRelay(pidfile string, log *slog.Logger) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || pid == os.Getpid() {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "loopat-host\x00relay") {
		return // gone, or the pid now belongs to something else
	}
	log.Info("stopping previous relay", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 50; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// cleanupSocket removes the socket and pidfile unless a newer relay took them over.
func cleanupSocket(path string) {
	b, err := os.ReadFile(pidFile(path))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		return
	}
	_ = os.Remove(path)
	_ = os.Remove(promoteSocket(path))
	_ = os.Remove(pidFile(path))
}
