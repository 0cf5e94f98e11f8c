package engine

import (
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

// answerCase is one message checked against one answer kind.
type answerCase struct {
	name    string
	kind    string
	msg     *tandem.Message
	choices []Choice
	env     AnswerEnv
	want    any // nil when invalid
	option  string
}

func runAnswerCases(t *testing.T, cases []answerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, option, ok := ValidateAnswer(tc.kind, tc.msg, tc.choices, tc.env)
			if want := tc.want != nil; ok != want {
				t.Fatalf("ValidateAnswer(%q, %+v) ok = %v (value %#v), want %v", tc.kind, tc.msg, ok, got, want)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ValidateAnswer(%q, %+v) = %#v (%T), want %#v (%T)", tc.kind, tc.msg, got, got, tc.want, tc.want)
			}
			if option != tc.option {
				t.Errorf("ValidateAnswer(%q, %+v) option = %q, want %q", tc.kind, tc.msg, option, tc.option)
			}
		})
	}
}

func msgText(s string) *tandem.Message { return &tandem.Message{Type: tandem.MessageText, Text: s} }

func msgMedia(typ, url, mime, caption string) *tandem.Message {
	return &tandem.Message{Type: typ, Media: &tandem.Media{Type: typ, URL: url, Mime: mime, Caption: caption}}
}

func msgButton(id, title string) *tandem.Message {
	return &tandem.Message{Type: tandem.MessageOption, Option: id, Text: title}
}

func TestValidateAnswerText(t *testing.T) {
	t.Parallel()
	runAnswerCases(t, []answerCase{
		{name: "trimmed", kind: "text", msg: msgText("  hello there \n"), want: "hello there"},
		{name: "zero-width space trimmed", kind: "text", msg: msgText("\u200bhi\ufeff"), want: "hi"},
		{name: "empty", kind: "text", msg: msgText(""), want: nil},
		{name: "blank", kind: "text", msg: msgText(" \t\n "), want: nil},
		{name: "caption", kind: "text", msg: msgMedia("image", "https://x.test/a.jpg", "image/jpeg", " my cat "), want: "my cat"},
		{name: "media without caption", kind: "text", msg: msgMedia("image", "https://x.test/a.jpg", "image/jpeg", ""), want: nil},
		{name: "location", kind: "text", msg: &tandem.Message{Type: "location", Location: &tandem.Location{Lat: 1, Lng: 2}}, want: nil},
		{name: "button reply text", kind: "text", msg: msgButton("yes", "Yes"), want: "Yes"},
		{name: "unknown kind is text", kind: "colour", msg: msgText(" red "), want: "red"},
		{name: "empty kind is text", kind: "", msg: msgText("red"), want: "red"},
		{name: "kind ignores case", kind: "NUMBER", msg: msgText("3"), want: float64(3)},
		{name: "nil message", kind: "text", msg: nil, want: nil},
		{name: "nil message any", kind: "any", msg: nil, want: nil},
	})
}

func TestValidateAnswerAny(t *testing.T) {
	t.Parallel()
	runAnswerCases(t, []answerCase{
		{name: "text", kind: "any", msg: msgText(" whatever "), want: "whatever"},
		{name: "image", kind: "any", msg: msgMedia("image", "https://x.test/a.jpg", "image/jpeg", "caption"), want: "https://x.test/a.jpg"},
		{name: "audio", kind: "any", msg: msgMedia("audio", "https://x.test/a.ogg", "audio/ogg", ""), want: "https://x.test/a.ogg"},
		{name: "location", kind: "any", msg: &tandem.Message{Type: "location", Location: &tandem.Location{Lat: -23.5505, Lng: -46.6333}}, want: "-23.5505,-46.6333"},
		{name: "option", kind: "any", msg: msgButton("yes", "Yes"), want: "yes"},
		{name: "empty message", kind: "any", msg: &tandem.Message{}, want: ""},
	})
}

