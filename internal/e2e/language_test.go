package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/igf/nomina/internal/auth"
	"github.com/igf/nomina/internal/nomination"
)

// The pages in the reader's language: a candidate's journey in Arabic
// (right to left) and in French, the Chinese pages, the language switch
// keeping what was typed; mail in the recipient's language: a nominee
// invited from a Spanish page gets the consent mail in Spanish, a
// reviewer whose preference is Russian the review request in Russian
// (read back from Mailpit), while an English-reading reviewer of the same
// panel gets it in English. Every page state is checked with axe at 1280
// and 390 px and photographed.
func TestBrowserLanguages(t *testing.T) {
	ctx := context.Background()
	mp := sharedMailpit(t)
	a := newApp(t, appOptions{mailpit: mp})
	a.call("mag-2027", "MAG 2027 renewal", "mag")
	sec := a.staffUser("sec.lang@igf.example", "Sam Secretariat", []auth.Role{auth.RoleSecretariat})
	roman := a.staffUser("roman.lang@igf.example", "Roman Reviewer", []auth.Role{auth.RoleReviewer}, "civil_society")
	a.staffUser("rita.lang@igf.example", "Rita Reviewer", []auth.Role{auth.RoleReviewer}, "civil_society")
	if _, err := a.auth.UpdateProfile(ctx, &auth.Principal{UserID: roman.ID}, auth.Profile{Name: roman.Name, Language: "ru"}); err != nil {
		t.Fatal(err)
	}
	a.user("amina.lang@example.org", "Amina Haddad")
	a.user("bruno.lang@example.org", "Bruno Lefèvre")
	a.user("nora.lang@example.org", "Nora Nominator")

	dirOf := func(tb *tab) (string, string) {
		return eval[string](tb, "document.documentElement.lang"), eval[string](tb, "document.documentElement.dir")
	}

	// Arabic, right to left; the switch keeps the typed address. (Every
	// tab here has a browser context of its own: the language kept in a
	// cookie must not reach the other tests' tabs.)
	b := newTab(t, a, true)
	b.visit("/signin")
	b.typeInto("#email", "amina.lang@example.org")
	b.click(`.nm-lang button[value="ar"]`)
	b.mustSee("تسجيل الدخول", "كلمة المرور")
	if got := eval[string](b, `document.querySelector("#email").value`); got != "amina.lang@example.org" {
		t.Fatalf("the language switch lost the typed address: %q", got)
	}
	if lang, dir := dirOf(b); lang != "ar" || dir != "rtl" {
		t.Fatalf("Arabic page: lang=%q dir=%q", lang, dir)
	}
	b.audit("ar-signin")
	b.typeInto("#password", testPassword)
	b.click(`main form button[type=submit]`)
	b.mustPath("/nominations")
	b.mustSee("ترشيحاتك")
	b.visit("/")
	b.mustSee("دعوات الترشيح المفتوحة", "MAG 2027 renewal")
	b.audit("ar-home")
	b.visit("/calls/mag-2027")
	b.mustSee("دعوة لتقديم الترشيحات", "الحكومات", "المجتمع المدني")
	// The deadline with its UTC hour and, where scripts run, the reader's,
	// written by the browser in the Arabic-Indic digits the server writes
	// the deadline in.
	b.mustSee("UTC")
	if got := localTimeLine(b); !strings.HasPrefix(got, "بتوقيتك المحلي:") || !strings.ContainsAny(got, "٠١٢٣٤٥٦٧٨٩") || strings.ContainsAny(got, "0123456789") {
		t.Errorf("Arabic local time %q: want Arabic-Indic digits only", got)
	}
	b.audit("ar-call")
	b.tap(`label[for="nominee"]`)
	b.click(`#start ~ form button[type=submit]`)
	b.mustPath("/nominations/n")
	id := strings.TrimPrefix(b.path(), "/nominations/")
	b.mustSee("ترشيحك", "عن المرشح")
	b.audit("ar-task-list")
	b.click(`a[href$="/details"]`)
	b.mustSee("الدوافع", "الفريق الاستشاري المتعدد أصحاب المصلحة")
	b.audit("ar-details")
	b.typeInto("#motivation", "قصير جدًا.")
	b.click(`button[value=continue]`)
	b.mustSee("توجد مشكلة", "يجب ألا يقل عن")
	b.audit("ar-details-error")
	b.do(chromedp.Clear(chromedp.CSS("#motivation")))
	b.typeInto("#motivation", motivation)
	b.tap(`label[for="stakeholder_group-3"]`)
	b.tap(`label[for="gender"]`)
	b.do(chromedp.SetValue(chromedp.CSS("#nationality"), "EG"))
	b.typeInto("#organization", "الشبكة العربية للحقوق الرقمية")
	b.tap(`label[for="declaration"]`)
	b.click(`button[value=continue]`)
	b.mustPath("/nominations/" + id)
	b.mustSee("حُفظت إجاباتك")
	b.click(`a[href$="/cv"]`)
	b.do(chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{cvFile(t)}))
	b.click(`main form button[type=submit]`)
	b.mustSee("حُمّل الملف")
	b.visit("/nominations/" + id + "/check")
	b.mustSee("راجع إجاباتك قبل التقديم", "الشبكة العربية للحقوق الرقمية", "مصر")
	b.audit("ar-check")
	b.click(`form[action$="/submit"] button`)
	b.mustPath("/nominations/" + id + "/submitted")
	b.mustSee("قُدّم الترشيح", id)
	b.audit("ar-submitted")

	// French, from the switch on the start page.
	f := newTab(t, a, true)
	f.visit("/")
	f.click(`.nm-lang a[hreflang="fr"]`)
	f.mustSee("Appels à candidatures ouverts", "Commencer une candidature")
	if lang, dir := dirOf(f); lang != "fr" || dir != "ltr" {
		t.Fatalf("French page: lang=%q dir=%q", lang, dir)
	}
	f.audit("fr-home")
	f.visit("/signin")
	f.click(`main form button[type=submit]`)
	f.mustSee("Un problème est survenu", "Saisissez une adresse électronique")
	f.audit("fr-signin-error")
	f.typeInto("#email", "bruno.lang@example.org")
	f.typeInto("#password", testPassword)
	f.click(`main form button[type=submit]`)
	f.mustPath("/nominations")
	f.visit("/calls/mag-2027")
	f.mustSee("Appel à candidatures", "Gouvernements", "Comment présenter une candidature")
	if got := localTimeLine(f); !strings.HasPrefix(got, "Dans votre fuseau horaire") || !strings.ContainsAny(got, "0123456789") || strings.ContainsAny(got, "٠١٢٣٤٥٦٧٨٩") {
		t.Errorf("French local time %q: want Latin digits", got)
	}
	f.audit("fr-call")
	f.tap(`label[for="nominee"]`)
	f.click(`#start ~ form button[type=submit]`)
	f.mustPath("/nominations/n")
	f.mustSee("Votre candidature", "La personne candidate", "Pas commencé")
	f.audit("fr-task-list")
	f.click(`a[href$="/details"]`)
	f.typeInto("#motivation", "Trop court.")
	f.click(`button[value=continue]`)
	f.mustSee("Un problème est survenu", "Motivation", "doit faire au moins")
	f.audit("fr-details-error")

	// Chinese pages.
	z := newTab(t, a, true)
	z.visit("/?lang=zh")
	z.mustSee("正在征集的提名", "开始提名")
	z.audit("zh-home")
	z.visit("/calls/mag-2027")
	z.mustSee("提名征集", "民间社会")
	z.audit("zh-call")
	z.visit("/signup")
	z.click(`main form button[type=submit]`)
	z.mustSee("出现了问题", "请输入您的全名")
	z.audit("zh-signup-error")

	// A nominee invited from a Spanish page is written to in Spanish.
	s := newTab(t, a, true)
	s.visit("/signin?lang=es")
	s.typeInto("#email", "nora.lang@example.org")
	s.typeInto("#password", testPassword)
	s.click(`main form button[type=submit]`)
	s.mustPath("/nominations")
	s.visit("/calls/mag-2027")
	s.mustSee("Convocatoria de candidaturas")
	s.tap(`label[for="nominee-2"]`)
	s.typeInto("#nominee_name", "Tomás Rivera")
	s.typeInto("#nominee_email", "tomas.lang@example.org")
	s.click(`#start ~ form button[type=submit]`)
	s.mustPath("/nominations/n")
	s.mustSee("Su candidatura de Tomás Rivera")
	s.audit("es-task-list")
	consent := mp.link(t, "tomas.lang@example.org", "Ha sido propuesto/a", a.URL+"/consent/")
	if !strings.HasPrefix(consent, a.URL+"/consent/") {
		t.Fatalf("consent link %q", consent)
	}

	// The secretariat admits Amina's nomination: the panel is asked to
	// review, Roman in Russian, Rita in English.
	if _, err := a.noms.Act(ctx, actorOf(sec), id, "admit", nomination.ActionInput{}); err != nil {
		t.Fatalf("admit: %v", err)
	}
	mp.link(t, "roman.lang@igf.example", "ждёт вашего рассмотрения", a.URL+"/review/")
	mp.link(t, "rita.lang@igf.example", "awaits your review", a.URL+"/review/")

	// Roman's pages follow his preference; the review page in Russian and
	// in Arabic.
	r := newTab(t, a, true)
	r.signInAs("roman.lang@igf.example")
	r.visit("/review")
	r.mustSee("Ваша очередь на рассмотрение", "Amina Haddad")
	r.audit("ru-queue")
	r.visit("/review/" + id)
	r.mustSee("Amina Haddad", "Ответы кандидатуры", "Ваш голос", "Заявить о конфликте интересов")
	r.audit("ru-review")
	r.click(`.nm-lang button[value="ar"], .nm-lang a[hreflang="ar"]`)
	r.mustSee("Amina Haddad", "إجابات المرشح", "إعلان تضارب في المصالح")
	if lang, dir := dirOf(r); lang != "ar" || dir != "rtl" {
		t.Fatalf("Arabic review page: lang=%q dir=%q", lang, dir)
	}
	r.audit("ar-review")
	t.Logf("languages: %d page states checked at 1280 and 390 px by %s; screenshots in %s",
		*b.audited+*f.audited+*z.audited+*s.audited+*r.audited, time.Now().Format(time.TimeOnly), b.shots)
}

// localTimeLine is the text of the page's first local-time line, which
// the page's script writes and shows ("" while hidden).
func localTimeLine(tb *tab) string {
	tb.t.Helper()
	return eval[string](tb, `(function () {
  var p = document.querySelector(".nm-local-time");
  return p && !p.hidden ? p.textContent : "";
})()`)
}
