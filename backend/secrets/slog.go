package secrets

import (
	"context"
	"fmt"
	"log/slog"
)

// LogHandler wraps a slog.Handler and masks secrets in messages and attribute values.
// Attributes whose key looks like a credential (api_key, token, password) are masked
// whole, whatever their value.
type LogHandler struct {
	inner slog.Handler
	s     *Scrubber
}

// NewLogHandler returns a handler that scrubs records before inner sees them.
func NewLogHandler(inner slog.Handler, s *Scrubber) *LogHandler {
	return &LogHandler{inner: inner, s: s}
}

func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, h.s.String(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(h.scrubAttr(a))
		return true
	})
	return h.inner.Handle(ctx, nr)
}

func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.scrubAttr(a)
	}
	return &LogHandler{inner: h.inner.WithAttrs(out), s: h.s}
}

func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{inner: h.inner.WithGroup(name), s: h.s}
}

func (h *LogHandler) scrubAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindGroup:
		group := v.Group()
		out := make([]slog.Attr, len(group))
		for i, g := range group {
			out[i] = h.scrubAttr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindString:
		if LooksSecretName(a.Key) && v.String() != "" {
			return slog.String(a.Key, Mask)
		}
		return slog.String(a.Key, h.s.String(v.String()))
	case slog.KindAny:
		if LooksSecretName(a.Key) {
			return slog.String(a.Key, Mask)
		}
		switch x := v.Any().(type) {
		case error:
			if msg := x.Error(); h.s.Contains(msg) {
				return slog.String(a.Key, h.s.String(msg))
			}
		case []byte:
			return slog.String(a.Key, string(h.s.Bytes(x)))
		default:
			// Structs, maps, Stringers: if their printed form holds a secret, log the
			// masked print instead of the value.
			if printed := fmt.Sprintf("%+v", x); h.s.Contains(printed) {
				return slog.String(a.Key, h.s.String(printed))
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
