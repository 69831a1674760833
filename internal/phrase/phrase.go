// Package phrase holds the texts Nomina shows people in a form that can be
// said in each of its languages, without translating anything itself: the
// domain and the workflow engine stay free of any localizer, and the edge
// (pages, API, mail) says a Text in the reader's language.
package phrase

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Languages are the languages a Text may be said in, as BCP 47 tags: the
// six official languages of the UN, English, the source of every text,
// first.
var Languages = []string{"en", "ar", "es", "fr", "ru", "zh"}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	for _, l := range Languages {
		if l == lang {
			return true
		}
	}
	return false
}

// Text is a text for people. It is either a message of Nomina's catalogs
// (ID, with Args filling its {{.Name}} placeholders), which the edge looks
// up in the reader's language, or a text someone wrote in several
// languages (a workflow's guard message), which carries them in Texts.
// English is always set: the text in English, as the API says it when no
// other language is asked for. The zero Text says nothing.
type Text struct {
	English string
	ID      string
	Args    map[string]any
	Texts   map[string]string
	// Parts, when set, make the text: each said in turn, Sep between.
	Parts []Text
	Sep   string
}

// Join returns the text saying each of texts in turn, sep between them.
func Join(sep string, texts ...Text) Text {
	if len(texts) == 1 {
		return texts[0]
	}
	eng := make([]string, len(texts))
	for i, t := range texts {
		eng[i] = t.English
	}
	return Text{English: strings.Join(eng, sep), Parts: texts, Sep: sep}
}

// New returns the Text of catalog message id, whose English is english
// with its {{.Name}} placeholders filled from args (name, value pairs).
func New(id, english string, args ...any) Text {
	t := Text{ID: id}
	if len(args) > 0 {
		t.Args = make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			if k, ok := args[i].(string); ok {
				t.Args[k] = args[i+1]
			}
		}
	}
	t.English = Fill(english, t.Args)
	return t
}

// Own returns a text written in several languages: texts maps a language
// to the text, English ("en") included.
func Own(texts map[string]string) Text {
	return Text{English: texts["en"], Texts: texts}
}

// Plain returns a text with no translation: it reads the same in every
// language (a name, or something nobody has translated yet).
func Plain(s string) Text { return Text{English: s} }

// String returns the English.
func (t Text) String() string { return t.English }

var placeholder = regexp.MustCompile(`\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// Placeholders returns the names of the {{.Name}} placeholders of s.
func Placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// Fill replaces each {{.Name}} of s with the value of Name in args; a name
// args lacks is left as it is.
func Fill(s string, args map[string]any) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := args[placeholder.FindStringSubmatch(m)[1]]
		if !ok {
			return m
		}
		switch x := v.(type) {
		case string:
			return x
		case int:
			return strconv.Itoa(x)
		}
		return fmt.Sprint(v)
	})
}
