// Package gatewaybench turns what bench/gateway measured (a streamed 1 MB reply through
// loopat's model gateway and from the mock directly) into its artifacts/bench.json rows,
// apart from the measuring so `go test` checks them.
package gatewaybench

import (
	"fmt"
	"time"

	"github.com/loopat/desktop/bench/report/benchkit"
)

// Direct is the baseline's name.
const Direct = "mock directly (same client, same reply)"

// Stream is one streamed reply as the client saw it.
type Stream struct {
	FirstToken time.Duration // request sent -> first text delta read
	Total      time.Duration // request sent -> end of the stream
	Bytes      int64         // SSE bytes read
}

// Result is every reply bench/gateway streamed, both ways.
type Result struct {
	TextBytes       int // the reply's text, what the model "wrote"
	Gateway, Direct []Stream
}

// Check refuses a result that did not stream the whole reply both ways.
func (r Result) Check() error {
	if r.TextBytes <= 0 || len(r.Gateway) == 0 || len(r.Gateway) != len(r.Direct) {
		return fmt.Errorf("gateway: %d bytes, %d/%d streams", r.TextBytes, len(r.Gateway), len(r.Direct))
	}
	for _, s := range append(append([]Stream{}, r.Gateway...), r.Direct...) {
		if s.FirstToken <= 0 || s.Total < s.FirstToken || s.Bytes < int64(r.TextBytes) {
			return fmt.Errorf("gateway: a stream did not carry the whole reply: %+v", s)
		}
	}
	return nil
}

func pick(ss []Stream, f func(Stream) time.Duration) []time.Duration {
	var ds []time.Duration
	for _, s := range ss {
		ds = append(ds, f(s))
	}
	return ds
}

// throughput is the median MB/s of the text.
func throughput(ss []Stream, text int) float64 {
	var ds []time.Duration
	for _, s := range ss {
		ds = append(ds, s.Total)
	}
	return float64(text) / (1 << 20) / benchkit.Median(ds).Seconds()
}

// Rows are the artifacts/bench.json rows of r.
func Rows(r Result) []benchkit.Row {
	first := func(s Stream) time.Duration { return s.FirstToken }
	ft := benchkit.NewRow("gateway: first token of a streamed 1 MB reply through the gateway (p50)", "ms",
		benchkit.Ms(benchkit.Median(pick(r.Gateway, first))), map[string]float64{Direct: benchkit.Ms(benchkit.Median(pick(r.Direct, first)))}, Direct, len(r.Gateway))
	ft.Note = fmt.Sprintf("p95 %s", benchkit.Fmt(benchkit.Ms(benchkit.Percentile(pick(r.Gateway, first), 95)), "ms"))
	gw, direct := throughput(r.Gateway, r.TextBytes), throughput(r.Direct, r.TextBytes)
	tp := benchkit.NewRow("gateway: throughput of a streamed 1 MB reply through the gateway", "MB/s", gw,
		map[string]float64{Direct: direct}, Direct, len(r.Gateway))
	tp.Note = fmt.Sprintf("%.1f MB of SSE per reply; higher is better", float64(r.Gateway[0].Bytes)/(1<<20))
	return []benchkit.Row{ft, tp}
}
