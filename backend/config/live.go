package config

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/loopat/desktop/backend/safefs"
)

// Live is the one config in force while the app runs. Core owns it; readers call Get
// each time they need a value (never keep a copy), and parts that hold state built
// from config (the engine connection, notifications, host-exec policies) Subscribe.
//
// Subscribers are called synchronously, in subscription order, by the goroutine that
// calls Set, so there is no goroutine per subscriber to leak; a subscriber that needs
// slow work starts it itself under its own lifetime. A subscriber must not call Set.
type Live struct {
	cur atomic.Pointer[snapshot]

	pub  sync.Mutex // serialises Set, so subscribers see changes in order
	mu   sync.Mutex // guards subs and next
	subs map[int]func(old, new Config)
	next int
}

type snapshot struct {
	cfg Config
	err error // the load error of the file on disk; the app runs on cfg (defaults) meanwhile
}

// NewLive starts with cfg and the error (if any) loading it produced.
func NewLive(cfg Config, loadErr error) *Live {
	l := &Live{subs: map[int]func(old, new Config){}}
	l.cur.Store(&snapshot{cfg: cfg, err: loadErr})
	return l
}

// Get is the config in force.
func (l *Live) Get() Config { return l.cur.Load().cfg }

// LoadErr is the error of the last load of config.toml (nil once a valid file is saved).
func (l *Live) LoadErr() error { return l.cur.Load().err }

// Set publishes a new valid config and tells every subscriber.
func (l *Live) Set(cfg Config) {
	l.pub.Lock()
	defer l.pub.Unlock()
	old := l.cur.Swap(&snapshot{cfg: cfg}).cfg
	l.mu.Lock()
	ids := make([]int, 0, len(l.subs))
	for id := range l.subs {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	fns := make([]func(old, new Config), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, l.subs[id])
	}
	l.mu.Unlock()
	for _, fn := range fns {
		fn(old, cfg)
	}
}

// Subscribe calls fn after every Set with the previous and the new config. The
// returned function unsubscribes; it is safe to call more than once.
func (l *Live) Subscribe(fn func(old, new Config)) (unsubscribe func()) {
	l.mu.Lock()
	id := l.next
	l.next++
	l.subs[id] = fn
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.subs, id)
		l.mu.Unlock()
	}
}

// Subscribers is how many subscriptions are active (tests check nothing is left behind).
func (l *Live) Subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

// restartOnly are the keys read once at start (the image builder is built from the
// [sandbox] image settings); every other key applies while the app runs.
var restartOnly = map[string]bool{
	"sandbox.base_image":     true,
	"sandbox.extra_ca_certs": true,
	"sandbox.trust_host_cas": true,
}

// NeedsRestart reports whether key (as Changed spells it) applies only after a restart.
func NeedsRestart(key string) bool { return restartOnly[key] }

// Changed lists the dotted TOML keys whose values differ between a and b, in file
// order ("providers" stands for the whole providers list).
func Changed(a, b Config) []string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		section := tomlName(t.Field(i))
		fa, fb := va.Field(i), vb.Field(i)
		if fa.Kind() != reflect.Struct {
			if !sameValue(fa, fb) {
				out = append(out, section)
			}
			continue
		}
		st := fa.Type()
		for j := 0; j < st.NumField(); j++ {
			if !sameValue(fa.Field(j), fb.Field(j)) {
				out = append(out, section+"."+tomlName(st.Field(j)))
			}
		}
	}
	return out
}

// sameValue is DeepEqual except that an absent list equals an empty one (`x = []` in
// the file decodes to an empty slice, the defaults have nil).
func sameValue(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// RestartKeys is the subset of Changed(a, b) that needs a restart to apply.
func RestartKeys(a, b Config) []string {
	var out []string
	for _, k := range Changed(a, b) {
		if NeedsRestart(k) {
			out = append(out, k)
		}
	}
	return out
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// WriteFileAtomic replaces path with data so that a crash leaves either the old or the
// new file, never a torn one (safefs.WriteFileAtomic: temp file, fsync, rename, folder fsync).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return safefs.WriteFileAtomic(path, data, perm)
}
