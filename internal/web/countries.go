package web

import (
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/igf/nomina/internal/workflow"
)

// country is one ISO 3166-1 code with its name in the reader's language.
type country struct {
	Code, Name string
}

var (
	countryMu    sync.Mutex
	countryLists = map[language.Tag][]country{}
)

// countries returns every assigned ISO 3166-1 alpha-2 code named in the
// reader's language (CLDR names from golang.org/x/text) and sorted by the
// rules of that language, so a reader finds their country where they
// expect it. Lists are made once per language.
func countries(tag language.Tag) []country {
	countryMu.Lock()
	defer countryMu.Unlock()
	if l, ok := countryLists[tag]; ok {
		return l
	}
	namer := display.Regions(tag)
	var out []country
	for _, code := range workflow.CountryCodes() {
		name := ""
		if r, err := language.ParseRegion(code); err == nil && namer != nil {
			name = namer.Name(r)
		}
		if name == "" {
			name = code
		}
		out = append(out, country{Code: code, Name: name})
	}
	c := collate.New(tag, collate.Loose)
	sort.SliceStable(out, func(i, j int) bool { return c.CompareString(out[i].Name, out[j].Name) < 0 })
	countryLists[tag] = out
	return out
}

// countryName returns the reader's name of code, or code.
func countryName(tag language.Tag, code string) string {
	if r, err := language.ParseRegion(code); err == nil {
		if n := display.Regions(tag); n != nil {
			if name := n.Name(r); name != "" {
				return name
			}
		}
	}
	return strings.ToUpper(code)
}
