package core

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// frontendCall is one call('<Service>', '<Method>', args...) in the frontend source.
type frontendCall struct {
	where           string
	service, method string
	args            int
}

var callRe = regexp.MustCompile(`\bcall\b[^(;]*?\(\s*['"](\w+)['"]\s*,\s*['"](\w+)['"]`)

// frontendCalls finds every RPC call in frontend/src (tests excluded) with its number
// of arguments, counted as the top-level commas before the call's closing parenthesis.
func frontendCalls(t *testing.T) []frontendCall {
	t.Helper()
	root := filepath.Join("..", "..", "frontend", "src")
	var out []frontendCall
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !(strings.HasSuffix(path, ".ts") || strings.HasSuffix(path, ".tsx")) || strings.Contains(path, ".test.") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(data)
		for _, m := range callRe.FindAllStringSubmatchIndex(src, -1) {
			n, ok := countArgs(src[m[1]:])
			if !ok {
				t.Errorf("%s: cannot read the arguments of %s.%s", path, src[m[2]:m[3]], src[m[4]:m[5]])
				continue
			}
			line := strings.Count(src[:m[0]], "\n") + 1
			out = append(out, frontendCall{where: path + ":" + itoa(line), service: src[m[2]:m[3]], method: src[m[4]:m[5]], args: n})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// countArgs reads from just after the method name to the call's closing parenthesis.
func countArgs(rest string) (int, bool) {
	depth, n := 0, 0
	var quote byte
	for i := 0; i < len(rest); i++ {
		ch := rest[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch == '(' || ch == '[' || ch == '{':
			depth++
		case ch == ']' || ch == '}':
			depth--
		case ch == ')':
			if depth == 0 {
				return n, true
			}
			depth--
		case ch == ',' && depth == 0:
			n++
		}
	}
	return 0, false
}

func itoa(i int) string { return strconv.Itoa(i) }

// Every method the frontend calls exists in the registry both transports serve, with
// the same number of parameters: a renamed method or a changed signature fails here
// instead of reaching the user as "not available" or HTTP 400.
func TestFrontendCallsMatchRegistry(t *testing.T) {
	c := openTestCore(t)
	services := map[string]reflect.Value{}
	for _, s := range c.Registry().Services() {
		v := reflect.ValueOf(s)
		services[reflect.Indirect(v).Type().Name()] = v
	}
	calls := frontendCalls(t)
	if len(calls) < 40 {
		t.Fatalf("found only %d frontend calls: the scanner no longer matches the client code", len(calls))
	}
	t.Logf("checking %d frontend calls", len(calls))
	for _, fc := range calls {
		svc, ok := services[fc.service]
		if !ok {
			t.Errorf("%s: %s is not a registered service", fc.where, fc.service)
			continue
		}
		m := svc.MethodByName(fc.method)
		if !m.IsValid() {
			t.Errorf("%s: %s.%s does not exist", fc.where, fc.service, fc.method)
			continue
		}
		if m.Type().NumIn() != fc.args {
			t.Errorf("%s: %s.%s takes %d argument(s), the frontend passes %d", fc.where, fc.service, fc.method, m.Type().NumIn(), fc.args)
		}
	}
}

func TestCountArgs(t *testing.T) {
	for src, want := range map[string]int{
		")":                            0,
		", a)":                         1,
		", vault, path, mode, v)":      4,
		", { title: 'x, y' }, [1, 2])": 2,
		", f(a, b), `c,d`)":            2,
	} {
		if got, ok := countArgs(src); !ok || got != want {
			t.Errorf("countArgs(%q) = %d %v, want %d", src, got, ok, want)
		}
	}
}
