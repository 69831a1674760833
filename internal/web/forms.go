package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/igf/nomina/internal/nomination"
)

// formErrors collects the problems of a submitted form: a message per
// field for the field itself, and the same messages in the form's order
// for the error summary.
type formErrors struct {
	L       *Localizer
	byField map[string]string
	items   []ErrorItem
}

func newFormErrors(l *Localizer) *formErrors {
	return &formErrors{L: l, byField: map[string]string{}}
}

// add records a problem of the field with id (the first problem counts).
func (fe *formErrors) add(id, text string) {
	if _, ok := fe.byField[id]; ok {
		return
	}
	fe.byField[id] = text
	fe.items = append(fe.items, ErrorItem{Href: "#" + id, Text: text})
}

// get returns the field's message, or "".
func (fe *formErrors) get(id string) string {
	if fe == nil {
		return ""
	}
	return fe.byField[id]
}

func (fe *formErrors) any() bool { return fe != nil && len(fe.items) > 0 }

// status is the answer's status for a form shown again: 422 when it has
// errors, else 200.
func (fe *formErrors) status() int {
	if fe.any() {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

// summary returns the error summary, or nil without problems.
func (fe *formErrors) summary() *ErrorSummary {
	if !fe.any() {
		return nil
	}
	return &ErrorSummary{L: fe.L, Items: fe.items}
}

// field describes one input of a form to the error mapping: the domain's
// name for it, its id on the page, its label and the message (an id) for
// a missing answer.
type field struct {
	name, id, label, required string
}

// addDomain maps a domain error's field problems onto the form's fields,
// in the form's order; problems of fields the form does not show go to
// the first field's place as whole sentences. It reports whether err was
// such an error (EINVALID, or a conflict naming fields).
func (fe *formErrors) addDomain(err error, fields ...field) bool {
	var de *nomination.Error
	if !errors.As(err, &de) || len(de.Fields) == 0 {
		return false
	}
	switch de.Code {
	case nomination.EINVALID, nomination.ECONFLICT, nomination.EUNSUPPORTED, nomination.ETOOLARGE:
	default:
		return false
	}
	msgs := map[string]nomination.FieldError{}
	for _, f := range de.Fields {
		if _, ok := msgs[f.Field]; !ok {
			msgs[f.Field] = f
		}
	}
	for _, f := range fields {
		msg, ok := msgs[f.name]
		if !ok {
			continue
		}
		delete(msgs, f.name)
		fe.add(f.id, fe.sentence(f, msg))
	}
	for _, f := range de.Fields {
		if _, left := msgs[f.Field]; !left {
			continue
		}
		delete(msgs, f.Field)
		target := "main"
		if len(fields) > 0 {
			target = fields[0].id
		}
		fe.items = append(fe.items, ErrorItem{Href: "#" + target, Text: fe.L.T("FieldProblem", "Label", humanize(f.Field), "Message", sayField(fe.L, f))})
	}
	return true
}

// sentence makes one problem a sentence that names the field.
func (fe *formErrors) sentence(f field, p nomination.FieldError) string {
	if f.required != "" && isRequired(p) {
		return fe.L.T(f.required, "Label", f.label)
	}
	return fe.L.T("FieldProblem", "Label", f.label, "Message", sayField(fe.L, p))
}

// isRequired reports whether a problem is a missing answer.
func isRequired(p nomination.FieldError) bool {
	switch p.Text.ID {
	case "Required", "RequiredShort", "RequiredUpload", "RequiredUploadFile":
		return true
	}
	msg := p.Message
	return msg == "is required" || msg == "required" || strings.HasPrefix(msg, "required:")
}
