// Command loopat-host runs inside a loop's sandbox.
//
//	loopat-host [--] CLI [ARGS...]   run CLI on the host (what the shims call)
//	loopat-host relay [flags]        the in-sandbox end of the host link (started by the app)
//	loopat-host promote              hand this loop's context changes back (runs Promote on the host)
//
// The forwarder connects to the relay's unix socket, sends argv as length-prefixed
// raw bytes, streams stdin, prints stdout/stderr as they arrive, forwards
// SIGINT/SIGTERM/SIGHUP/SIGQUIT and exits with the host process's exit code.
// Exit 127: the host cannot be reached or has no such CLI; 126: refused.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/loopat/desktop/backend/hostexec/wire"
)

// socketCandidates are where the relay listens: /run/loopat when the relay's user
// may create it, else /tmp/loopat. LOOPAT_HOST_SOCKET overrides both.
var socketCandidates = []string{"/run/loopat/host.sock", "/tmp/loopat/host.sock"}

// envForwarded are offered to the host; the host keeps its own allow-list.
var envForwarded = []string{"TERM", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "CLICOLOR"}

const usage = `usage: loopat-host [--] CLI [ARGS...]    run a host CLI declared for this loop
       loopat-host promote                     promote this loop's context (knowledge, notes, personal)
       loopat-host relay [--socket PATH] [--gateway ADDR]
`

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "relay" {
		os.Exit(relayMain(args[1:]))
	}
	if len(args) > 0 && args[0] == "promote" {
		os.Exit(promoteMain(args[1:], os.Stdout, os.Stderr))
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 || args[0] == "" {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	os.Exit(forward(args))
}

func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "loopat-host: "+format+"\n", a...)
	return code
}

func dialRelay() (net.Conn, error) {
	paths := socketCandidates
	if p := os.Getenv("LOOPAT_HOST_SOCKET"); p != "" {
		paths = []string{p}
	}
	var errs []string
	for _, p := range paths {
		c, err := net.Dial("unix", p)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

func forward(argv []string) int {
	conn, err := dialRelay()
	if err != nil {
		return fail(127, "cannot reach the host (%v): host exec is not enabled for this loop, or the app is not running", err)
	}
	defer conn.Close()
	cwd, _ := os.Getwd()
	req := wire.Request{LoopID: os.Getenv("LOOPAT_LOOP_ID"), Argv: argv, Cwd: cwd}
	for _, k := range envForwarded {
		if v, ok := os.LookupEnv(k); ok {
			req.Env = append(req.Env, k+"="+v)
		}
	}
	fw := wire.NewWriter(conn)
	enc := wire.EncodeRequest(req)
	sendErr := make(chan error, 1)
	if len(enc) <= quickRequest && stdinIsDevNull() {
		// The common call from a script or the agent: nothing to stream. Request and
		// stdin EOF leave in one write (one frame on the link instead of two), and no
		// goroutine or thread is started for stdin. A request this small fits in the
		// empty socket buffer, so the write cannot wait on the host.
		sendErr <- fw.Frames(wire.AppendFrame(wire.AppendFrame(nil, wire.TypeRequest, enc), wire.TypeStdinEOF, nil))
	} else {
		// The request is sent while answers are read: the host may refuse at once
		// (e.g. too many host processes) without reading a large request, and that
		// answer must still be shown.
		go func() {
			err := fw.Frame(wire.TypeRequest, enc)
			sendErr <- err
			if err == nil {
				pumpStdin(fw)
			}
		}()
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	go func() {
		for s := range sigs {
			if n, ok := s.(syscall.Signal); ok {
				_ = fw.Frame(wire.TypeSignal, []byte{byte(n)})
			}
		}
	}()

	r := wire.NewReader(conn)
	for {
		typ, p, err := wire.ReadFrame(r, wire.MaxData)
		if err != nil {
			select {
			case serr := <-sendErr:
				if serr != nil {
					return fail(127, "send request to host: %v", serr)
				}
			default:
			}
			return fail(127, "lost the connection to the host: %v (the host ends streams past this loop's link limits)", err)
		}
		switch typ {
		case wire.TypeStdout:
			if _, err := os.Stdout.Write(p); err != nil {
				return 141 // stdout gone (like SIGPIPE); the host sees us leave and stops the process
			}
		case wire.TypeStderr:
			_, _ = os.Stderr.Write(p)
		case wire.TypeExit:
			e, err := wire.DecodeExit(p)
			if err != nil {
				return fail(127, "%v", err)
			}
			if e.Message != "" {
				fmt.Fprintf(os.Stderr, "loopat-host: %s\n", e.Message)
			}
			if e.Code < 0 || e.Code > 255 {
				return 255
			}
			return int(e.Code)
		default:
			return fail(127, "unexpected frame %q from host", typ)
		}
	}
}

// quickRequest is the largest request sent in one write with its stdin EOF.
const quickRequest = 16 << 10

// stdinIsDevNull reports whether stdin is /dev/null (as under `podman exec`
// without -i, cron, or `cmd </dev/null`): then the call has no input to stream.
func stdinIsDevNull() bool {
	in, err := os.Stdin.Stat()
	if err != nil || in.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(in, null)
}

func pumpStdin(fw *wire.Writer) {
	buf := make([]byte, wire.ChunkSize)
	for {
		n, err := os.Stdin.Read(buf)
		if n > 0 {
			if fw.Frame(wire.TypeStdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				fmt.Fprintf(os.Stderr, "loopat-host: read stdin: %v\n", err)
			}
			_ = fw.Frame(wire.TypeStdinEOF, nil)
			return
		}
	}
}
