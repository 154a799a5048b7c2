package images

import (
	"strings"
	"testing"
)

func TestStripHostTableKeepsTextCommentsOrder(t *testing.T) {
	in := `# my tools, hand-written
min_version = "2024.1.1" # keep me

[tools]
node = "20"   # LTS
# python comes next
python = "3.12"

[host]
# host-only CLIs I need
clis = [
  "aone",  # company cli
  "open",
]

[host.extra]
x = 1

# about env: stays
[env]
FOO = "bar"
`
	want := `# my tools, hand-written
min_version = "2024.1.1" # keep me

[tools]
node = "20"   # LTS
# python comes next
python = "3.12"

# about env: stays
[env]
FOO = "bar"
`
	got, err := StripHostTable([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("stripped:\n%s\nwant:\n%s", got, want)
	}
}

func TestStripHostTableVariants(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"no host is byte-identical": {
			in:   "# c\n[tools]\nnode = \"20\"\n\n\n[env]\nA = \"1\"\n",
			want: "# c\n[tools]\nnode = \"20\"\n\n\n[env]\nA = \"1\"\n",
		},
		"host last": {
			in:   "[tools]\njq = \"1.7\"\n\n[host]\nclis = [\"aone\"]\n",
			want: "[tools]\njq = \"1.7\"\n\n",
		},
		"host first": {
			in:   "[host]\nclis = [\"aone\"]\n[tools]\njq = \"1.7\"\n",
			want: "[tools]\njq = \"1.7\"\n",
		},
		"top-level dotted host key": {
			in:   "host.clis = [\"aone\"]\n# tools\n[tools]\njq = \"1.7\"\n",
			want: "# tools\n[tools]\njq = \"1.7\"\n",
		},
		"inline host table": {
			in:   "host = { clis = [\"aone\"] }\n[tools]\njq = \"1.7\"\n",
			want: "[tools]\njq = \"1.7\"\n",
		},
		"a tools key called host stays": {
			in:   "[tools]\nhost = \"1\"\n",
			want: "[tools]\nhost = \"1\"\n",
		},
		"multi-line string in host with bracket lines": {
			in:   "[host]\nnote = \"\"\"\n[tools]\nfake = 1\n\"\"\"\nclis = []\n[tools]\njq = \"1.7\"\n",
			want: "[tools]\njq = \"1.7\"\n",
		},
		"quoted host header and CRLF": {
			in:   "[tools]\r\njq = \"1.7\"\r\n[ \"host\" ]\r\nclis = [\"x\"]\r\n",
			want: "[tools]\r\njq = \"1.7\"\r\n",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := StripHostTable([]byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestStripHostTableRejectsInvalidTOML(t *testing.T) {
	if _, err := StripHostTable([]byte("[tools\nnode = 1\n")); err == nil {
		t.Fatal("invalid TOML must be an error")
	}
}

func TestParseHostCLIs(t *testing.T) {
	got, err := ParseHostCLIs([]byte("[tools]\n[host]\nclis = [\"aone\", \"gh\", \"aone\", \"x.y+z-1_2\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "aone,gh,x.y+z-1_2" {
		t.Fatalf("got %v", got)
	}
	if got, err := ParseHostCLIs([]byte("[tools]\nnode = \"20\"\n")); err != nil || got != nil {
		t.Fatalf("no [host]: got %v %v", got, err)
	}
	for _, bad := range []string{
		`[host]` + "\nclis = [\"../evil\"]\n",
		`[host]` + "\nclis = [\"a b\"]\n",
		`[host]` + "\nclis = [\"-rf\"]\n",
		`[host]` + "\nclis = [\"a'b\"]\n",
		`[host]` + "\nclis = [1]\n",
		`[host]` + "\nclis = \"aone\"\n",
		"host = 3\n",
		"[host\n",
	} {
		if _, err := ParseHostCLIs([]byte(bad)); err == nil {
			t.Errorf("ParseHostCLIs(%q) must fail", bad)
		}
	}
}

func TestChildContextShimsAndTag(t *testing.T) {
	base := "localhost/loopat-sandbox-0123456789abcdef:latest"
	toml := []byte("# mine\n[tools]\n\n[host]\nclis = [\"aone\", \"gh\"]\n")
	c, err := childContext(base, toml)
	if err != nil {
		t.Fatal(err)
	}
	for _, cli := range []string{"aone", "gh"} {
		data, ok := c.file("host-bin/" + cli)
		if !ok {
			t.Fatalf("no shim for %s", cli)
		}
		if want := "#!/bin/sh\nexec loopat-host '" + cli + "' \"$@\"\n"; string(data) != want {
			t.Errorf("shim %s = %q, want %q", cli, data, want)
		}
		for _, e := range c.entries {
			if e.Path == "host-bin/"+cli && e.Mode.Perm() != 0o755 {
				t.Errorf("shim mode %v", e.Mode)
			}
		}
	}
	m, _ := c.file("mise.toml")
	if strings.Contains(string(m), "host") || !strings.HasPrefix(string(m), "# mine\n[tools]") {
		t.Errorf("mise.toml in context: %q", m)
	}
	cf, _ := c.file("Containerfile")
	if !strings.HasPrefix(string(cf), "FROM "+base+"\n") || !strings.Contains(string(cf), "mise install") ||
		!strings.Contains(string(cf), "COPY --chown=loopat:loopat host-bin/ /opt/loopat-mise/shims/") {
		t.Errorf("child Containerfile:\n%s", cf)
	}
	// After mise reshim, so the shims survive it.
	if strings.Index(string(cf), "host-bin/") < strings.Index(string(cf), "mise reshim") {
		t.Error("shims must be copied after mise reshim")
	}

	same, _ := childContext(base, append([]byte(nil), toml...))
	if same.hash() != c.hash() {
		t.Error("same mise.toml must give the same tag")
	}
	other, _ := childContext(base, []byte("# mine\n[tools]\n\n[host]\nclis = [\"aone\"]\n"))
	if other.hash() == c.hash() {
		t.Error("different shims must give a different tag")
	}
	rebased, _ := childContext("localhost/loopat-sandbox-fedcba9876543210:latest", toml)
	if rebased.hash() == c.hash() {
		t.Error("a new base must give a new child tag")
	}
	noHost, _ := childContext(base, []byte("[tools]\n"))
	if _, ok := noHost.file("Containerfile"); !ok || strings.Contains(string(mustFile(noHost, "Containerfile")), "host-bin") {
		t.Error("without [host].clis there is no shim COPY")
	}
	if _, err := childContext(base, []byte("[host]\nclis = [\"bad name\"]\n")); err == nil {
		t.Error("invalid cli name must fail the child context")
	}
}

func mustFile(c *buildContext, p string) []byte {
	d, _ := c.file(p)
	return d
}

func TestLoopImageRef(t *testing.T) {
	b := testBuilder(t, []byte("fwd"))
	base, _ := b.BaseRef()
	if r, err := b.LoopImageRef([]byte("  \n")); err != nil || r != base {
		t.Fatalf("empty mise.toml: %s %v, want base %s", r, err, base)
	}
	r1, err := b.LoopImageRef([]byte("[tools]\njq = \"1.7\"\n"))
	if err != nil || r1 == base {
		t.Fatalf("child ref %s %v", r1, err)
	}
}
