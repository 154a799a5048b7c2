package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
)

const key = "sk-ant-api03-abcdefghijklmnop"

func TestScrubString(t *testing.T) {
	s := New(key, "abc") // "abc" is too short to mask
	got := s.String("auth failed for " + key + " (abc)")
	if got != "auth failed for *** (abc)" {
		t.Fatalf("got %q", got)
	}
	if in := "nothing here"; s.String(in) != in {
		t.Fatal("changed clean text")
	}
	if got := string(s.Bytes([]byte(key + key))); got != "******" {
		t.Fatalf("adjacent: %q", got)
	}
}

func TestScrubOverlappingAndNested(t *testing.T) {
	s := New("abcdef", "cdefgh", "bcde")
	if got := s.String("xxabcdefghyy"); got != "xx***yy" {
		t.Fatalf("overlap: %q", got)
	}
}

func TestScrubJSONForms(t *testing.T) {
	secret := "p<a>ss\"wo\\rd&\n" + "-----second-line-of-key-----"
	s := New(secret)
	for _, enc := range []func(any) []byte{
		func(v any) []byte { b, _ := json.Marshal(v); return b },
		func(v any) []byte {
			var buf bytes.Buffer
			e := json.NewEncoder(&buf)
			e.SetEscapeHTML(false)
			_ = e.Encode(v)
			return buf.Bytes()
		},
	} {
		line := enc(map[string]string{"output": "cat gives " + secret})
		got := s.Bytes(line)
		if bytes.Contains(got, []byte("wo\\\\rd")) || bytes.Contains(got, []byte("second-line")) {
			t.Fatalf("JSON line leaks: %s", got)
		}
		var back map[string]string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("scrubbed JSON no longer parses: %v: %s", err, got)
		}
	}
	// One line of a multi-line key printed alone is masked too.
	if got := s.String("tail: -----second-line-of-key-----"); strings.Contains(got, "second-line") {
		t.Fatalf("single line leaks: %q", got)
	}
}

func TestAddEnvUsesNames(t *testing.T) {
	s := New()
	s.AddEnv(map[string]string{
		"GITHUB_TOKEN": "ghp_tokenvalue", "DB_PASSWORD": "hunter22", "OPENAI_API_KEY": "sk-openai",
		"apiKey": "camel-key", "GIT_AUTHOR_NAME": "Jane Doe", "HOME": "/home/user", "PWD": "/work",
		"KEYBOARD": "us-intl", "SSH_AUTH_SOCK": "/tmp/ssh-agent.sock", "GIT_ASKPASS": "/usr/bin/askpass",
	})
	for _, secret := range []string{"ghp_tokenvalue", "hunter22", "sk-openai", "camel-key"} {
		if s.String(secret) != Mask {
			t.Errorf("%s not masked", secret)
		}
	}
	for _, plain := range []string{"Jane Doe", "/home/user", "/work", "us-intl", "/tmp/ssh-agent.sock", "/usr/bin/askpass"} {
		if s.String(plain) != plain {
			t.Errorf("%s masked", plain)
		}
	}
}

func TestErrorKeepsChain(t *testing.T) {
	s := New(key)
	base := errors.New("boom")
	err := s.Error(fmt.Errorf("request with %s: %w", key, base))
	if strings.Contains(err.Error(), key) || !errors.Is(err, base) {
		t.Fatalf("err %v", err)
	}
	if s.Error(nil) != nil {
		t.Fatal("nil error changed")
	}
}

// Every way of cutting the stream must produce the same output as scrubbing it whole.
func TestWriterSplitsAnywhere(t *testing.T) {
	s := New(key, "hunter22!", "abcabcabd")
	text := "start " + key + " middle hunter22! and " + key[:10] + " partial abcabcabcabd end sk-"
	want := s.String(text)
	if strings.Contains(want, "hunter22") {
		t.Fatal("bad fixture")
	}
	for cut := 0; cut <= len(text); cut++ {
		var out bytes.Buffer
		w := s.NewWriter(&out)
		_, _ = w.Write([]byte(text[:cut]))
		_, _ = w.Write([]byte(text[cut:]))
		_ = w.Flush()
		if out.String() != want {
			t.Fatalf("cut %d:\n got %q\nwant %q", cut, out.String(), want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		var out bytes.Buffer
		w := s.NewWriter(&out)
		for rest := text; rest != ""; {
			n := 1 + r.IntN(min(len(rest), 12))
			_, _ = w.Write([]byte(rest[:n]))
			rest = rest[n:]
		}
		_ = w.Close()
		if out.String() != want {
			t.Fatalf("random chunks:\n got %q\nwant %q", out.String(), want)
		}
	}
}

func TestWriterSeesLaterAdds(t *testing.T) {
	s := New()
	var out bytes.Buffer
	w := s.NewWriter(&out)
	_, _ = w.Write([]byte("before "))
	s.Add("rotated-secret")
	_, _ = w.Write([]byte("rotated-"))
	_, _ = w.Write([]byte("secret after"))
	_ = w.Flush()
	if out.String() != "before *** after" {
		t.Fatalf("got %q", out.String())
	}
}

func TestLogHandler(t *testing.T) {
	s := New(key)
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewJSONHandler(&buf, nil), s))
	log = log.With("upstream", "https://x/?k="+key)
	log.Info("sending "+key,
		"err", fmt.Errorf("dial: bad key %s", key),
		"api_key", "short",
		slog.Group("req", "header", "x-api-key: "+key),
		"cfg", struct{ Key string }{key},
		"raw", []byte(key),
		"count", 3,
	)
	out := buf.String()
	if strings.Contains(out, key) || strings.Contains(out, "short") {
		t.Fatalf("log leaks: %s", out)
	}
	if !strings.Contains(out, `"count":3`) || !strings.Contains(out, "sending ***") {
		t.Fatalf("log lost data: %s", out)
	}
}

func BenchmarkScrub4KiBNoMatch(b *testing.B) {
	s := newBenchScrubber(50)
	in := bytes.Repeat([]byte("ordinary transcript text with tool output {\"k\":1}\n"), 100)[:4096]
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_ = s.Bytes(in)
	}
}

func BenchmarkScrub4KiBWithMatches(b *testing.B) {
	s := newBenchScrubber(50)
	in := bytes.Repeat([]byte("ordinary text "+benchSecret(17)+" more text\n"), 90)[:4096]
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_ = s.Bytes(in)
	}
}

func BenchmarkWriter512BChunks(b *testing.B) {
	s := newBenchScrubber(50)
	chunk := bytes.Repeat([]byte("pty output line "+benchSecret(3)+" ok\n"), 12)[:512]
	w := s.NewWriter(io.Discard)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		_, _ = w.Write(chunk)
	}
}

// benchSecret looks like a real token: a shared prefix, then random characters.
func benchSecret(i int) string {
	sum := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
	return "ghp_" + hex.EncodeToString(sum[:])[:36]
}

func newBenchScrubber(n int) *Scrubber {
	s := New()
	for i := 0; i < n; i++ {
		s.Add(benchSecret(i))
	}
	return s
}
