// Package words normalises texts for matching: lower case without accents, words, stopwords,
// crude stems. Knowledge search and the local provider share it.
package words

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Normalize lower-cases a text and removes accents, so "Não" and "nao" match.
func Normalize(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

// stopwords are ignored in queries and classification (English, Portuguese, Spanish).
var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an the and or but if of to in on at for with from by is are was were be been
		am do does did i me my you your we our it its this that these those what which who how can could would
		should will please hi hello there as so not no yes just about into than then too very have has had
		o os as um uma uns umas e ou de do da dos das em no na nos nas por para com que se eu me meu minha voce
		vc ele ela nos eles elas isso isto esse essa este esta ser estar sou esta estou tem ter favor
		el la los las un una unos unas y o de del en por para con que se yo mi tu su es son estoy hay al lo le`) {
		stopwords[w] = true
	}
}

// Words splits a normalised text into words of letters and digits.
func Words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// Terms returns the normalised words of a query without stopwords (all words if every one is
// a stopword), without duplicates.
func Terms(query string) []string {
	words := Words(Normalize(query))
	seen := map[string]bool{}
	var out []string
	for _, w := range words {
		if !stopwords[w] && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		for _, w := range words {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// Stem is a crude language-neutral stem: the word's first five letters, so "schedule",
// "scheduling" and "scheduled" meet.
func Stem(w string) string {
	r := []rune(w)
	if len(r) > 5 {
		return string(r[:5])
	}
	return w
}
