package mediatest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEverySkipOnAMissingDependencyGoesThroughMissing keeps Missing the only
// place that turns an absent dependency into a skip, so that CI (InCI) fails
// instead. It parses every .go file of the repository (tests and test
// helpers alike; testdata and hidden folders excluded) and finds each call of
// a method named Skip, Skipf or SkipNow. Such a call is allowed only
//
//   - inside Missing itself;
//   - as the body of `if testing.Short() { ... }` (a slow test opted out by
//     -short: a choice of the runner, not a missing dependency);
//   - in a test function whose name ends in "Child": a child-process entry
//     point that its parent test runs with an environment variable set, and
//     that has nothing to do when run directly.
//
// Every other skip is reported; a test that lacks something calls Missing
// (or Tool/File, which call it) instead.
func TestEverySkipOnAMissingDependencyGoesThroughMissing(t *testing.T) {
	bad := skipViolations(t, Root())
	for _, b := range bad {
		t.Errorf("%s: skips without mediatest.Missing (use Missing, or guard with testing.Short())", b)
	}
}

// TestSkipRuleCatchesAnUnguardedSkip proves the walker is not vacuous: a
// file with the old kind of guard is reported, the allowed forms are not.
func TestSkipRuleCatchesAnUnguardedSkip(t *testing.T) {
	dir := t.TempDir()
	src := `package x

import (
	"os"
	"os/exec"
	"testing"
)

func TestOldGuard(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffmpeg")
		}
		t.Skip("ffmpeg not found")
	}
}

func helper(tb testing.TB) { tb.Skipf("no %s", "minio") }

func TestSlow(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
}

func TestWorkerChild(t *testing.T) {
	if os.Getenv("WORKER") == "" {
		t.Skip("run by TestWorker")
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := skipViolations(t, dir)
	if len(bad) != 2 || !strings.Contains(bad[0], "TestOldGuard") || !strings.Contains(bad[1], "helper") {
		t.Fatalf("violations %q, want TestOldGuard and helper only", bad)
	}
}

// skipViolations lists "file:line in func" for every disallowed skip under root.
func skipViolations(t *testing.T, root string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if (fn.Name.Name == "Missing" && filepath.ToSlash(rel) == "internal/mediatest/mediatest.go") ||
				(strings.HasPrefix(fn.Name.Name, "Test") && strings.HasSuffix(fn.Name.Name, "Child")) {
				continue
			}
			bad = append(bad, unguardedSkips(fset, fn)...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// unguardedSkips lists the skips in fn's body outside `if testing.Short()` bodies.
func unguardedSkips(fset *token.FileSet, fn *ast.FuncDecl) []string {
	var bad []string
	var visit func(ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IfStmt:
			if isTestingShort(n.Cond) {
				if n.Else != nil { // only the body may skip
					ast.Inspect(n.Else, visit)
				}
				return false
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				switch sel.Sel.Name {
				case "Skip", "Skipf", "SkipNow":
					bad = append(bad, fset.Position(n.Pos()).String()+" in "+fn.Name.Name)
				}
			}
		}
		return true
	}
	ast.Inspect(fn.Body, visit)
	return bad
}

func isTestingShort(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 0 {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Short" {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "testing"
}