func TestValidateAnswerNumber(t *testing.T) {
	t.Parallel()
	valid := map[string]float64{
		"150":                150,
		"  150  ":            150,
		"-5":                 -5,
		"+5":                 5,
		"−5":                 -5, // U+2212 minus sign
		"-0":                 0,
		"2,5":                2.5,
		"2.5":                2.5,
		"1.234,56":           1234.56,
		"1,234.56":           1234.56,
		"1,000":              1000,
		"1.000":              1000,
		"1.000.000":          1e6,
		"1,000,000.50":       1000000.5,
		"1.234.567,89":       1234567.89,
		"0,500":              0.5,
		"0.5":                0.5,
		".5":                 0.5,
		",75":                0.75,
		"1.2345":             1.2345,
		"1234.567":           1234.567,
		"1234,5":             1234.5,
		"12,50":              12.5,
		"1'234.50":           1234.5,
		"1\u00a0234,56":      1234.56,
		"1\u202f234":         1234,
		"R$ 1.234,56":        1234.56,
		"R$1.234,56":         1234.56,
		"$5":                 5,
		"-$5":                -5,
		"-R$ 5,00":           -5,
		"R$ -5":              -5,
		"€ 10,99":            10.99,
		"10 €":               10,
		"USD 100":            100,
		"100USD":             100,
		"BRL 1.500,00":       1500,
		"US$ 20":             20,
		"50%":                50,
		"about 150":          150,
		"150 reais":          150,
		"150.":               150,
		"it costs about 150": 150,
		"１５０":                150,
		"٣":                  3,
	}
	invalid := []string{
		"", "abc", "1 or 2", "10-20", "10:30", "5/3", "1,5,3", "1..2", "1.2.3", "1,2.5",
		"1.234.5", "150k", "2nd", "covid-19 and 20", "1.5'000", "12.345.67",
		"150 mil", "150 mil reais", "2 million", "1,5 milhões", "R$ 2 mi", "10 k",
		"I think it is about 150 reais per month or so", // too many words
		"99999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
	}
	var cases []answerCase
	for in, want := range valid {
		cases = append(cases, answerCase{name: "valid " + in, kind: "number", msg: msgText(in), want: want})
	}
	for _, in := range invalid {
		cases = append(cases, answerCase{name: "invalid " + in, kind: "number", msg: msgText(in)})
	}
	cases = append(cases,
		answerCase{name: "caption", kind: "number", msg: msgMedia("image", "https://x.test/r.jpg", "image/jpeg", "42"), want: float64(42)},
		answerCase{name: "button", kind: "number", msg: msgButton("3", "3"), want: float64(3)},
	)
	runAnswerCases(t, cases)
}

// The question step renders a number without a trailing ".0" (flows.md): the value must stay
// a float64 that formats as the customer wrote it.
func TestValidateAnswerNumberRendering(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"150": "150", "150,00": "150", "2,5": "2.5", "1.234,56": "1234.56", "-0": "0"} {
		v, _, ok := ValidateAnswer("number", msgText(in), nil, AnswerEnv{})
		f, isFloat := v.(float64)
		if !ok || !isFloat {
			t.Fatalf("ValidateAnswer(number, %q) = %#v, %v, want a float64", in, v, ok)
		}
		if got := strconv.FormatFloat(f, 'f', -1, 64); got != want {
			t.Errorf("ValidateAnswer(number, %q) renders %q, want %q", in, got, want)
		}
		if math.Signbit(f) && f == 0 {
			t.Errorf("ValidateAnswer(number, %q) = -0", in)
		}
	}
}

