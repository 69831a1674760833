package phrase_test

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/igf/nomina/internal/locale/localetest"
	"github.com/igf/nomina/internal/phrase"
)

var update = flag.Bool("update", false, "rewrite locales/messages.en.yaml from the code")

// sources are the packages whose messages people read: their ids and
// English are taken from the code.
var sources = []string{"../oneline", "../workflow", "../nomination", "../auth", "../membership", "../export", "../httpapi"}

var idPattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

type message struct {
	english string
	at      string
}

// extract returns every message id the code names with its English: each
// pair of string literals, an id then a text, among the arguments of a
// call (Fail, Problem, Invalidf, phrase.New, and the helpers that pass
// them on) or the elements of a composite literal.
func extract(t *testing.T) map[string]message {
	t.Helper()
	out := map[string]message{}
	fset := token.NewFileSet()
	for _, dir := range sources {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no sources in %s (%v)", dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				var args []ast.Expr
				switch x := n.(type) {
				case *ast.CallExpr:
					switch callName(x.Fun) {
					case "append":
						return true // a list of words, such as column headers
					case "Header", "Set", "Add", "Get", "Del":
						return true // an HTTP header and its value
					}
					args = x.Args
				case *ast.CompositeLit:
					if _, isArray := x.Type.(*ast.ArrayType); isArray {
						return true
					}
					args = x.Elts
				default:
					return true
				}
				// phrase.New names an id then its English, and that English
				// may be one capitalised word (a column heading such as "Name").
				isNew := false
				if call, ok := n.(*ast.CallExpr); ok {
					if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "New" {
						pkg, _ := sel.X.(*ast.Ident)
						isNew = pkg != nil && pkg.Name == "phrase"
					}
				}
				for i := 0; i+1 < len(args); i++ {
					id, ok1 := literal(args[i])
					en, ok2 := literal(args[i+1])
					if isNew && i == 0 && ok1 && ok2 && idPattern.MatchString(id) && strings.TrimSpace(en) != "" {
						at := fset.Position(args[i].Pos()).String()
						if prev, dup := out[id]; dup && prev.english != en {
							t.Errorf("%s: message %s is %q here and %q at %s", at, id, en, prev.english, prev.at)
						}
						out[id] = message{english: en, at: at}
						continue
					}
					if !ok1 || !ok2 || !idPattern.MatchString(id) || idPattern.MatchString(en) || strings.TrimSpace(en) == "" {
						continue
					}
					at := fset.Position(args[i].Pos()).String()
					if prev, dup := out[id]; dup && prev.english != en {
						t.Errorf("%s: message %s is %q here and %q at %s", at, id, en, prev.english, prev.at)
					}
					out[id] = message{english: en, at: at}
				}
				return true
			})
		}
	}
	return out
}

func literal(e ast.Expr) (string, bool) {
	b, ok := e.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(b.Value)
	return s, err == nil
}

// The English catalog holds exactly the messages the code raises, with the
// code's English; every other language has every one of them.
func TestCatalogsFollowTheCode(t *testing.T) {
	code := extract(t)
	if len(code) < 150 {
		t.Fatalf("found only %d messages in the code", len(code))
	}
	const enFile = "locales/messages.en.yaml"
	if *update {
		ids := make([]string, 0, len(code))
		for id := range code {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var b strings.Builder
		b.WriteString("# The messages the domain, the workflow engine and the API raise by id,\n# in English: taken from the code by `go test ./internal/phrase -update`.\n# Every other language translates each (messages.<lang>.yaml).\n\n")
		for _, id := range ids {
			v, _ := yaml.Marshal(map[string]string{id: code[id].english})
			b.Write(v)
		}
		if err := os.WriteFile(enFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := fs.ReadFile(phrase.Catalogs, enFile)
	if err != nil {
		t.Fatal(err)
	}
	var en map[string]string
	if err := yaml.Unmarshal(raw, &en); err != nil {
		t.Fatal(err)
	}
	for id, m := range code {
		if got, ok := en[id]; !ok {
			t.Errorf("%s: message %s is not in %s (go test ./internal/phrase -update)", m.at, id, enFile)
		} else if got != m.english {
			t.Errorf("%s: message %s is %q in the code and %q in %s", m.at, id, m.english, got, enFile)
		}
	}
	for id := range en {
		if _, ok := code[id]; !ok {
			t.Errorf("%s: message %s is no longer raised by the code", enFile, id)
		}
	}
	sub, _ := fs.Sub(phrase.Catalogs, "locales")
	localetest.Check(t, sub)
}

// Every message people read has an id: the packages raise no error and
// name no field problem with a bare English text (Errorf is left for
// internal errors nobody but the log reads).
func TestNoBareMessages(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range sources {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.CallExpr:
					name := callName(x.Fun)
					if name == "Errorf" && len(x.Args) > 0 {
						if code := callName(x.Args[0]); strings.HasPrefix(code, "E") && code != "EINTERNAL" {
							t.Errorf("%s: Errorf(%s, ...) has no message id: use Fail", fset.Position(x.Pos()), code)
						}
					}
				case *ast.CompositeLit:
					if typ := callName(x.Type); typ != "Error" && typ != "FieldError" {
						return true
					}
					for _, el := range x.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if k, isIdent := kv.Key.(*ast.Ident); ok && isIdent && k.Name == "Message" {
							if _, lit := literal(kv.Value); lit {
								t.Errorf("%s: a Message written as a bare text has no message id", fset.Position(kv.Pos()))
							}
						}
					}
				}
				return true
			})
		}
	}
}

func callName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	}
	return ""
}

func TestFill(t *testing.T) {
	tx := phrase.New("Seats", "{{.Count}} of {{.All}} seats, {{.Missing}}", "Count", 3, "All", 40)
	if tx.English != "3 of 40 seats, {{.Missing}}" || tx.ID != "Seats" || tx.Args["All"] != 40 {
		t.Fatalf("New = %+v", tx)
	}
	if got := phrase.Fill("plain", nil); got != "plain" {
		t.Fatal(got)
	}
}
