package uninstall

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Uninstall must never destroy the podman machine or podman's whole storage. The package
// makes that structurally impossible: it cannot start processes (no os/exec, no
// StartProcess/ForkExec/Exec, no bindings/system whose Reset wipes storage), and the only
// place that even spells the dangerous commands is hints.go, which prints them and imports
// nothing.
func TestPackageCannotRunMachineOrResetCommands(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbiddenImports := map[string]bool{
		"os/exec": true, "syscall": true, "golang.org/x/sys/unix": true,
		"github.com/containers/podman/v5/pkg/bindings/system": true,
		"github.com/loopat/desktop/backend/machine":           true,
		"github.com/loopat/desktop/backend/engine":            true, // it drives machines; Deps take funcs instead
	}
	forbiddenCalls := regexp.MustCompile(`\b(StartProcess|ForkExec|syscall\.Exec|exec\.Command|system\.Reset|Machines\(\))`)
	dangerous := regexp.MustCompile(`(?i)machine["\s,]+(rm|reset|remove)|system["\s,]+reset|"machine"|"reset"`)
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		checked++
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range file.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if forbiddenImports[p] {
				t.Errorf("%s imports %s", f, p)
			}
			if f == "hints.go" {
				t.Errorf("hints.go must import nothing (it only builds text), imports %s", p)
			}
		}
		if m := forbiddenCalls.Find(src); m != nil {
			t.Errorf("%s can start a process or reset podman: %s", f, m)
		}
		if f != "hints.go" {
			if m := dangerous.Find(src); m != nil {
				t.Errorf("%s spells a forbidden command: %q", f, m)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("scanned only %d files: the scan is not looking at the package", checked)
	}
}

// The hints are printed, never run: they reach the user only as Stay.Commands strings.
func TestMachineHintsArePrintedText(t *testing.T) {
	src, err := os.ReadFile("hints.go")
	if err != nil {
		t.Fatal(err)
	}
	file, err := parser.ParseFile(token.NewFileSet(), "hints.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(file, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				t.Errorf("hints.go calls %s.%s; it may only build strings", sel.X, sel.Sel.Name)
			}
		}
		return true
	})
	var found bool
	for _, s := range stays("darwin", "", nil) {
		for _, c := range s.Commands {
			found = found || c == "podman machine stop && podman machine rm"
		}
	}
	if !found {
		t.Fatal("macOS plan lacks the manual machine removal hint")
	}
}
