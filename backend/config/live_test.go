package config

import (
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

func TestLiveSetNotifiesSubscribersUntilUnsubscribed(t *testing.T) {
	l := NewLive(Default(), nil)
	var got []int
	unsub := l.Subscribe(func(old, cfg Config) {
		got = append(got, old.Sandbox.IdleMinutes, cfg.Sandbox.IdleMinutes)
	})
	next := Default()
	next.Sandbox.IdleMinutes = 7
	l.Set(next)
	if l.Get().Sandbox.IdleMinutes != 7 {
		t.Fatalf("Get after Set = %d", l.Get().Sandbox.IdleMinutes)
	}
	if !reflect.DeepEqual(got, []int{30, 7}) {
		t.Fatalf("subscriber saw %v, want old 30 then new 7", got)
	}
	unsub()
	unsub() // twice is harmless
	if n := l.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left after unsubscribe", n)
	}
	next.Sandbox.IdleMinutes = 9
	l.Set(next)
	if len(got) != 2 {
		t.Fatalf("unsubscribed callback still called: %v", got)
	}
}

func TestLiveLoadErrClearedBySet(t *testing.T) {
	le := &LoadError{File: "config.toml", Key: "ui.theme", Msg: "bad"}
	l := NewLive(Default(), le)
	if l.LoadErr() != le {
		t.Fatalf("LoadErr = %v", l.LoadErr())
	}
	l.Set(Default())
	if l.LoadErr() != nil {
		t.Fatalf("a saved valid config still carries the load error %v", l.LoadErr())
	}
}

// Readers never see a torn config and subscribers see every change in order (run with -race).
func TestLiveConcurrentGetSet(t *testing.T) {
	l := NewLive(Default(), nil)
	last := -1
	l.Subscribe(func(old, cfg Config) {
		if cfg.Sandbox.IdleMinutes <= last {
			t.Errorf("change %d after %d: out of order", cfg.Sandbox.IdleMinutes, last)
		}
		last = cfg.Sandbox.IdleMinutes
	})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			c := Default()
			c.Sandbox.IdleMinutes = i
			c.HostExec.TimeoutSeconds = i + 1
			l.Set(c)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			c := l.Get()
			if c.Sandbox.IdleMinutes != 30 && c.HostExec.TimeoutSeconds != c.Sandbox.IdleMinutes+1 {
				t.Errorf("torn config: idle %d timeout %d", c.Sandbox.IdleMinutes, c.HostExec.TimeoutSeconds)
			}
		}
	}()
	wg.Wait()
	if last != 199 {
		t.Fatalf("last change seen %d", last)
	}
}

func TestChangedAndRestartKeys(t *testing.T) {
	a := Default()
	b := Default()
	b.Sandbox.IdleMinutes = 5
	b.UI.Theme = "dark"
	b.Engine.Podman = "/opt/podman"
	b.Providers = append(b.Providers, Provider{Name: "other", BaseURL: "https://x"})
	if got, want := Changed(a, b), []string{"engine.podman", "sandbox.idle_minutes", "providers", "ui.theme"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Changed = %v, want %v", got, want)
	}
	if got := RestartKeys(a, b); len(got) != 0 {
		t.Fatalf("live keys reported as restart-only: %v", got)
	}
	b.Sandbox.BaseImage = "docker.io/library/ubuntu:24.04"
	b.Sandbox.ExtraCACerts = []string{"/etc/ca.pem"}
	if got, want := RestartKeys(a, b), []string{"sandbox.extra_ca_certs", "sandbox.base_image"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("RestartKeys = %v, want %v", got, want)
	}
	b = Default()
	b.Sandbox.ExtraCACerts = []string{} // `extra_ca_certs = []` in the file
	if Changed(a, a) != nil || Changed(a, b) != nil {
		t.Fatalf("no change reported as %v", Changed(a, a))
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "new\n" {
		t.Fatalf("content %q %v", data, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}
