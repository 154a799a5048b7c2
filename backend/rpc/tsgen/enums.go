package tsgen

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// SourceEnums finds a named string type's constants in its package's Go source: every
// `Name T = "literal"` (tests left out). It needs the module's source, as `go run` has.
func SourceEnums() EnumValues {
	cache := map[string]map[string][]string{} // pkg path -> type name -> values
	return func(t reflect.Type) ([]string, error) {
		byType, ok := cache[t.PkgPath()]
		if !ok {
			pkg, err := build.Import(t.PkgPath(), ".", build.FindOnly)
			if err != nil {
				return nil, err
			}
			byType, err = stringConsts(pkg.Dir)
			if err != nil {
				return nil, err
			}
			cache[t.PkgPath()] = byType
		}
		return byType[t.Name()], nil
	}
}

func stringConsts(dir string) (map[string][]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					// Files for other platforms may declare the same constant again.
					if s, err := strconv.Unquote(lit.Value); err == nil && !slices.Contains(out[typ.Name], s) {
						out[typ.Name] = append(out[typ.Name], s)
					}
				}
			}
		}
	}
	return out, nil
}