func TestValidateAnswerEmail(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"ana@example.com":             "ana@example.com",
		"  Ana.Souza@Example.COM.BR ": "Ana.Souza@example.com.br",
		"mailto:bob@Example.org":      "bob@example.org",
		"MAILTO:bob@example.org?x=y":  "bob@example.org",
		"<bob@example.org>":           "bob@example.org",
		"bob@example.org.":            "bob@example.org",
		"first+tag@sub.example.io":    "first+tag@sub.example.io",
		"o'neil@example.ie":           "o'neil@example.ie",
		"josé@exemplo.com.br":         "josé@exemplo.com.br",
		"ana@xn--exmple-cua.com":      "ana@xn--exmple-cua.com",
		"ana@münchen.de":              "ana@münchen.de",
	}
	invalid := []string{
		"", "ana", "ana@", "@example.com", "ana@example", "ana@@example.com", "ana@b@example.com",
		"ana @example.com", "ana@exa mple.com", "my email is ana@example.com", ".ana@example.com",
		"ana.@example.com", "a..b@example.com", "ana@-example.com", "ana@example-.com",
		"ana@example..com", "ana@example.c", "ana@example.123", "ana@.example.com", "ana(x)@example.com",
	}
	var cases []answerCase
	for in, want := range valid {
		cases = append(cases, answerCase{name: "valid " + in, kind: "email", msg: msgText(in), want: want})
	}
	for _, in := range invalid {
		cases = append(cases, answerCase{name: "invalid " + in, kind: "email", msg: msgText(in)})
	}
	runAnswerCases(t, cases)
}

func TestValidateAnswerPhone(t *testing.T) {
	t.Parallel()
	br, us, de, none := AnswerEnv{Region: "BR"}, AnswerEnv{Region: "US"}, AnswerEnv{Region: "DE"}, AnswerEnv{}
	cases := []answerCase{
		// Brazil
		{name: "BR national mobile", env: br, msg: msgText("(11) 99999-0000"), want: "+5511999990000"},
		{name: "BR national digits", env: br, msg: msgText("11999990000"), want: "+5511999990000"},
		{name: "BR with plus", env: br, msg: msgText("+55 11 99999-0000"), want: "+5511999990000"},
		{name: "BR with 00", env: br, msg: msgText("0055 11 99999 0000"), want: "+5511999990000"},
		{name: "BR country code without plus", env: br, msg: msgText("55 11 99999 0000"), want: "+5511999990000"},
		{name: "BR landline", env: br, msg: msgText("(21) 3333-4444"), want: "+552133334444"},
		{name: "BR lower-case region", env: AnswerEnv{Region: "br"}, msg: msgText("11 99999-0000"), want: "+5511999990000"},
		{name: "BR too short", env: br, msg: msgText("9999-0000"), want: nil},
		{name: "BR invalid area code", env: br, msg: msgText("(10) 99999-0000"), want: nil},
		// United States
		{name: "US national", env: us, msg: msgText("(202) 456-1111"), want: "+12024561111"},
		{name: "US with 1", env: us, msg: msgText("1-202-456-1111"), want: "+12024561111"},
		{name: "US with plus", env: us, msg: msgText("+1 202 456 1111"), want: "+12024561111"},
		{name: "US dialling BR with 011", env: us, msg: msgText("011 55 11 99999 0000"), want: "+5511999990000"},
		{name: "US dialling BR with 00", env: us, msg: msgText("00 55 11 99999 0000"), want: "+5511999990000"},
		{name: "US BR number without plus", env: us, msg: msgText("5511999990000"), want: "+5511999990000"},
		{name: "US invalid", env: us, msg: msgText("123-4567"), want: nil},
		// Germany
		{name: "DE national landline", env: de, msg: msgText("030 901820"), want: "+4930901820"},
		{name: "DE national mobile", env: de, msg: msgText("01512 3456789"), want: "+4915123456789"},
		{name: "DE with plus", env: de, msg: msgText("+49 30 901820"), want: "+4930901820"},
		{name: "DE with 00", env: de, msg: msgText("0049 30 901820"), want: "+4930901820"},
		{name: "DE number from BR with 00", env: br, msg: msgText("0049 1512 3456789"), want: "+4915123456789"},
		{name: "US number from DE", env: de, msg: msgText("+1 (202) 456-1111"), want: "+12024561111"},
		// No default region
		{name: "no region plus", env: none, msg: msgText("+55 11 99999-0000"), want: "+5511999990000"},
		{name: "no region 00", env: none, msg: msgText("0049 30 901820"), want: "+4930901820"},
		{name: "no region national", env: none, msg: msgText("(11) 99999-0000"), want: nil},
		{name: "tel URI", env: none, msg: msgText("tel:+1-202-456-1111"), want: "+12024561111"},
		// Not phone numbers
		{name: "empty", env: br, msg: msgText(""), want: nil},
		{name: "words", env: br, msg: msgText("call me tomorrow"), want: nil},
		{name: "too long", env: br, msg: msgText("+55 11 99999-0000 11 99999-0000 11 99999-0000 11 99999-0000 11 99999-0000"), want: nil},
		{name: "plus zeros", env: br, msg: msgText("+000000000"), want: nil},
		{name: "contact card", env: br, msg: msgMedia("file", "https://x.test/c.vcf", "text/vcard", ""), want: nil},
	}
	for i := range cases {
		cases[i].kind = "phone"
	}
	runAnswerCases(t, cases)
}

