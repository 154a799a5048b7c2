package portwire

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestDecodeUpdateValidates(t *testing.T) {
	u, trunc, err := DecodeUpdate([]byte(`{"ports":[{"port":5173,"process":"node"},{"port":0},{"port":70000},{"port":-1},{"port":1.5},{"port":5173},{"port":80,"process":"bad\u0007name"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !trunc {
		t.Error("invalid entries must be reported as dropped")
	}
	if len(u.Ports) != 2 || u.Ports[0] != (Port{Port: 80}) || u.Ports[1] != (Port{Port: 5173, Process: "node"}) {
		t.Fatalf("got %+v", u.Ports)
	}
}

func TestDecodeUpdateCapsCount(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"ports":[`)
	for i := 1; i <= 10000; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"port":%d}`, 65536-i)
	}
	b.WriteString("]}\n")
	// Too long for one line on the stream...
	if _, _, err := ReadUpdate(NewReader(strings.NewReader(b.String()))); err != ErrLineTooLong {
		t.Fatalf("10,000 ports on the stream: err %v, want ErrLineTooLong", err)
	}
	// ...and capped when decoded directly.
	u, trunc, err := DecodeUpdate([]byte(b.String()))
	if err == nil && (len(u.Ports) != MaxPorts || !trunc) {
		t.Fatalf("%d ports kept (truncated %v), want %d", len(u.Ports), trunc, MaxPorts)
	}
}

func TestUpdateRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := Update{Ports: []Port{{Port: 3000, Process: "node"}, {Port: 8000}}}
	if err := WriteUpdate(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, _, err := ReadUpdate(bufio.NewReader(&buf))
	if err != nil || len(out.Ports) != 2 || out.Ports[0] != in.Ports[0] || out.Ports[1] != in.Ports[1] {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	buf.Reset()
	if err := WritePort(&buf, 0); err == nil {
		t.Error("port 0 written")
	}
	_ = WritePort(&buf, 5173)
	if p, err := ReadPort(&buf); err != nil || p != 5173 {
		t.Fatalf("ReadPort %d %v", p, err)
	}
}

func FuzzDecodeUpdate(f *testing.F) {
	f.Add([]byte(`{"ports":[{"port":5173,"process":"node"}]}`))
	f.Add([]byte(`{"ports":[{"port":1e3}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, _, err := DecodeUpdate(b)
		if err != nil {
			return
		}
		if len(u.Ports) > MaxPorts {
			t.Fatalf("%d ports", len(u.Ports))
		}
		last := 0
		for _, p := range u.Ports {
			if p.Port < 1 || p.Port > 65535 || p.Port <= last || len(p.Process) > MaxProcess {
				t.Fatalf("invalid port kept: %+v", p)
			}
			last = p.Port
		}
	})
}
