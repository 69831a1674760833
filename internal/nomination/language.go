package nomination

import (
	"context"

	"github.com/igf/nomina/internal/phrase"
)

type readerLanguageKey struct{}

// WithReaderLanguage returns ctx carrying the language of the page or API
// request an action comes from (one of phrase.Languages). Mail the action
// causes to someone with no language of their own (a nominee or an
// endorser without an account, an account without a preference) is
// written in it.
func WithReaderLanguage(ctx context.Context, lang string) context.Context {
	if !phrase.Supported(lang) {
		return ctx
	}
	return context.WithValue(ctx, readerLanguageKey{}, lang)
}

// ReaderLanguage returns the language WithReaderLanguage put in ctx, or "".
func ReaderLanguage(ctx context.Context) string {
	s, _ := ctx.Value(readerLanguageKey{}).(string)
	return s
}