func TestValidateAnswerDate(t *testing.T) {
	t.Parallel()
	brt := time.FixedZone("BRT", -3*3600)
	// 01:00 UTC on 10 March is still 9 March in São Paulo.
	now := time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC)
	pt := AnswerEnv{Now: now, Location: brt, Language: "pt"}
	en := AnswerEnv{Now: now, Location: brt, Language: "en"}
	es := AnswerEnv{Now: now, Location: brt, Language: "es"}
	cases := []answerCase{
		{name: "ISO", env: pt, msg: msgText("2026-01-05"), want: "2026-01-05"},
		{name: "ISO slashes", env: en, msg: msgText("2026/1/5"), want: "2026-01-05"},
		{name: "pt day first", env: pt, msg: msgText("05/03/2026"), want: "2026-03-05"},
		{name: "en month first", env: en, msg: msgText("05/03/2026"), want: "2026-05-03"},
		{name: "en-GB day first", env: AnswerEnv{Now: now, Language: "en-GB"}, msg: msgText("05/03/2026"), want: "2026-03-05"},
		{name: "en-US month first", env: AnswerEnv{Now: now, Language: "en_US"}, msg: msgText("05/03/2026"), want: "2026-05-03"},
		{name: "unknown language day first", env: AnswerEnv{Now: now}, msg: msgText("05/03/2026"), want: "2026-03-05"},
		{name: "pt only month-first reading valid", env: pt, msg: msgText("12/25/2026"), want: "2026-12-25"},
		{name: "en only day-first reading valid", env: en, msg: msgText("25/12/2026"), want: "2026-12-25"},
		{name: "short year", env: pt, msg: msgText("5/1/26"), want: "2026-01-05"},
		{name: "short year last century", env: pt, msg: msgText("5/1/85"), want: "1985-01-05"},
		{name: "dots", env: pt, msg: msgText("05.01.2026"), want: "2026-01-05"},
		{name: "dashes", env: es, msg: msgText("5-1-2026"), want: "2026-01-05"},
		{name: "no year", env: pt, msg: msgText("25/12"), want: "2026-12-25"},
		{name: "trailing full stop", env: pt, msg: msgText("05/01/2026."), want: "2026-01-05"},
		{name: "en day month name", env: en, msg: msgText("5 January 2026"), want: "2026-01-05"},
		{name: "en month name first", env: en, msg: msgText("January 5, 2026"), want: "2026-01-05"},
		{name: "en ordinal and weekday", env: en, msg: msgText("Monday, January 5th, 2026"), want: "2026-01-05"},
		{name: "en abbreviation", env: en, msg: msgText("5 Jan 2026"), want: "2026-01-05"},
		{name: "en the of", env: en, msg: msgText("the 5th of January"), want: "2026-01-05"},
		{name: "dashed month name", env: en, msg: msgText("05-Jan-2026"), want: "2026-01-05"},
		{name: "pt month name", env: pt, msg: msgText("5 de janeiro de 2026"), want: "2026-01-05"},
		{name: "pt accent", env: pt, msg: msgText("1º de março de 2026"), want: "2026-03-01"},
		{name: "pt without accent", env: pt, msg: msgText("1 de marco"), want: "2026-03-01"},
		{name: "pt weekday", env: pt, msg: msgText("sexta-feira, 13 de fevereiro"), want: "2026-02-13"},
		{name: "es month name", env: es, msg: msgText("5 de enero de 2026"), want: "2026-01-05"},
		{name: "es month name in pt", env: pt, msg: msgText("5 de enero de 2026"), want: "2026-01-05"},
		{name: "es dic", env: es, msg: msgText("24 dic 2026"), want: "2026-12-24"},
		{name: "month name short year", env: en, msg: msgText("January 5, 26"), want: "2026-01-05"},
		{name: "today in the workspace zone", env: en, msg: msgText("today"), want: "2026-03-09"},
		{name: "tomorrow", env: en, msg: msgText("Tomorrow!"), want: "2026-03-10"},
		{name: "yesterday", env: en, msg: msgText("yesterday"), want: "2026-03-08"},
		{name: "hoje", env: pt, msg: msgText("Hoje"), want: "2026-03-09"},
		{name: "amanhã", env: pt, msg: msgText("amanhã"), want: "2026-03-10"},
		{name: "amanha", env: pt, msg: msgText("amanha"), want: "2026-03-10"},
		{name: "ontem", env: pt, msg: msgText("ontem"), want: "2026-03-08"},
		{name: "hoy", env: es, msg: msgText("hoy"), want: "2026-03-09"},
		{name: "mañana", env: es, msg: msgText("Mañana"), want: "2026-03-10"},
		{name: "ayer", env: es, msg: msgText("ayer"), want: "2026-03-08"},
		{name: "depois de amanhã", env: pt, msg: msgText("depois de amanhã"), want: "2026-03-11"},
		{name: "today in UTC", env: AnswerEnv{Now: now}, msg: msgText("today"), want: "2026-03-10"},
		{name: "tomorrow across a month", env: AnswerEnv{Now: time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)}, msg: msgText("tomorrow"), want: "2026-03-01"},
		{name: "leap day", env: pt, msg: msgText("29/02/2028"), want: "2028-02-29"},
		// invalid
		{name: "31 February", env: pt, msg: msgText("31/02/2026"), want: nil},
		{name: "29 February no leap", env: pt, msg: msgText("29/02/2026"), want: nil},
		{name: "both readings invalid", env: en, msg: msgText("13/13/2026"), want: nil},
		{name: "ISO impossible", env: pt, msg: msgText("2026-02-30"), want: nil},
		{name: "ISO month 13", env: pt, msg: msgText("2026-13-01"), want: nil},
		{name: "January 32", env: en, msg: msgText("January 32, 2026"), want: nil},
		{name: "two months", env: en, msg: msgText("5 January February 2026"), want: nil},
		{name: "no day", env: en, msg: msgText("January 2026"), want: nil},
		{name: "words", env: en, msg: msgText("next week"), want: nil},
		{name: "sentence", env: en, msg: msgText("I will come on 5 January"), want: nil},
		{name: "year 3 digits", env: pt, msg: msgText("5/1/202"), want: nil},
		{name: "year out of range", env: pt, msg: msgText("0999-01-01"), want: nil},
		{name: "mixed separators", env: pt, msg: msgText("05/01-2026"), want: nil},
		{name: "number", env: pt, msg: msgText("5"), want: nil},
		{name: "today without a clock", env: AnswerEnv{}, msg: msgText("today"), want: nil},
		{name: "empty", env: pt, msg: msgText(""), want: nil},
	}
	for i := range cases {
		cases[i].kind = "date"
	}
	runAnswerCases(t, cases)
}

