package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// A problem's detail and its fields' messages come in the language
// Accept-Language asks for, said in Content-Language; the title and the
// fields a client matches on stay the same in every language.
func TestProblemsInTheReadersLanguage(t *testing.T) {
	e := newAcctEnv(t)
	body := `{"email":"ana@example.org","name":"Ana","password":"password123"}`
	ask := func(accept string) (Problem, string) {
		t.Helper()
		req := httptest.NewRequest("POST", "/api/v1/auth/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		if !strings.Contains(rec.Header().Get("Vary"), "Accept-Language") {
			t.Errorf("Vary = %q, want Accept-Language named", rec.Header().Get("Vary"))
		}
		return mustProblem(t, rec, 422), rec.Header().Get("Content-Language")
	}
	message := func(p Problem, field string) string {
		for _, f := range p.Errors {
			if f.Field == field {
				return f.Message
			}
		}
		t.Fatalf("problem %+v does not name %s", p, field)
		return ""
	}
	en, lang := ask("")
	if lang != "en" {
		t.Fatalf("Content-Language = %q without Accept-Language, want en", lang)
	}
	cases := []struct{ accept, lang, password string }{
		{"fr-CH, fr;q=0.9, en;q=0.5", "fr", "est trop courant ou trop facile à deviner ; quelques mots sans rapport entre eux font un bon mot de passe"},
		{"ar", "ar", "شائعة جدًا أو سهلة التخمين؛ بضع كلمات لا رابط بينها تصنع كلمة مرور جيدة"},
		{"es-419", "es", "es demasiado común o fácil de adivinar; unas cuantas palabras sin relación forman una buena contraseña"},
		{"ru-RU", "ru", "слишком распространён или легко угадывается; несколько не связанных между собой слов — хороший пароль"},
		{"zh-Hans-CN", "zh", "过于常见或容易猜到；几个互不相关的词语就能组成好密码"},
		{"de-DE, en;q=0.3", "en", message(en, "password")},
	}
	for _, c := range cases {
		p, lang := ask(c.accept)
		if lang != c.lang {
			t.Errorf("Accept-Language %q: Content-Language = %q, want %q", c.accept, lang, c.lang)
		}
		if got := message(p, "password"); got != c.password {
			t.Errorf("Accept-Language %q: password message %q, want %q", c.accept, got, c.password)
		}
		if p.Title != en.Title || p.Status != en.Status || len(p.Errors) != len(en.Errors) {
			t.Errorf("Accept-Language %q: %+v differs from the English %+v beyond its texts", c.accept, p, en)
		}
		if c.lang != "en" && p.Detail == en.Detail {
			t.Errorf("Accept-Language %q: detail left in English: %q", c.accept, p.Detail)
		}
	}
}
