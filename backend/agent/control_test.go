package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// pipeProc is a Process whose stdout the test writes and whose stdin the test reads.
type pipeProc struct {
	inR, outR *io.PipeReader
	inW, outW *io.PipeWriter
	errR      *io.PipeReader
	errW      *io.PipeWriter
	done      chan struct{}
}

func (p *pipeProc) ID() string            { return "p" }
func (p *pipeProc) Stdin() io.WriteCloser { return p.inW }
func (p *pipeProc) Stdout() io.Reader     { return p.outR }
func (p *pipeProc) Stderr() io.Reader     { return p.errR }
func (p *pipeProc) Wait() (int, error)    { <-p.done; return 0, nil }
func (p *pipeProc) Kill(context.Context) error {
	select {
	case <-p.done:
	default:
		close(p.done)
		p.outW.Close()
		p.errW.Close()
	}
	return nil
}
func (p *pipeProc) StartProcess(context.Context, Command) (Process, error) { return p, nil }

// A can_use_tool request as the pinned CLI (2.1.328) prints it is parsed, and the
// answers go back in the SDKs' control_response shapes to the process that asked.
func TestControlRequestRoundTrip(t *testing.T) {
	p := &pipeProc{done: make(chan struct{})}
	p.inR, p.inW = io.Pipe()
	p.outR, p.outW = io.Pipe()
	p.errR, p.errW = io.Pipe()
	lines := make(chan Line, 4)
	s, err := Start(context.Background(), p, Command{}, "m", func(l Line) { lines <- l }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill(context.Background())
	go p.outW.Write([]byte(`{"type":"control_request","request_id":"5ff2d2a1-8d54-43b4-a0db-c9aa9a64abc4","request":{"subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash","input":{"command":"echo hi > f.txt","description":"Run"},"permission_suggestions":[{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"echo hi *"}],"behavior":"allow","destination":"localSettings"}],"blocked_path":"/w/f.txt","tool_use_id":"toolu_1"}}` + "\n" +
		`{"type":"control_cancel_request","request_id":"x-2"}` + "\n"))
	var got []Line
	for len(got) < 2 {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-time.After(5 * time.Second):
			t.Fatal("no control lines")
		}
	}
	c := got[0].Control
	if c == nil || c.Err != nil || c.Subtype != "can_use_tool" || c.ToolName != "Bash" || c.ToolUseID != "toolu_1" || !c.FromSession(s) || !got[0].Ephemeral() {
		t.Fatalf("request = %+v", c)
	}
	if x := got[1].Control; x == nil || x.Subtype != "cancel" || x.RequestID != "x-2" || !x.SameProcess(c) {
		t.Fatalf("cancel = %+v", x)
	}
	in := bufio.NewScanner(p.inR)
	read := func() map[string]any {
		if !in.Scan() {
			t.Fatal("no answer on stdin")
		}
		var v map[string]any
		if err := json.Unmarshal(in.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	go c.Allow(nil)
	v := read()
	r := v["response"].(map[string]any)
	inner := r["response"].(map[string]any)
	if v["type"] != "control_response" || r["subtype"] != "success" || r["request_id"] != c.RequestID ||
		inner["behavior"] != "allow" || inner["updatedInput"].(map[string]any)["command"] != "echo hi > f.txt" {
		t.Fatalf("allow = %v", v)
	}
	go c.Deny("no")
	inner = read()["response"].(map[string]any)["response"].(map[string]any)
	if inner["behavior"] != "deny" || inner["message"] != "no" {
		t.Fatalf("deny = %v", inner)
	}
	go c.Fail("bad")
	r = read()["response"].(map[string]any)
	if r["subtype"] != "error" || r["error"] != "bad" || r["request_id"] != c.RequestID {
		t.Fatalf("fail = %v", r)
	}
}
