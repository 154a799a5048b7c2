package core

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// The refusals past a loop's link caps are well-formed answers of each service, so
// the sandbox side shows the reason instead of a protocol error.
func TestLinkCapRefusalsAreWellFormed(t *testing.T) {
	reason := "refused: this loop already has 32 open model gateway connections (limit 32); retry when one ends"
	resp := refusal(t, refuseGateway, reason)
	r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(resp)), nil)
	if err != nil {
		t.Fatalf("gateway refusal is not HTTP: %v\n%s", err, resp)
	}
	body, _ := io.ReadAll(r.Body)
	var e struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	if r.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || e.Type != "error" || !strings.Contains(e.Error.Message, reason) {
		t.Fatalf("gateway refusal: %d %s", r.StatusCode, body)
	}

	var rep promoteReply
	if err := json.Unmarshal([]byte(refusal(t, refusePromote, "refused: promote running (limit 1)")), &rep); err != nil || !strings.Contains(rep.Error, "limit 1") {
		t.Fatalf("promote refusal: %+v %v", rep, err)
	}
}

func refusal(t *testing.T, refuse func(net.Conn, string), reason string) string {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		refuse(a, reason)
		a.Close()
	}()
	out, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
