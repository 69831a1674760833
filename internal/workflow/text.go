package workflow

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/igf/nomina/internal/locale"
	"github.com/igf/nomina/internal/phrase"
)

// translations are the texts of a definition in its languages, keyed by
// where the text is ("fields.region.label", "actions.submit.guards.1"),
// each mapping a language to the text (English included).
type translations map[string]map[string]string

// translated reads a text that is either a plain string (English) or a
// mapping of languages to the text, such as
//
//	label:
//	  en: Stakeholder group
//	  fr: Groupe de parties prenantes
//
// It returns the English, records every language under key, and warns at
// the text's line when a language the workflow offers is missing.
func (b *builder) translated(e entry, key, what string) (string, bool) {
	n, ok := b.plain(e.value)
	if !ok {
		return "", false
	}
	if _, isMap := n.(*ast.MappingNode); !isMap {
		if _, isMV := n.(*ast.MappingValueNode); !isMV {
			s, ok := b.text(e, what)
			if ok && strings.TrimSpace(s) != "" {
				b.record(e.keyN, key, what, map[string]string{locale.Source: s})
			}
			return s, ok
		}
	}
	entries, ok := b.mapping(n, e.keyN, what)
	if !ok {
		return "", false
	}
	texts := map[string]string{}
	for _, le := range entries {
		if !locale.Supported(le.key) {
			b.errAt(le.keyN, "%s: %q is not a language Nomina speaks: use %s%s", what, le.key, quoteList(locale.Languages), suggest(le.key, locale.Languages))
			ok = false
			continue
		}
		s, good := b.text(le, what+" ("+le.key+")")
		if !good {
			ok = false
			continue
		}
		if strings.TrimSpace(s) == "" {
			b.errAt(orKey(le.value, le), "%s (%s) is empty", what, le.key)
			ok = false
			continue
		}
		texts[le.key] = s
	}
	en, hasEn := texts[locale.Source]
	if !hasEn {
		if ok {
			b.errAt(e.keyN, "%s has no English (en) text: English is the text every other language falls back to", what)
		}
		return "", false
	}
	b.record(e.keyN, key, what, texts)
	return en, ok
}

// record keeps a text's languages under key and warns about the
// languages the workflow offers that it lacks.
func (b *builder) record(at ast.Node, key, what string, texts map[string]string) {
	for lang, s := range texts {
		texts[lang] = strings.TrimSpace(s)
	}
	b.def.texts[key] = texts
	var missing []string
	for _, lang := range b.def.Languages {
		if _, ok := texts[lang]; !ok {
			missing = append(missing, lang)
		}
	}
	if len(missing) > 0 {
		b.warnAt(at, "%s has no translation in %s", what, strings.Join(missing, ", "))
	}
}

// languages reads the languages a workflow offers (every text should be
// written in each).
func (b *builder) languages(e entry) {
	langs, nodes, ok := b.names(e, "languages", false)
	if !ok {
		return
	}
	var out []string
	for i, l := range langs {
		switch {
		case !locale.Supported(l):
			b.errAt(nodes[i], "languages: %q is not a language Nomina speaks: use %s%s", l, quoteList(locale.Languages), suggest(l, locale.Languages))
		case slices.Contains(out, l):
			b.errAt(nodes[i], "languages lists %q twice", l)
		default:
			out = append(out, l)
		}
	}
	if !slices.Contains(out, locale.Source) {
		b.errAt(e.keyN, "languages must include en: English is the text every other language falls back to")
	}
	b.def.Languages = out
}

// Text returns the text at key (see translations) in lang, falling back to
// English, and "" when the definition has no text there.
func (d *Definition) Text(key, lang string) string {
	t := d.texts[key]
	if s, ok := t[lang]; ok {
		return s
	}
	return t[locale.Source]
}

// Texts returns the text at key in every language it is written in.
func (d *Definition) Texts(key string) map[string]string { return maps.Clone(d.texts[key]) }

// In returns the definition with its texts (title, description, labels,
// help, choice labels, state descriptions, guard and quota messages) in
// lang, each falling back to English where the file gives no
// translation. Rules, states and actions are the definition's own: the
// copy evaluates exactly as the original does. Copies are made once per
// language and kept.
func (d *Definition) In(lang string) *Definition {
	if lang == locale.Source || !locale.Supported(lang) || d.localized == nil {
		return d
	}
	if c, ok := d.localized[lang]; ok {
		return c
	}
	return d
}

// localize makes the copy of d in each language Nomina speaks.
func (d *Definition) localize() {
	d.localized = map[string]*Definition{}
	for _, lang := range locale.Languages {
		if lang != locale.Source {
			d.localized[lang] = d.copyIn(lang)
		}
	}
}

func (d *Definition) copyIn(lang string) *Definition {
	c := *d
	c.localized = nil
	c.Title = or(d.Text("title", lang), d.Title)
	c.Description = or(d.Text("description", lang), d.Description)
	c.fieldIndex = make(map[string]*Field, len(d.Fields))
	c.Fields = make([]*Field, len(d.Fields))
	for i, f := range d.Fields {
		nf := *f
		p := "fields." + f.Name + "."
		nf.Label = or(d.Text(p+"label", lang), f.Label)
		nf.Help = or(d.Text(p+"help", lang), f.Help)
		if f.ChoiceLabels != nil || d.hasPrefix(p+"choices.") {
			nf.ChoiceLabels = map[string]string{}
			for _, v := range f.Choices {
				if s := d.Text(p+"choices."+v, lang); s != "" {
					nf.ChoiceLabels[v] = s
				}
			}
		}
		c.Fields[i] = &nf
		c.fieldIndex[f.Name] = &nf
	}
	c.States = make(map[string]*State, len(d.States))
	for name, st := range d.States {
		ns := *st
		ns.Label = or(d.Text("states."+name+".label", lang), st.Label)
		ns.Description = or(d.Text("states."+name+".description", lang), st.Description)
		c.States[name] = &ns
	}
	c.actionIndex = make(map[string]*Action, len(d.Actions))
	c.Actions = make([]*Action, len(d.Actions))
	for i, a := range d.Actions {
		na := *a
		p := "actions." + a.Name + "."
		na.Label = or(d.Text(p+"label", lang), a.Label)
		na.Description = or(d.Text(p+"description", lang), a.Description)
		na.Guards = d.guardsIn(a.Guards, p+"guards.", lang)
		c.Actions[i] = &na
		c.actionIndex[a.Name] = &na
	}
	c.Starting.Guards = d.guardsIn(d.Starting.Guards, "start.guards.", lang)
	c.Starting.QuotaMessage = or(d.Text("start.quota_message", lang), d.Starting.QuotaMessage)
	return &c
}

func (d *Definition) guardsIn(gs []*Guard, prefix, lang string) []*Guard {
	if gs == nil {
		return nil
	}
	out := make([]*Guard, len(gs))
	for i, g := range gs {
		ng := *g
		ng.Message = or(d.Text(prefix+strconv.Itoa(i+1), lang), g.Message)
		out[i] = &ng
	}
	return out
}

func (d *Definition) hasPrefix(p string) bool {
	for k := range d.texts {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// QuotaText returns the start rules' quota message in every language the
// file writes it in (the zero Text when there is none).
func (d *Definition) QuotaText() phrase.Text {
	if d.Starting.QuotaMessage == "" {
		return phrase.Text{}
	}
	if t := d.texts["start.quota_message"]; len(t) > 0 {
		return phrase.Text{English: d.Starting.QuotaMessage, Texts: maps.Clone(t)}
	}
	return phrase.Plain(d.Starting.QuotaMessage)
}
