//go:build bench

// Command gateway measures loopat's model gateway on a streamed 1 MB reply: first token
// and throughput through the gateway's Router (the loop's route, placeholder key swapped
// for the real one, the response scrubbed for the key, as the app serves a loop's gateway
// stream) against the same client reading the same reply from the mock directly:
//
//	go run -tags bench,remote,exclude_graphdriver_btrfs,containers_image_openpgp ./bench/gateway [-n 5]
//
// The stream reaches the Router over a loopback socket handed to Router.ServeConn (what
// the host link does with a loop's gateway stream); the link's own hop (yamux over a
// podman exec) is not in these figures: bench/loops' later turn covers it end to end.
// No podman, a few seconds.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/gateway"
	"github.com/loopat/desktop/bench/gateway/gatewaybench"
	"github.com/loopat/desktop/bench/report/benchkit"
	"github.com/loopat/desktop/internal/testkit/mockapi"
)

const replyBytes = 1 << 20

func main() {
	n := flag.Int("n", 5, "replies per side (median reported; one warm-up each is dropped)")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench gateway:", err)
		os.Exit(1)
	}
}

// bigText is 1 MiB of words, as a long model reply streams it.
func bigText() string {
	var b strings.Builder
	for i := 0; b.Len() < replyBytes; i++ {
		fmt.Fprintf(&b, "word%d ", i%1000)
	}
	return b.String()[:replyBytes]
}

func run(n int) error {
	text := bigText()
	mock := mockapi.New(mockapi.Options{Scenarios: map[string]mockapi.Scenario{
		"big": func(mockapi.Conversation) mockapi.Reply {
			return mockapi.Reply{Content: []mockapi.Block{mockapi.Text(text)}}
		},
	}})
	if err := mock.Listen("127.0.0.1:0"); err != nil {
		return err
	}
	defer mock.Close()

	const loopID = "bench-gateway-loop"
	const realKey = "sk-bench-not-a-real-key-0123456789"
	router := gateway.NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer router.Shutdown()
	agentURL, placeholder, err := router.Route(loopID, mock.URL(), realKey)
	if err != nil {
		return err
	}
	// The loop's side: every connection is a gateway stream of this loop's link. A
	// loopback socket stands in for the link's stream (buffered both ways, like yamux).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go router.ServeConn(loopID, c)
		}
	}()
	viaGateway := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	}}}
	direct := &http.Client{Transport: &http.Transport{}}

	var res gatewaybench.Result
	res.TextBytes = len(text)
	for i := 0; i <= n; i++ {
		g, err := stream(viaGateway, agentURL, placeholder)
		if err != nil {
			return fmt.Errorf("through the gateway: %w", err)
		}
		d, err := stream(direct, mock.URL(), realKey)
		if err != nil {
			return fmt.Errorf("mock directly: %w", err)
		}
		if i == 0 {
			continue // warm-up: connections, the mock's first reply
		}
		res.Gateway, res.Direct = append(res.Gateway, g), append(res.Direct, d)
	}
	if err := res.Check(); err != nil {
		return err
	}
	rows := gatewaybench.Rows(res)
	l := benchkit.Load()
	fmt.Printf("gateway benchmark: a %d-byte streamed reply, %d CPUs, load %.2f %.2f %.2f\n", len(text), benchkit.Describe().CPUs, l[0], l[1], l[2])
	benchkit.Print(rows)
	path, err := benchkit.Write(rows)
	if err != nil {
		return err
	}
	fmt.Println("rows written to", path)
	return nil
}

// stream sends one streamed /v1/messages request as the claude CLI does and reads the SSE
// to its end: time to the first text delta, total time, bytes; the text must arrive whole.
func stream(c *http.Client, base, key string) (gatewaybench.Stream, error) {
	body := `{"model":"claude-sonnet-4-5","max_tokens":64000,"stream":true,"messages":[{"role":"user","content":"[[big]]"}]}`
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/v1/messages", strings.NewReader(body))
	if err != nil {
		return gatewaybench.Stream{}, err
	}
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	var s gatewaybench.Stream
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return s, fmt.Errorf("%s: %s", resp.Status, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	textDeltas := 0
	for sc.Scan() {
		line := sc.Bytes()
		s.Bytes += int64(len(line)) + 1
		if bytes.Contains(line, []byte(`"text_delta"`)) {
			if textDeltas == 0 {
				s.FirstToken = time.Since(t0)
			}
			textDeltas++
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	s.Total = time.Since(t0)
	if textDeltas == 0 {
		return s, fmt.Errorf("no text delta in %d bytes", s.Bytes)
	}
	return s, nil
}