func TestValidateAnswerURL(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"https://example.com":             "https://example.com",
		"example.com":                     "https://example.com",
		"  www.Example.com/Path?q=1#top ": "https://www.example.com/Path?q=1#top",
		"HTTP://EXAMPLE.COM/A":            "http://example.com/A",
		"example.com:8080/x":              "https://example.com:8080/x",
		"//example.com/x":                 "https://example.com/x",
		"<https://example.com/>":          "https://example.com/",
		"localhost:3000":                  "https://localhost:3000",
		"http://192.168.0.1/admin":        "http://192.168.0.1/admin",
		"http://[::1]:8080/":              "http://[::1]:8080/",
		"café.com.br/menu":                "https://café.com.br/menu",
	}
	invalid := []string{
		"", "example", "https://example", "ftp://example.com", "javascript:alert(1)",
		"mailto:ana@example.com", "https://user:pass@example.com", "my site is example.com",
		"https://exa mple.com", "https://-example.com", "https://example.com:99999", "http://",
		"https://example.123", "file:///etc/passwd",
	}
	var cases []answerCase
	for in, want := range valid {
		cases = append(cases, answerCase{name: "valid " + in, kind: "url", msg: msgText(in), want: want})
	}
	for _, in := range invalid {
		cases = append(cases, answerCase{name: "invalid " + in, kind: "url", msg: msgText(in)})
	}
	runAnswerCases(t, cases)
}

