package vivit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// goBlock matches a fenced Go block of a Markdown file.
var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// snippetImports maps the package names README fragments may use to their
// import paths, for fragments without a package clause.
var snippetImports = map[string]string{
	"vivit": "github.com/vivit-go/vivit", "bench": "github.com/vivit-go/vivit/bench",
	"eigen": "github.com/vivit-go/vivit/eigen", "fmt": "fmt", "log": "log", "os": "os",
	"math": "math", "mat": "gonum.org/v1/gonum/mat",
}

// TestReadmeCompiles extracts every ```go block of README.md, as it is when
// the test runs, and builds it with go vet inside this module: a complete
// program as it stands, a fragment wrapped in func main with the imports
// it names. Users copy these blocks; they must compile.
func TestReadmeCompiles(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlock.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block")
	}
	for i, b := range blocks {
		src := b[1]
		if !regexp.MustCompile(`(?m)^package \w+`).MatchString(src) {
			src = wrapFragment(src)
		}
		// A directory inside the module, so that its packages resolve; the
		// leading underscore keeps it out of ./... patterns.
		dir, err := os.MkdirTemp(".", "_readme_snippet")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(goTool, "vet", "./"+filepath.Base(dir))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README.md go block %d does not compile (go vet: %v):\n%s\n--- source ---\n%s", i+1, err, out, src)
		}
	}
}

// wrapFragment makes a program of a fragment: package main, the imports of
// the package names it uses, and the fragment as the body of main.
func wrapFragment(src string) string {
	var imports []string
	for name, path := range snippetImports {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(src) {
			imports = append(imports, `"`+path+`"`)
		}
	}
	sort.Strings(imports)
	return "package main\n\nimport (\n\t" + strings.Join(imports, "\n\t") + "\n)\n\nfunc main() {\n" + src + "\n}\n"
}
