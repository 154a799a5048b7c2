package images

import (
	"errors"
	"strings"
	"testing"
)

const sampleBuild = `STEP 1/4: FROM localhost/loopat-sandbox-0123456789abcdef:latest
STEP 2/4: COPY mise.toml /opt/loopat-mise/config/config.toml
--> e0d97cc734b
STEP 3/4: RUN mise install && mise reshim
mise by @jdx – installing 1 tool
mise ERROR Failed to install npm:cowsay@1.6.0
`

func TestProgressParserSteps(t *testing.T) {
	var got []Progress
	p := newProgressParser("img", func(pr Progress) { got = append(got, pr) })
	// Arbitrary chunking, as the stream arrives.
	for i := 0; i < len(sampleBuild); i += 7 {
		end := min(i+7, len(sampleBuild))
		p.Write([]byte(sampleBuild[i:end]))
	}
	if len(got) != 6 {
		t.Fatalf("want 6 line updates, got %d: %+v", len(got), got)
	}
	if got[0].Step != 1 || got[0].Total != 4 || got[0].Percent != 0 || got[0].Image != "img" {
		t.Errorf("first: %+v", got[0])
	}
	if got[3].Step != 3 || got[3].Percent != 50 || !strings.HasPrefix(got[3].Line, "STEP 3/4: RUN") {
		t.Errorf("step 3: %+v", got[3])
	}
	if got[5].Step != 3 || got[5].Line != "mise ERROR Failed to install npm:cowsay@1.6.0" {
		t.Errorf("log line keeps its step: %+v", got[5])
	}
	step, tail := p.failure()
	if step != "STEP 3/4: RUN mise install && mise reshim" {
		t.Errorf("failing step %q", step)
	}
	if len(tail) != 3 || tail[2] != "mise ERROR Failed to install npm:cowsay@1.6.0" {
		t.Errorf("tail %q", tail)
	}
	p.finish(errors.New("exit status 1"))
	last := got[len(got)-1]
	if !last.Done || last.Err == "" || last.Percent != 50 {
		t.Errorf("final failed update: %+v", last)
	}
}

func TestProgressParserSuccessAndTailLimit(t *testing.T) {
	var got []Progress
	p := newProgressParser("img", func(pr Progress) { got = append(got, pr) })
	p.Write([]byte("STEP 1/2: FROM x\n"))
	for i := 0; i < 50; i++ {
		p.Write([]byte("line\n"))
	}
	p.Write([]byte("STEP 2/2: CMD y\nno newline at end"))
	p.finish(nil)
	last := got[len(got)-1]
	if !last.Done || last.Err != "" || last.Percent != 100 || last.Step != 2 {
		t.Errorf("final: %+v", last)
	}
	if got[len(got)-2].Line != "no newline at end" {
		t.Errorf("partial last line lost: %+v", got[len(got)-2])
	}
	p2 := newProgressParser("img", nil)
	p2.Write([]byte("STEP 1/1: RUN x\n"))
	for i := 0; i < 50; i++ {
		p2.Write([]byte("l\n"))
	}
	if _, tail := p2.failure(); len(tail) != tailLines {
		t.Errorf("tail has %d lines, want %d", len(tail), tailLines)
	}
}

func TestBuildErrorMessage(t *testing.T) {
	e := &BuildError{Image: "img", Step: "STEP 3/4: RUN mise install", Tail: []string{"a", "b"}, Err: errors.New("exit status 1")}
	msg := e.Error()
	for _, want := range []string{"img", "STEP 3/4: RUN mise install", "exit status 1", "a\nb"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !errors.Is(e, e.Err) {
		t.Error("BuildError must unwrap")
	}
}