func TestValidateAnswerOption(t *testing.T) {
	t.Parallel()
	choices := []Choice{
		{ID: "sales", Title: "Sales", Synonyms: []string{"buy", "price"}},
		{ID: "support", Title: "Support"},
		{ID: "cafe", Title: "Café da manhã"},
	}
	cases := []answerCase{
		{name: "button by id", msg: msgButton("support", "Support"), want: "support", option: "support"},
		{name: "button id ignores case", msg: msgButton("SUPPORT", ""), want: "support", option: "support"},
		{name: "button id wins over its text", msg: msgButton("sales", "Support"), want: "sales", option: "sales"},
		{name: "stale button falls back to text", msg: msgButton("old_id", "Support"), want: "support", option: "support"},
		{name: "unknown button", msg: msgButton("old_id", "Other"), want: nil},
		{name: "title", msg: msgText("Sales"), want: "sales", option: "sales"},
		{name: "position", msg: msgText("2"), want: "support", option: "support"},
		{name: "synonym in a sentence", msg: msgText("what's the PRICE?"), want: "sales", option: "sales"},
		{name: "accented title without accents", msg: msgText("cafe da manha"), want: "cafe", option: "cafe"},
		{name: "caption", msg: msgMedia("image", "https://x.test/a.jpg", "image/jpeg", "support"), want: "support", option: "support"},
		{name: "no match", msg: msgText("hello"), want: nil},
		{name: "position out of range", msg: msgText("4"), want: nil},
		{name: "no choices", msg: msgText("1"), choices: []Choice{}, want: nil},
		{name: "choice without id", msg: msgText("2"), choices: []Choice{{ID: "a"}, {Title: "B"}}, want: nil},
		{name: "media without caption", msg: msgMedia("image", "https://x.test/a.jpg", "image/jpeg", ""), want: nil},
	}
	for i := range cases {
		cases[i].kind = "option"
		if cases[i].choices == nil {
			cases[i].choices = choices
		}
	}
	runAnswerCases(t, cases)
}

