package promotewire

import (
	"bytes"
	"strings"
	"testing"
)

func TestReplyRoundTripAndExitCodes(t *testing.T) {
	for _, c := range []struct {
		rep  Reply
		code int
	}{
		{Reply{Summary: "notes: promoted (1 file(s))\n"}, ExitOK},
		{Reply{Summary: "notes: CONFLICT in a.md\n", Conflict: true}, ExitConflict},
		{Reply{Summary: "x", Failed: true}, ExitFailed},
		{Reply{Error: "boom", Conflict: true}, ExitFailed}, // an error wins over a conflict
	} {
		var buf bytes.Buffer
		if err := Write(&buf, c.rep); err != nil {
			t.Fatal(err)
		}
		got, err := Read(&buf)
		if err != nil || got != c.rep || got.ExitCode() != c.code {
			t.Errorf("%+v: got %+v exit %d, %v; want exit %d", c.rep, got, got.ExitCode(), err, c.code)
		}
	}
}

// A refusal reads as a failed promote carrying the reason.
func TestRefuseReadsAsFailure(t *testing.T) {
	var buf bytes.Buffer
	Refuse(&buf, "refused: promote running (limit 1)")
	rep, err := Read(&buf)
	if err != nil || !strings.Contains(rep.Error, "limit 1") || rep.ExitCode() != ExitFailed {
		t.Fatalf("%+v %v", rep, err)
	}
}

// The sandbox side reads at most MaxReply bytes of whatever the host link delivers.
func TestReadIsBounded(t *testing.T) {
	huge := `{"summary":"` + strings.Repeat("a", MaxReply) + `"}`
	if _, err := Read(strings.NewReader(huge)); err == nil {
		t.Fatal("a reply past MaxReply was accepted")
	}
	if _, err := Read(strings.NewReader("not json")); err == nil {
		t.Fatal("garbage accepted")
	}
}
