package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	cases := []Request{
		{Argv: []string{"printf"}},
		{LoopID: "loop-1", Cwd: "/work", Argv: []string{"sh", "-c", `echo "$(x)" 'a'\` + "\n\\", "", "\xff\xfe"}, Env: []string{"TERM=xterm"}},
		{Argv: []string{strings.Repeat("x", 100000), "\x00mid\x00"}},
	}
	for _, want := range cases {
		var buf bytes.Buffer
		if err := WriteFrame(&buf, TypeRequest, EncodeRequest(want)); err != nil {
			t.Fatal(err)
		}
		typ, p, err := ReadFrame(&buf, MaxRequest)
		if err != nil || typ != TypeRequest {
			t.Fatalf("read frame: %c %v", typ, err)
		}
		got, err := DecodeRequest(p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip: got %q want %q", got, want)
		}
	}
}

func TestExitRoundTrip(t *testing.T) {
	for _, want := range []Exit{{Code: 0}, {Code: 127, Message: "host has no 'x'"}, {Code: -1, Message: "\n"}} {
		got, err := DecodeExit(EncodeExit(want))
		if err != nil || got != want {
			t.Fatalf("exit round trip: got %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := DecodeExit([]byte{1, 2}); err == nil {
		t.Fatal("short exit frame accepted")
	}
}

func TestReadFrameLimits(t *testing.T) {
	var buf bytes.Buffer
	// Header announcing 5 MiB: refused before any payload is read or allocated.
	buf.Write([]byte{TypeRequest, 0, 0x50, 0, 0})
	if _, _, err := ReadFrame(&buf, MaxRequest); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	buf.Reset()
	buf.Write([]byte{TypeStdout, 0, 0, 0, 10, 'a'})
	if _, _, err := ReadFrame(&buf, MaxData); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: %v", err)
	}
}

func TestDecodeRequestRejectsGarbage(t *testing.T) {
	good := EncodeRequest(Request{Argv: []string{"a", "b"}})
	bad := map[string][]byte{
		"empty":       {},
		"version":     {9},
		"truncated":   good[:len(good)-1],
		"trailing":    append(append([]byte{}, good...), 0),
		"no argv":     EncodeRequest(Request{}),
		"huge count":  {1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge string": {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, p := range bad {
		if _, err := DecodeRequest(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStreamWriterChunks(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf).Stream(TypeStdout)
	data := bytes.Repeat([]byte("0123456789"), ChunkSize/5) // 2 chunks
	if n, err := w.Write(data); err != nil || n != len(data) {
		t.Fatalf("write: %d %v", n, err)
	}
	var got []byte
	frames := 0
	for {
		typ, p, err := ReadFrame(&buf, MaxData)
		if err == io.EOF {
			break
		}
		if err != nil || typ != TypeStdout {
			t.Fatalf("frame: %c %v", typ, err)
		}
		frames++
		got = append(got, p...)
	}
	if frames != 2 || !bytes.Equal(got, data) {
		t.Fatalf("got %d frames, %d bytes", frames, len(got))
	}
}

// FuzzArgv checks that any argv (split from the fuzz input at sep) survives the
// encoding byte for byte, and that decoding arbitrary bytes never panics.
func FuzzArgv(f *testing.F) {
	f.Add([]byte("printf\x01%s\\n\x01it's \"quoted\"\x01$(x)\x01a\nb"), byte(1), "/work")
	f.Add([]byte("\xff\xfe\x00\x01\x02"), byte(0), "")
	f.Add([]byte{}, byte('a'), "x")
	f.Fuzz(func(t *testing.T, data []byte, sep byte, cwd string) {
		argv := strings.Split(string(data), string([]byte{sep}))
		want := Request{LoopID: "l", Argv: argv, Cwd: cwd, Env: []string{"TERM=" + cwd}}
		got, err := DecodeRequest(EncodeRequest(want))
		if !withinLimits(want) {
			if err == nil {
				t.Fatalf("request past the limits accepted: %d args, cwd %d bytes", len(argv), len(cwd))
			}
			return
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("argv changed: got %q want %q", got.Argv, want.Argv)
		}
		_, _ = DecodeRequest(data) // must not panic
	})
}

// withinLimits reports whether r respects every Max* limit DecodeRequest enforces.
func withinLimits(r Request) bool {
	if len(r.LoopID) > MaxLoopID || len(r.Cwd) > MaxCwd || len(r.Argv) > MaxArgs || len(r.Env) > MaxEnv {
		return false
	}
	for _, a := range r.Argv {
		if len(a) > MaxArgBytes {
			return false
		}
	}
	for _, e := range r.Env {
		if len(e) > MaxEnvBytes {
			return false
		}
	}
	return len(r.Argv) > 0
}

func TestDecodeRequestEnforcesFieldLimits(t *testing.T) {
	over := map[string]Request{
		"argument":  {Argv: []string{"x", strings.Repeat("a", MaxArgBytes+1)}},
		"env":       {Argv: []string{"x"}, Env: []string{"TERM=" + strings.Repeat("a", MaxEnvBytes)}},
		"cwd":       {Argv: []string{"x"}, Cwd: strings.Repeat("/", MaxCwd+1)},
		"loop id":   {Argv: []string{"x"}, LoopID: strings.Repeat("l", MaxLoopID+1)},
		"env count": {Argv: []string{"x"}, Env: make([]string, MaxEnv+1)},
	}
	for name, r := range over {
		if _, err := DecodeRequest(EncodeRequest(r)); err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("%s over the limit: %v", name, err)
		}
	}
	// A count prefix of MaxArgs+1 is refused before any argument is read.
	p := []byte{Version, 0, 0}
	p = append(p, binaryUvarint(MaxArgs+1)...)
	if _, err := DecodeRequest(p); err == nil || !strings.Contains(err.Error(), "arguments (limit") {
		t.Fatalf("argument count: %v", err)
	}
}

func binaryUvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// stallingReader returns its bytes, then blocks as a peer that went quiet would.
type stallingReader struct{ b []byte }

func (s *stallingReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

func TestReadFrameDoesNotAllocateAnnouncedSize(t *testing.T) {
	// A header announcing the full 4 MiB followed by 10 bytes: the reader gives up
	// having allocated about what arrived, not what was announced.
	hdr := []byte{TypeRequest, 0, 0x40, 0, 0}
	r := &stallingReader{b: append(hdr, "0123456789"...)}
	var before, after runtimeMem
	before.read()
	if _, _, err := ReadFrame(r, MaxRequest); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("stalled frame: %v", err)
	}
	after.read()
	if grew := after.total - before.total; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a 10-byte payload", grew)
	}
}

// FuzzDecodeRequest: arbitrary payloads never panic; whatever decodes respects the
// limits and survives a re-encode.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(EncodeRequest(Request{LoopID: "l", Cwd: "/w", Argv: []string{"gh", "pr", "list"}, Env: []string{"TERM=xterm"}}))
	f.Add([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{1, 0, 0, 1, 0x80, 0x80, 0x08})
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := DecodeRequest(p)
		if err != nil {
			return
		}
		if !withinLimits(r) {
			t.Fatalf("decoded a request past the limits: %d args", len(r.Argv))
		}
		again, err := DecodeRequest(EncodeRequest(r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// FuzzReadFrame: any byte stream yields frames within the limit or an error, and
// never panics; a frame that decodes as an exit keeps its code.
func FuzzReadFrame(f *testing.F) {
	var seed bytes.Buffer
	WriteFrame(&seed, TypeRequest, EncodeRequest(Request{Argv: []string{"x"}}))
	WriteFrame(&seed, TypeStdin, []byte("data"))
	WriteFrame(&seed, TypeSignal, []byte{2})
	f.Add(seed.Bytes(), uint16(64))
	f.Add([]byte{TypeExit, 0, 0, 0, 4, 0, 0, 0, 1}, uint16(4))
	f.Add([]byte{TypeStdout, 0xff, 0xff, 0xff, 0xff}, uint16(0xffff))
	f.Fuzz(func(t *testing.T, stream []byte, limit uint16) {
		r := bytes.NewReader(stream)
		for {
			typ, p, err := ReadFrame(r, int(limit))
			if err != nil {
				return
			}
			if len(p) > int(limit) {
				t.Fatalf("%q frame of %d bytes past the limit %d", typ, len(p), limit)
			}
			if typ == TypeRequest {
				_, _ = DecodeRequest(p)
			}
			if typ == TypeExit {
				if e, err := DecodeExit(p); err == nil {
					if back, _ := DecodeExit(EncodeExit(e)); back.Code != e.Code {
						t.Fatalf("exit code changed")
					}
				}
			}
		}
	})
}
