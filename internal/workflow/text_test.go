package workflow

import (
	"strings"
	"testing"
)

const translatedYAML = `id: demo
version: 1
title:
  en: Demo
  fr: Démo
  ar: عرض
body: mag
languages: [en, fr, ar]
fields:
  - name: stakeholder_group
    type: choice
    label:
      en: Stakeholder group
      fr: Groupe de parties prenantes
      ar: مجموعة أصحاب المصلحة
    required: true
    choices:
      - value: government
        label: {en: Government, fr: Gouvernements, ar: الحكومات}
      - value: civil_society
        label: {en: Civil society, fr: Société civile}
roles: [owner]
initial: draft
states:
  draft:
    label: {en: Draft, fr: Brouillon, ar: مسودة}
    description: {en: Being written, fr: En cours de rédaction, ar: قيد الإعداد}
    editable: true
  submitted:
    final: true
actions:
  - name: submit
    label: {en: Submit, fr: Soumettre, ar: تقديم}
    from: draft
    to: submitted
    roles: [owner]
    guards:
      - rule: complete
        message:
          en: Answer every question first.
          fr: Répondez d'abord à toutes les questions.
          ar: أجيبوا أولاً عن جميع الأسئلة.
`

func TestTranslatedTexts(t *testing.T) {
	d, diags := Parse("t.yaml", []byte(translatedYAML), nil)
	if d == nil {
		t.Fatalf("did not load: %v", diags)
	}
	// One translation is missing: a warning at its line, naming the language.
	if len(diags) != 1 || diags[0].Severity != SeverityWarning || diags[0].Line != 21 ||
		!strings.Contains(diags[0].Message, `choice "civil_society" label has no translation in ar`) {
		t.Fatalf("diagnostics: %v", diags)
	}
	fr, ar := d.In("fr"), d.In("ar")
	f, _ := fr.Field("stakeholder_group")
	g, _ := ar.Field("stakeholder_group")
	if d.Title != "Demo" || fr.Title != "Démo" || ar.Title != "عرض" || d.In("ru") != d.In("ru") || d.In("ru").Title != "Demo" {
		t.Errorf("titles %q %q %q %q", d.Title, fr.Title, ar.Title, d.In("ru").Title)
	}
	if f.Label != "Groupe de parties prenantes" || f.ChoiceLabels["government"] != "Gouvernements" || f.ChoiceLabels["civil_society"] != "Société civile" {
		t.Errorf("French field: %+v", f)
	}
	if g.ChoiceLabels["civil_society"] != "Civil society" {
		t.Errorf("a missing translation does not fall back to English: %q", g.ChoiceLabels["civil_society"])
	}
	if st, _ := fr.State("draft"); st.Description != "En cours de rédaction" || st.Label != "Brouillon" {
		t.Errorf("state: %q, %q", st.Label, st.Description)
	}
	if st, _ := d.State("draft"); st.Label != "Draft" || d.Texts("states.draft.label")["ar"] != "مسودة" {
		t.Errorf("state label %q, %v", st.Label, d.Texts("states.draft.label"))
	}
	if st, _ := d.In("ru").State("draft"); st.Label != "Draft" {
		t.Errorf("a state label without Russian: %q", st.Label)
	}
	// The copy evaluates as the original does, and says why in its language.
	s := Subject{State: "draft", Fields: map[string]any{}}
	got := fr.Available(s, Actor{ID: "u", Owner: true}, envNow)
	if len(got) != 1 || got[0].Label != "Soumettre" || got[0].Allowed || got[0].Reasons[0] != "Répondez d'abord à toutes les questions." {
		t.Fatalf("French actions: %+v", got)
	}
	// The original engine's refusal carries every translation.
	_, err := d.Fire(s, Actor{ID: "u", Owner: true}, "submit", Input{}, envNow)
	ae, ok := err.(*ActionError)
	if !ok || len(ae.Texts) != 1 || ae.Texts[0].Texts["ar"] != "أجيبوا أولاً عن جميع الأسئلة." || ae.Messages[0] != "Answer every question first." {
		t.Fatalf("Fire: %v (%+v)", err, ae)
	}
}

func TestTranslationMistakes(t *testing.T) {
	for _, tc := range []struct{ edit, want string }{
		{"  fr: Démo\n", "  de: Demo\n"},
		{"languages: [en, fr, ar]", "languages: [fr, ar]"},
		{"languages: [en, fr, ar]", "languages: [en, xx]"},
		{"  en: Demo\n", "  en: \"\"\n"},
		{"  en: Demo\n", ""},
	} {
		src := strings.Replace(translatedYAML, tc.edit, tc.want, 1)
		d, diags := Parse("t.yaml", []byte(src), nil)
		if d != nil || !HasErrors(diags) {
			t.Errorf("%q loaded: %v", tc.want, diags)
		}
	}
}
