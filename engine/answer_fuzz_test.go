package engine

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

var fuzzAnswerKinds = []string{"text", "number", "email", "phone", "date", "url", "option", "image", "file", "location", "any", "other"}

var fuzzChoices = []Choice{
	{ID: "sales", Title: "Talk to sales", Synonyms: []string{"buy", "price"}},
	{ID: "support", Title: "Suporte técnico", Synonyms: []string{"ajuda", "¿ayuda?"}},
	{ID: "yes", Title: "Sí"},
	{ID: "", Title: ""},
	{ID: "👍", Title: "👍"},
}

// FuzzValidateAnswer checks that no message makes validation panic, and that valid values
// have the promised shape: a finite number, and e-mail, phone, date and URL values that
// validate again to themselves.
func FuzzValidateAnswer(f *testing.F) {
	for _, s := range []string{
		"150", "R$ 1.234,56", "1,000", "-$5", ".5", "1 or 2", "ana@Example.com", "mailto:x@y.io",
		"+55 11 99999-0000", "0049 30 901820", "(202) 456-1111", "5511999990000", "2026-01-05",
		"31/02/2026", "5 de janeiro de 2026", "January 5th, 2026", "amanhã", "example.com/x",
		"http://[::1]:80/", "what's the PRICE?", "2️⃣", "Sí, por favor", "\xff", "", "1.2.3.4",
	} {
		f.Add(uint8(0), s, "", "text", "BR", "pt")
	}
	f.Add(uint8(6), "Support", "support", "option", "US", "en")
	f.Add(uint8(7), "", "", "image", "", "")
	f.Fuzz(func(t *testing.T, kind uint8, text, option, typ, region, lang string) {
		m := &tandem.Message{Type: typ, Text: text, Option: option}
		switch typ {
		case "image", "video", "audio", "file", "sticker":
			m.Media = &tandem.Media{Type: typ, URL: option, Mime: region, Caption: text}
		case "location":
			m.Location = &tandem.Location{Lat: float64(len(text)), Lng: -float64(len(option)), Name: text}
		}
		env := AnswerEnv{
			Now:      time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC),
			Location: time.FixedZone("BRT", -3*3600),
			Region:   region,
			Language: lang,
		}
		k := fuzzAnswerKinds[int(kind)%len(fuzzAnswerKinds)]
		v, opt, ok := ValidateAnswer(k, m, fuzzChoices, env)
		if !ok {
			if v != nil || opt != "" {
				t.Fatalf("ValidateAnswer(%q) invalid but returned %#v, %q", k, v, opt)
			}
			return
		}
		switch k {
		case "number":
			if n, isFloat := v.(float64); !isFloat || math.IsNaN(n) || math.IsInf(n, 0) {
				t.Fatalf("ValidateAnswer(number, %q) = %#v", text, v)
			}
		case "email", "phone", "date", "url":
			s, isString := v.(string)
			if !isString || s == "" {
				t.Fatalf("ValidateAnswer(%s, %q) = %#v", k, text, v)
			}
			again, _, ok := ValidateAnswer(k, &tandem.Message{Type: "text", Text: s}, nil, env)
			if !ok || again != s {
				t.Fatalf("ValidateAnswer(%s, %q) = %q, which validates to %#v, %v", k, text, s, again, ok)
			}
			if k == "phone" && !strings.HasPrefix(s, "+") {
				t.Fatalf("ValidateAnswer(phone, %q) = %q, not E.164", text, s)
			}
		case "option":
			if v != opt || opt == "" {
				t.Fatalf("ValidateAnswer(option, %q) = %#v, %q", text, v, opt)
			}
		}
	})
}

// FuzzMatchChoice checks that matching never panics and returns -1 or a valid index.
func FuzzMatchChoice(f *testing.F) {
	for _, s := range []string{"1", "2)", "sales", "what's the PRICE?", "talk to sales", "sí", "🙂", "\xff\xfe", "", "  ", "0", "99999999999999999999"} {
		f.Add(s, "Sí, por favor")
	}
	f.Fuzz(func(t *testing.T, text, synonym string) {
		choices := append([]Choice{{ID: "x", Title: synonym, Synonyms: []string{synonym, text}}}, fuzzChoices...)
		for _, cs := range [][]Choice{fuzzChoices, choices, nil} {
			if got := MatchChoice(text, cs); got < -1 || got >= len(cs) {
				t.Fatalf("MatchChoice(%q) = %d with %d choices", text, got, len(cs))
			}
		}
		// An option selects itself by its own title and synonyms unless one before it matches.
		if normalizeAnswer(text) != "" {
			if got := MatchChoice(text, choices); got != 0 {
				t.Fatalf("MatchChoice(%q) = %d, want the choice whose synonym it is", text, got)
			}
		}
	})
}
