package procnet

import (
	"net/netip"
	"strings"
	"testing"
)

const tcp4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1435 00000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 112 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1435 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  2000        0 113 1 0000000000000000 20 4 30 10 -1
   3: 0558580A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 114 1 0000000000000000 100 0 0 10 0
`

const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 201 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 202 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 203 1 0000000000000000 100 0 0 10 0
`

func TestParseListenOnly(t *testing.T) {
	got := Parse(strings.NewReader(tcp4))
	want := []Listener{
		{netip.MustParseAddr("127.0.0.1"), 5173, 111},
		{netip.MustParseAddr("0.0.0.0"), 80, 112},
		{netip.MustParseAddr("10.88.88.5"), 8080, 114},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestParseV6AndMapped(t *testing.T) {
	got := Parse(strings.NewReader(tcp6))
	want := []Listener{
		{netip.IPv6Unspecified(), 3000, 201},
		{netip.IPv6Loopback(), 9000, 202},
		{netip.MustParseAddr("127.0.0.1"), 8000, 203}, // ::ffff:127.0.0.1 unmapped
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestPortsAndDialAddr(t *testing.T) {
	ls := append(Parse(strings.NewReader(tcp4)), Parse(strings.NewReader(tcp6))...)
	ports := Ports(ls)
	if want := []uint16{80, 3000, 5173, 8000, 8080, 9000}; len(ports) != len(want) {
		t.Fatalf("ports %v, want %v", ports, want)
	}
	cases := map[uint16]string{80: "127.0.0.1:80", 3000: "[::1]:3000", 5173: "127.0.0.1:5173", 8080: "10.88.88.5:8080", 9000: "[::1]:9000"}
	for p, want := range cases {
		a, ok := DialAddr(ls, p)
		if !ok || a.String() != want {
			t.Errorf("DialAddr(%d) = %v %v, want %s", p, a, ok, want)
		}
	}
	if _, ok := DialAddr(ls, 22); ok {
		t.Error("DialAddr of a port nobody listens on must refuse")
	}
}

func TestParseHostile(t *testing.T) {
	bad := []string{
		"   0: 0100007F:0000 00000000:0000 0A 0:0 0:0 0 0 0 1",    // port 0
		"   0: 0100007F:10000 00000000:0000 0A 0:0 0:0 0 0 0 1",   // port > 65535
		"   0: 0100007:1435 00000000:0000 0A 0:0 0:0 0 0 0 1",     // short address
		"   0: 0100007G:1435 00000000:0000 0A 0:0 0:0 0 0 0 1",    // not hex
		"   0: 0100007F1435 00000000:0000 0A 0:0 0:0 0 0 0 1",     // no colon
		"   0: 0100007F:1435 00000000:0000 0A",                    // short line
		"   0: 0100007F:1435 00000000:0000 0A 0:0 0:0 0 0 0 -1",   // bad inode
		strings.Repeat("A", 10000),                                 // overlong line stops the scan
	}
	if got := Parse(strings.NewReader(strings.Join(bad, "\n"))); len(got) != 0 {
		t.Fatalf("hostile lines parsed: %v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(tcp4)
	f.Add(tcp6)
	f.Add("   0: 0100007F:FFFF 00000000:0000 0A 0:0 0:0 0 0 0 18446744073709551615")
	f.Fuzz(func(t *testing.T, s string) {
		for _, l := range Parse(strings.NewReader(s)) {
			if l.Port == 0 || !l.Addr.IsValid() || l.Addr.Is4In6() {
				t.Fatalf("invalid listener accepted: %+v", l)
			}
			if a, ok := DialAddr([]Listener{l}, l.Port); !ok || a.Port() != l.Port {
				t.Fatalf("DialAddr of a parsed listener: %v %v", a, ok)
			}
		}
	})
}
