package tsgen

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loopat/desktop/backend/rpc/tsgen/internal/other"
)

type Base struct {
	ID     string `json:"id"`
	Hidden string `json:"-"`
}

type Node struct {
	Base
	Name     string           `json:"name"`
	Note     string           `json:"note,omitempty"`
	When     time.Time        `json:"when"`
	Data     []byte           `json:"data"`
	Raw      json.RawMessage  `json:"raw"`
	Tags     []string         `json:"tags"`
	Labels   map[string]int   `json:"labels,omitempty"`
	Parent   *Node            `json:"parent"`
	Kids     []*Node          `json:"kids,omitempty"`
	Color    other.Color      `json:"color"`
	Count    int64            `json:"count,string"`
	Any      any              `json:"any"`
	Inline   struct{ X bool } `json:"inline"`
	Fixed    [2]float64       `json:"fixed"`
	Other    other.Node       `json:"other"`
	NoTag    uint8
	private  int
	ByColour map[other.Color][]other.Color `json:"byColour"`
}

// Event is published, never returned: it is generated because it is listed as an extra.
type Event struct {
	Step string `json:"step"`
}

type Svc struct{}

func (*Svc) Get(id string, depth int) (*Node, error) { return nil, nil }
func (*Svc) Put(n Node) error                        { return nil }
func (*Svc) Ping()                                   {}
func (*Svc) Count() int                              { return 0 }

func TestGenerate(t *testing.T) {
	src, err := Generate([]any{&Svc{}}, []any{Event{}}, func(t reflect.Type) ([]string, error) {
		if t == reflect.TypeOf(other.Red) {
			return []string{"red", "blue"}, nil
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(src)
	for _, want := range []string{
		"export type Color = 'red' | 'blue';",
		"export interface TsgenNode {\n  id: string;\n  name: string;\n  note?: string;\n  when: string;\n  data: string;\n  raw: JSONValue;\n  tags: string[] | null;\n  labels?: Record<string, number>;\n  parent: TsgenNode | null;\n  kids?: (TsgenNode | null)[];\n  color: Color;\n  count: string;\n  any: JSONValue;\n  inline: { X: boolean; };\n  fixed: number[];\n  other: OtherNode;\n  NoTag: number;\n  byColour: Record<string, Color[] | null> | null;\n}",
		"export interface OtherNode {\n  value: number;\n}",
		"export interface Event {\n  step: string;\n}",
		"    Get: { params: [string, number]; result: TsgenNode | null };",
		"    Put: { params: [TsgenNode]; result: void };",
		"    Ping: { params: []; result: void };",
		"    Count: { params: []; result: number };",
		"  Svc: ['Count', 'Get', 'Ping', 'Put'],",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing:\n%s\n--- in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Hidden") || strings.Contains(got, "private") {
		t.Errorf("json:\"-\" or unexported field emitted:\n%s", got)
	}
}

type BadSvc struct{}

func (*BadSvc) Three() (int, int, error) { return 0, 0, nil }

func TestGenerateRejectsWhatRPCCannotCarry(t *testing.T) {
	if _, err := Generate([]any{&BadSvc{}}, nil, nil); err == nil {
		t.Fatal("a method with three results was accepted")
	}
}

func TestSourceEnums(t *testing.T) {
	vals, err := SourceEnums()(reflect.TypeOf(other.Red))
	if err != nil || !reflect.DeepEqual(vals, []string{"red", "blue"}) {
		t.Fatalf("SourceEnums(Color) = %v, %v", vals, err)
	}
}
