// Package rpc exposes the bound services to the browser transport exactly as Wails
// exposes them to the desktop window: every exported method of a registered service
// is callable by "<Service>.<Method>" with positional JSON arguments.
package rpc

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

var errorType = reflect.TypeOf((*error)(nil)).Elem()

// Registry maps service names to bound values.
type Registry struct {
	services map[string]reflect.Value
	order    []any
}

// NewRegistry registers each service under its type name (e.g. *services.EngineService
// -> "EngineService"), the same name Wails uses under window.go.services.
func NewRegistry(svcs ...any) *Registry {
	r := &Registry{services: map[string]reflect.Value{}}
	for _, s := range svcs {
		v := reflect.ValueOf(s)
		r.services[reflect.Indirect(v).Type().Name()] = v
		r.order = append(r.order, s)
	}
	return r
}

// Services returns the registered values in registration order (for wails.Options.Bind).
func (r *Registry) Services() []any { return r.order }

// Methods lists "<Service>.<Method>" for every callable method.
func (r *Registry) Methods() []string {
	var out []string
	for name, v := range r.services {
		t := v.Type()
		for i := 0; i < t.NumMethod(); i++ {
			out = append(out, name+"."+t.Method(i).Name)
		}
	}
	sort.Strings(out)
	return out
}

// CallError is a failure the caller caused (unknown method, bad arguments): HTTP 400/404.
type CallError struct {
	NotFound bool
	Msg      string
}

func (e *CallError) Error() string { return e.Msg }

// Call invokes service.method with args (a JSON array; null or empty = no args).
// It returns the method's first result, or its error. Panics in a method become errors.
func (r *Registry) Call(service, method string, args json.RawMessage) (result any, err error) {
	sv, ok := r.services[service]
	if !ok {
		return nil, &CallError{NotFound: true, Msg: fmt.Sprintf("unknown service %q", service)}
	}
	m := sv.MethodByName(method)
	if !m.IsValid() {
		return nil, &CallError{NotFound: true, Msg: fmt.Sprintf("unknown method %s.%s", service, method)}
	}
	var raw []json.RawMessage
	if trimmed := strings.TrimSpace(string(args)); trimmed != "" && trimmed != "null" {
		if err := json.Unmarshal(args, &raw); err != nil {
			return nil, &CallError{Msg: fmt.Sprintf("the request could not be read (%s.%s: arguments must be a JSON array: %v)", service, method, err)}
		}
	}
	mt := m.Type()
	if mt.IsVariadic() {
		return nil, &CallError{Msg: "variadic methods are not callable"}
	}
	if len(raw) != mt.NumIn() {
		return nil, &CallError{Msg: fmt.Sprintf("the request could not be read (%s.%s takes %d argument(s), got %d)", service, method, mt.NumIn(), len(raw))}
	}
	in := make([]reflect.Value, mt.NumIn())
	for i := range in {
		p := reflect.New(mt.In(i))
		if err := json.Unmarshal(raw[i], p.Interface()); err != nil {
			return nil, &CallError{Msg: fmt.Sprintf("the request could not be read (%s.%s argument %d: %v)", service, method, i+1, err)}
		}
		in[i] = p.Elem()
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("loopat hit an internal error (a bug: please report it): %s.%s: %v", service, method, p)
		}
	}()
	out := m.Call(in)
	switch len(out) {
	case 0:
		return nil, nil
	case 1:
		if mt.Out(0).Implements(errorType) {
			return nil, asError(out[0])
		}
		return out[0].Interface(), nil
	default:
		return out[0].Interface(), asError(out[len(out)-1])
	}
}

func asError(v reflect.Value) error {
	if !v.IsValid() || (v.Kind() == reflect.Interface && v.IsNil()) {
		return nil
	}
	if e, ok := v.Interface().(error); ok {
		return e
	}
	return errors.New("method returned a non-error last value")
}
