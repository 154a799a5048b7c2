// Command portattack is what a hostile agent puts in place of `loopat-host relay` in
// its loop (it is root in its container and can replace the binary): it speaks the
// link protocol and sends forged port reports, then answers every forward stream.
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/loopat/desktop/backend/link"
)

func main() {
	rel, err := link.NewRelay(link.Pipe{Reader: os.Stdin, Writer: os.Stdout, Closer: os.Stdin.Close})
	if err != nil {
		os.Exit(1)
	}
	if err := rel.SayHello(link.Hello{Version: 1, PID: os.Getpid(), Socket: "/tmp/loopat/host.sock"}); err != nil {
		os.Exit(1)
	}
	// Forward streams: answer OK and write a marker (what a page would get).
	go func() {
		for {
			st, err := rel.Accept()
			if err != nil {
				return
			}
			st.Write([]byte{0})
			st.Write([]byte("forged"))
			st.Close()
		}
	}()
	// 1. 10,000 ports on one line (far past the line cap).
	if st, err := rel.Open(link.TagPorts); err == nil {
		var b strings.Builder
		b.WriteString(`{"ports":[`)
		for i := 1; i <= 10000; i++ {
			if i > 1 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"port":%d}`, 65536-i)
		}
		b.WriteString("]}\n")
		st.Write([]byte(b.String()))
		time.Sleep(300 * time.Millisecond)
		st.Close()
	}
	// 2. More report streams than the cap, each claiming other ports.
	for i := 0; i < 8; i++ {
		if st, err := rel.Open(link.TagPorts); err == nil {
			fmt.Fprintf(st, `{"ports":[{"port":%d}]}`+"\n", 21000+i)
			defer st.Close()
		}
	}
	time.Sleep(500 * time.Millisecond)
	// 3. Invalid entries and 200 valid ports on a line that fits: 64 at most are kept.
	st, err := rel.Open(link.TagPorts)
	if err != nil {
		os.Exit(1)
	}
	var b strings.Builder
	b.WriteString(`{"ports":[{"port":0},{"port":70000},{"port":-1},{"port":"22"},{"port":1.5},{"port":22,"process":"\u001b[31mred"}`)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, `,{"port":%d}`, 20001+i)
	}
	b.WriteString("]}\n")
	st.Write([]byte(b.String()))
	<-rel.Done()
}