func TestValidateAnswerMedia(t *testing.T) {
	t.Parallel()
	loc := &tandem.Message{Type: "location", Location: &tandem.Location{Lat: -23.55, Lng: -46.63, Name: "Paulista", Address: "Av. Paulista, 1000"}}
	runAnswerCases(t, []answerCase{
		{name: "image", kind: "image", msg: msgMedia("image", "https://x.test/a.jpg", "image/jpeg", ""), want: "https://x.test/a.jpg"},
		{name: "image document", kind: "image", msg: msgMedia("file", "https://x.test/a.png", "IMAGE/PNG", ""), want: "https://x.test/a.png"},
		{name: "image as media type document", kind: "image", msg: &tandem.Message{Media: &tandem.Media{Type: "document", URL: "https://x.test/a.png", Mime: "image/png"}}, want: "https://x.test/a.png"},
		{name: "pdf is not an image", kind: "image", msg: msgMedia("file", "https://x.test/a.pdf", "application/pdf", ""), want: nil},
		{name: "sticker is not an image", kind: "image", msg: msgMedia("sticker", "https://x.test/s.webp", "image/webp", ""), want: nil},
		{name: "video is not an image", kind: "image", msg: msgMedia("video", "https://x.test/v.mp4", "video/mp4", ""), want: nil},
		{name: "image without URL", kind: "image", msg: msgMedia("image", "", "image/jpeg", ""), want: nil},
		{name: "image type without media", kind: "image", msg: &tandem.Message{Type: "image"}, want: nil},
		{name: "text is not an image", kind: "image", msg: msgText("https://x.test/a.jpg"), want: nil},
		{name: "file pdf", kind: "file", msg: msgMedia("file", "https://x.test/a.pdf", "application/pdf", ""), want: "https://x.test/a.pdf"},
		{name: "file image", kind: "file", msg: msgMedia("image", "https://x.test/a.jpg", "image/jpeg", ""), want: "https://x.test/a.jpg"},
		{name: "file video", kind: "file", msg: msgMedia("video", "https://x.test/v.mp4", "video/mp4", ""), want: "https://x.test/v.mp4"},
		{name: "file audio", kind: "file", msg: msgMedia("audio", "https://x.test/a.ogg", "audio/ogg", ""), want: "https://x.test/a.ogg"},
		{name: "file sticker", kind: "file", msg: msgMedia("sticker", "https://x.test/s.webp", "image/webp", ""), want: "https://x.test/s.webp"},
		{name: "file text", kind: "file", msg: msgText("here"), want: nil},
		{name: "file location", kind: "file", msg: loc, want: nil},
		{name: "location", kind: "location", msg: loc, want: map[string]any{"lat": -23.55, "lng": -46.63, "name": "Paulista", "address": "Av. Paulista, 1000"}},
		{name: "location bare", kind: "location", msg: &tandem.Message{Type: "location", Location: &tandem.Location{Lat: 0, Lng: 0}}, want: map[string]any{"lat": 0.0, "lng": 0.0}},
		{name: "location out of range", kind: "location", msg: &tandem.Message{Type: "location", Location: &tandem.Location{Lat: 91, Lng: 0}}, want: nil},
		{name: "location NaN", kind: "location", msg: &tandem.Message{Type: "location", Location: &tandem.Location{Lat: math.NaN(), Lng: 0}}, want: nil},
		{name: "location without point", kind: "location", msg: &tandem.Message{Type: "location"}, want: nil},
		{name: "location text", kind: "location", msg: msgText("-23.55,-46.63"), want: nil},
	})
}

