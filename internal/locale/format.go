package locale

import (
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/locales"
	"github.com/go-playground/locales/ar"
	"github.com/go-playground/locales/es"
	"github.com/go-playground/locales/fr"
	"github.com/go-playground/locales/ru"
	"github.com/go-playground/locales/zh"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// formats are the ways one language writes numbers, dates and times.
//
// Numbers come from golang.org/x/text (CLDR digits, separators and
// grouping); month names and the order of a date's parts from
// go-playground/locales (CLDR's long date formats, generated code with no
// data to load at run time). English keeps the international "2 January
// 2006" that the UN writes rather than CLDR's American default.
type formats struct {
	lang    string
	printer *message.Printer
	dates   locales.Translator // nil for English
	// digits maps '0'..'9' to the language's own digits, when it has
	// them (Arabic-Indic in Arabic, CLDR's default numbering there).
	digits []rune
	// dateTime joins a date and a time ("{date}, {time}"), after CLDR's
	// medium dateTimeFormat of the language.
	dateTime string
}

func formatsOf(lang string) *formats {
	f := &formats{lang: lang, printer: message.NewPrinter(language.MustParse(lang)), dateTime: "{date}, {time}"}
	switch lang {
	case "ar":
		f.dates, f.dateTime = ar.New(), "{date}، {time}"
		f.digits = []rune("٠١٢٣٤٥٦٧٨٩")
	case "es":
		f.dates = es.New()
	case "fr":
		f.dates, f.dateTime = fr.New(), "{date} à {time}"
	case "ru":
		f.dates = ru.New()
	case "zh":
		f.dates, f.dateTime = zh.New(), "{date} {time}"
	}
	return f
}

// Int writes a whole number as the language does: its digits and, from
// five digits on (so that years stay "2027"), its grouping.
func (l *Localizer) Int(n int) string {
	if n > -10000 && n < 10000 {
		return l.Digits(strconv.Itoa(n))
	}
	return l.f.printer.Sprint(number.Decimal(n))
}

// Decimal writes a number with exactly places decimals, in the
// language's digits and decimal separator ("3,5" in French).
func (l *Localizer) Decimal(x float64, places int) string {
	return l.f.printer.Sprint(number.Decimal(x, number.Scale(places), number.NoSeparator()))
}

// Percent writes a share (0.4) as a percentage ("40 %" in French),
// rounded to whole percent.
func (l *Localizer) Percent(share float64) string {
	return l.f.printer.Sprint(number.Percent(share, number.Scale(0)))
}

// Digits writes the ASCII digits of s in the language's own digits,
// leaving everything else as it is: dates, times and numbers that Nomina
// composes itself.
func (l *Localizer) Digits(s string) string {
	if l.f.digits == nil || !strings.ContainsAny(s, "0123456789") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) * 2)
	for _, r := range s {
		if r >= '0' && r <= '9' {
			r = l.f.digits[r-'0']
		}
		b.WriteRune(r)
	}
	return b.String()
}

// NumberingSystem names the digits the language writes numbers, dates
// and times in, as CLDR and the browser's Intl name them: "arab"
// (Arabic-Indic) in Arabic, "latn" elsewhere. A page gives it to the
// script that writes the reader's local time, so that line has the digits
// of the dates the server writes.
func (l *Localizer) NumberingSystem() string {
	if l.f.digits != nil {
		return "arab"
	}
	return "latn"
}

// Date writes the calendar day of t in UTC as the language writes a date
// in full: "31 March 2026", "31 mars 2026", "2026年3月31日", "٣١ مارس ٢٠٢٦".
func (l *Localizer) Date(t time.Time) string {
	t = t.UTC()
	if l.f.dates == nil {
		return t.Format("2 January 2006")
	}
	return l.Digits(l.f.dates.FmtDateLong(t))
}

// Time writes the time of day of t in UTC on the 24-hour clock, "23:59":
// deadlines are stated so in every language.
func (l *Localizer) Time(t time.Time) string {
	return l.Digits(t.UTC().Format("15:04"))
}

// DateTime writes t in UTC as a date and a time with the zone named,
// "31 March 2026, 23:59 UTC": how Nomina states a deadline.
func (l *Localizer) DateTime(t time.Time) string {
	s := strings.Replace(l.f.dateTime, "{date}", l.Date(t), 1)
	return strings.Replace(s, "{time}", l.Time(t)+" UTC", 1)
}
