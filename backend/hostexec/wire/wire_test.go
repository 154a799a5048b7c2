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
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("argv changed: got %q want %q", got.Argv, want.Argv)
		}
		_, _ = DecodeRequest(data) // must not panic
	})
}
