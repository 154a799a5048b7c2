package execstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func frame(fd byte, payload string) []byte {
	h := make([]byte, 8)
	h[0] = fd
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

func TestDemuxSplitsStreams(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(1, "out-1 "))
	in.Write(frame(2, "err-1"))
	in.Write(frame(1, "out-2"))
	var out, errb bytes.Buffer
	if err := Demux(&in, &out, &errb); !errors.Is(err, io.EOF) {
		t.Fatalf("want EOF at end, got %v", err)
	}
	if out.String() != "out-1 out-2" || errb.String() != "err-1" {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestDemuxReportsPodmanErrorFrame(t *testing.T) {
	in := bytes.NewReader(frame(3, "exec died"))
	err := Demux(in, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exec died") {
		t.Fatalf("got %v", err)
	}
}