func TestMatchChoice(t *testing.T) {
	t.Parallel()
	helpdesk := []Choice{
		{ID: "sales", Title: "Talk to sales", Synonyms: []string{"buy", "price"}},
		{ID: "support", Title: "Support", Synonyms: []string{"help"}},
		{ID: "other", Title: "Something else"},
	}
	yesNo := []Choice{
		{ID: "yes", Title: "Sí", Synonyms: []string{"claro", "por supuesto"}},
		{ID: "no", Title: "No"},
	}
	tests := []struct {
		name    string
		text    string
		choices []Choice
		want    int
	}{
		{name: "id", text: "support", choices: helpdesk, want: 1},
		{name: "id any case", text: "SUPPORT", choices: helpdesk, want: 1},
		{name: "title", text: "Something else", choices: helpdesk, want: 2},
		{name: "title with extra spaces", text: "  something   ELSE  ", choices: helpdesk, want: 2},
		{name: "synonym", text: "Help", choices: helpdesk, want: 1},
		{name: "surrounding punctuation", text: "¿help?!", choices: helpdesk, want: 1},
		{name: "position", text: "1", choices: helpdesk, want: 0},
		{name: "position with dot", text: "3.", choices: helpdesk, want: 2},
		{name: "position with parenthesis", text: "2)", choices: helpdesk, want: 1},
		{name: "position with hash", text: "#2", choices: helpdesk, want: 1},
		{name: "position keycap emoji", text: "2️⃣", choices: helpdesk, want: 1},
		{name: "position full-width", text: "２", choices: helpdesk, want: 1},
		{name: "position zero", text: "0", choices: helpdesk, want: -1},
		{name: "position too big", text: "4", choices: helpdesk, want: -1},
		{name: "position with words is not a position", text: "I have 2 questions", choices: helpdesk, want: -1},
		{name: "spec example", text: "what's the PRICE?", choices: helpdesk, want: 0},
		{name: "multi-word title in a sentence", text: "I'd like to talk to sales, please", choices: helpdesk, want: 0},
		{name: "multi-word title split by a line break", text: "talk to\nsales", choices: helpdesk, want: 0},
		{name: "whole words only", text: "helpful pricey buyer", choices: helpdesk, want: -1},
		{name: "first option that contains wins", text: "I need help with the price", choices: helpdesk, want: 0},
		{name: "accented title typed without accent", text: "si", choices: yesNo, want: 0},
		{name: "accented answer, plain synonym", text: "Sí, por favor", choices: []Choice{{ID: "yes", Synonyms: []string{"si"}}, {ID: "no"}}, want: 0},
		{name: "accented title in a sentence", text: "sí claro que sí", choices: yesNo, want: 0},
		{name: "multi-word synonym", text: "¡Por supuesto!", choices: yesNo, want: 0},
		{name: "id in a sentence", text: "no, thanks", choices: yesNo, want: 1},
		{name: "word inside a word does not match", text: "nothing", choices: yesNo, want: -1},
		{name: "accented id", text: "CAFÉ", choices: []Choice{{ID: "chá"}, {ID: "café"}}, want: 1},
		{name: "composed and decomposed accents", text: "cafe\u0301", choices: []Choice{{ID: "x", Title: "Caf\u00e9"}}, want: 0},
		{name: "emoji title", text: "👍🏽", choices: []Choice{{ID: "up", Title: "👍"}, {ID: "down", Title: "👎"}}, want: 0},
		{name: "emoji in a sentence", text: "ok 👎", choices: []Choice{{ID: "up", Title: "👍"}, {ID: "down", Title: "👎"}}, want: 1},
		// Exact matches beat containment in an earlier option, and titles beat positions.
		{name: "exact beats earlier containment", text: "price list", choices: []Choice{{ID: "sales", Synonyms: []string{"price"}}, {ID: "list", Title: "Price list"}}, want: 1},
		{name: "title beats position", text: "1", choices: []Choice{{ID: "none", Title: "0"}, {ID: "one", Title: "1"}, {ID: "two", Title: "2"}}, want: 1},
		{name: "support example", text: "Support", choices: []Choice{{ID: "sales", Synonyms: []string{"buy", "price"}}, {ID: "support"}}, want: 1},
		{name: "empty text", text: "", choices: helpdesk, want: -1},
		{name: "punctuation only", text: "?!", choices: helpdesk, want: -1},
		{name: "empty choice never matches", text: "hello", choices: []Choice{{}, {ID: "hello"}}, want: 1},
		{name: "no choices", text: "1", choices: nil, want: -1},
		{name: "invalid UTF-8", text: "\xff\xfe", choices: helpdesk, want: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MatchChoice(tc.text, tc.choices); got != tc.want {
				t.Errorf("MatchChoice(%q) = %d, want %d", tc.text, got, tc.want)
			}
		})
	}
}
