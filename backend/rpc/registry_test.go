package rpc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type Greeter struct{ n int }

type Greeting struct {
	Text string `json:"text"`
}

func (g *Greeter) Hello(name string, times int) (Greeting, error) {
	if name == "" {
		return Greeting{}, errors.New("name is required")
	}
	return Greeting{Text: strings.Repeat("hi "+name+" ", times)}, nil
}
func (g *Greeter) Bump()       { g.n++ }
func (g *Greeter) Count() int  { return g.n }
func (g *Greeter) Boom() error { var m map[string]int; m["x"] = 1; return nil }

func TestCall(t *testing.T) {
	g := &Greeter{}
	r := NewRegistry(g)
	res, err := r.Call("Greeter", "Hello", json.RawMessage(`["ann", 2]`))
	if err != nil || res.(Greeting).Text != "hi ann hi ann " {
		t.Fatalf("Hello: %v %v", res, err)
	}
	if _, err := r.Call("Greeter", "Hello", json.RawMessage(`["", 1]`)); err == nil || err.Error() != "name is required" {
		t.Fatalf("method error not returned: %v", err)
	}
	if _, err := r.Call("Greeter", "Bump", nil); err != nil {
		t.Fatal(err)
	}
	if res, _ := r.Call("Greeter", "Count", json.RawMessage(`[]`)); res.(int) != 1 {
		t.Fatalf("Count = %v", res)
	}
	var ce *CallError
	for _, bad := range []struct{ svc, m, args string }{
		{"Nope", "Hello", `[]`}, {"Greeter", "Nope", `[]`}, {"Greeter", "Hello", `{"a":1}`},
		{"Greeter", "Hello", `["a"]`}, {"Greeter", "Hello", `[1, 2]`},
	} {
		if _, err := r.Call(bad.svc, bad.m, json.RawMessage(bad.args)); !errors.As(err, &ce) {
			t.Errorf("%s.%s(%s): want CallError, got %v", bad.svc, bad.m, bad.args, err)
		}
	}
	if _, err := r.Call("Greeter", "Boom", nil); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("panic not turned into error: %v", err)
	}
	if ms := r.Methods(); len(ms) != 4 || ms[0] != "Greeter.Boom" {
		t.Fatalf("Methods = %v", ms)
	}
}
