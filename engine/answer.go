package engine

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"

	"github.com/tandemchat/tandem"
)

// Choice is one option of a question.
type Choice struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Synonyms []string `json:"synonyms,omitempty"`
}

// AnswerEnv is what validation needs to know about where it runs.
type AnswerEnv struct {
	Now      time.Time      // for relative dates ("today", "tomorrow"), in Location
	Location *time.Location // workspace time zone; nil means Now's own
	Region   string         // default phone region, ISO 3166 alpha-2 ("BR", "US"); may be ""
	Language string         // "en", "es", "pt", ... affects date order (en: month/day; others: day/month)
}

// ValidateAnswer checks an inbound message against a question's answer type and returns the
// normalised value and, for options, the chosen option id. ok=false means invalid.
//
// Values: text, email, phone (E.164), date (YYYY-MM-DD), url, option (the choice id), image
// and file (the media URL) and any are strings; number is a float64; location is a
// map[string]any with lat, lng and, when present, name and address. An unknown kind is
// validated as text. A nil message is invalid for every kind.
func ValidateAnswer(kind string, m *tandem.Message, choices []Choice, env AnswerEnv) (value any, option string, ok bool) {
	if m == nil {
		return nil, "", false
	}
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "any":
		return answerAny(m), "", true
	case "number":
		if f, ok := parseNumber(answerMessageText(m)); ok {
			return f, "", true
		}
	case "email":
		if s, ok := parseEmail(answerMessageText(m)); ok {
			return s, "", true
		}
	case "phone":
		if s, ok := parsePhone(answerMessageText(m), env.Region); ok {
			return s, "", true
		}
	case "date":
		if s, ok := parseDate(answerMessageText(m), env); ok {
			return s, "", true
		}
	case "url":
		if s, ok := parseURL(answerMessageText(m)); ok {
			return s, "", true
		}
	case "option":
		if i := matchOption(m, choices); i >= 0 && choices[i].ID != "" { // an id-less choice cannot be answered
			return choices[i].ID, choices[i].ID, true
		}
	case "image":
		if t := answerMediaType(m); t == tandem.MessageImage || (t == tandem.MessageFile && strings.HasPrefix(strings.ToLower(m.Media.Mime), "image/")) {
			return m.Media.URL, "", true
		}
	case "file":
		if answerMediaType(m) != "" {
			return m.Media.URL, "", true
		}
	case "location":
		if l := m.Location; m.Type == tandem.MessageLocation && l != nil && validAnswerLatLng(l.Lat, l.Lng) {
			v := map[string]any{"lat": l.Lat, "lng": l.Lng}
			if l.Name != "" {
				v["name"] = l.Name
			}
			if l.Address != "" {
				v["address"] = l.Address
			}
			return v, "", true
		}
	default: // text and unknown kinds
		if s := answerMessageText(m); s != "" {
			return s, "", true
		}
	}
	return nil, "", false
}

// answerMessageText is the trimmed text of a message, or a media message's trimmed caption.
func answerMessageText(m *tandem.Message) string {
	if s := trimAnswer(m.Text); s != "" {
		return s
	}
	if m.Media != nil {
		return trimAnswer(m.Media.Caption)
	}
	return ""
}

// trimAnswer trims white space and invisible format characters (zero-width space, BOM).
func trimAnswer(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
	})
}

// answerMediaType returns the kind of media a message carries — image, video, audio, file or
// sticker — or "" when it has no media with a URL. A "document" counts as a file.
func answerMediaType(m *tandem.Message) string {
	if m.Media == nil || strings.TrimSpace(m.Media.URL) == "" {
		return ""
	}
	t := m.Type
	if t == "" || t == tandem.MessageText {
		t = m.Media.Type
	}
	switch t {
	case tandem.MessageImage, tandem.MessageVideo, tandem.MessageAudio, tandem.MessageFile, tandem.MessageSticker:
		return t
	case "document":
		return tandem.MessageFile
	}
	return ""
}

// answerAny is the value of an answer of kind any: an option reply's id, a location's
// "lat,lng", a media URL, or the trimmed text ("" when the message has none of these).
func answerAny(m *tandem.Message) string {
	switch {
	case m.Type == tandem.MessageOption && m.Option != "":
		return m.Option
	case m.Type == tandem.MessageLocation && m.Location != nil:
		return formatAnswerFloat(m.Location.Lat) + "," + formatAnswerFloat(m.Location.Lng)
	case answerMediaType(m) != "":
		return m.Media.URL
	}
	return answerMessageText(m)
}

func formatAnswerFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func validAnswerLatLng(lat, lng float64) bool {
	return lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180 // false for NaN too
}

// matchOption selects a choice for an option answer: a button or list reply by its id
// (exact, then ignoring case), anything else — including a reply whose id is not one of
// this question's, such as a stale button — by MatchChoice on its text.
func matchOption(m *tandem.Message, choices []Choice) int {
	if m.Type == tandem.MessageOption && m.Option != "" {
		for i, c := range choices {
			if c.ID == m.Option {
				return i
			}
		}
		for i, c := range choices {
			if strings.EqualFold(c.ID, m.Option) {
				return i
			}
		}
	}
	return MatchChoice(answerMessageText(m), choices)
}

// MatchChoice returns the index of the first choice the text selects, or -1.
//
// Text and choices are compared ignoring case, accents, surrounding punctuation and repeated
// spaces, in three passes, each taking the first choice that matches:
//
//  1. the text equals the choice's id, title or one of its synonyms;
//  2. the text is the choice's position ("2", "2.", "2)", "#2", "2️⃣");
//  3. the text contains the id, title or a synonym as whole words ("what's the PRICE?"
//     selects the choice with synonym "price"; "talk to sales, please" the one titled
//     "Talk to sales").
//
// Exact answers come first because they are unambiguous, and "the first option that matches
// wins" should not let a loose match on an earlier option steal them: with [{sales, synonyms:
// [price]}, {price_list, title: "Price list"}] the answer "price list" must select price_list,
// though it also contains option 1's synonym "price" — a single pass in option order would
// give sales. Positions come after exact matches so that options titled "0", "1", "2" are
// selected by the number the customer typed, not by their place in the list.
func MatchChoice(text string, choices []Choice) int {
	t := normalizeAnswer(text)
	if t == "" {
		return -1
	}
	terms := make([][]string, len(choices)) // normalised id, title and synonyms of each choice
	for i, c := range choices {
		for _, s := range append([]string{c.ID, c.Title}, c.Synonyms...) {
			if s = normalizeAnswer(s); s != "" {
				terms[i] = append(terms[i], s)
			}
		}
	}
	for i := range choices {
		for _, s := range terms[i] {
			if s == t {
				return i
			}
		}
	}
	if n, err := strconv.Atoi(t); err == nil && n >= 1 && n <= len(choices) && isAnswerDigits(t) {
		return n - 1
	}
	for i := range choices {
		for _, s := range terms[i] {
			if containsWords(t, s) {
				return i
			}
		}
	}
	return -1
}

// containsWords reports whether needle occurs in s bounded on each side by the start or end
// of s or by a rune that is neither a letter nor a digit.
func containsWords(s, needle string) bool {
	for off := 0; off+len(needle) <= len(s); {
		i := strings.Index(s[off:], needle)
		if i < 0 {
			return false
		}
		start, end := off+i, off+i+len(needle)
		before, _ := utf8.DecodeLastRuneInString(s[:start])
		after, _ := utf8.DecodeRuneInString(s[end:])
		if (start == 0 || !isAnswerWordRune(before)) && (end == len(s) || !isAnswerWordRune(after)) {
			return true
		}
		_, size := utf8.DecodeRuneInString(s[start:])
		off = start + size
	}
	return false
}

func isAnswerWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func isAnswerDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// normalizeAnswer folds text for comparison: compatibility forms and accents removed, lower
// case, white space collapsed, and surrounding punctuation, marks and invisible characters
// trimmed. Symbols such as emoji are kept, so an option titled "👍" can be typed.
func normalizeAnswer(s string) string {
	s = strings.Join(strings.Fields(foldAnswer(s)), " ")
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsMark(r) || unicode.IsControl(r) ||
			unicode.Is(unicode.Cf, r) || r == utf8.RuneError
	})
}

// foldAnswer lower-cases s and removes accents and other non-spacing marks, after
// compatibility decomposition (full-width letters, ligatures, "º" → "o"). Emoji skin-tone
// modifiers go too.
func foldAnswer(s string) string {
	ascii := true
	for i := 0; i < len(s) && ascii; i++ {
		ascii = s[i] < utf8.RuneSelf
	}
	if !ascii {
		s = norm.NFC.String(strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) || (r >= 0x1F3FB && r <= 0x1F3FF) {
				return -1
			}
			return r
		}, norm.NFKD.String(s)))
	}
	return strings.ToLower(s)
}

// ---- number ----

// maxNumberWords is how many other words a number answer may carry ("about 150 reais").
const maxNumberWords = 5

// currencyCodes may be written against a number ("150BRL", "USD100").
var currencyCodes = map[string]bool{
	"usd": true, "eur": true, "gbp": true, "brl": true, "jpy": true, "cny": true, "inr": true,
	"mxn": true, "ars": true, "clp": true, "cop": true, "pen": true, "uyu": true, "pyg": true,
	"bob": true, "cad": true, "aud": true, "nzd": true, "chf": true, "zar": true, "us": true,
}

// magnitudeWords scale a number: "150 mil" is not 150.
var magnitudeWords = map[string]bool{
	"k": true, "thousand": true, "thousands": true, "million": true, "millions": true, "billion": true, "billions": true,
	"mil": true, "milhao": true, "milhoes": true, "bilhao": true, "bilhoes": true, "mi": true, "bi": true,
	"millon": true, "millones": true, "billon": true, "billones": true, "lakh": true, "crore": true,
}

// parseNumber reads the one number in a short answer.
//
// Accepted around it: white space, a sign, currency signs and codes ("R$ 1.234,56", "-$5",
// "150 BRL", "USD100"), a percent sign, and up to maxNumberWords other words ("about 150",
// "150 reais"). Two numbers ("1 or 2", "10-20", "10:30") or a number glued to other letters
// ("150k", "2nd") are invalid.
//
// Separators: "." and "," are both accepted as decimal or thousands separators; apostrophes
// and no-break or thin spaces only as thousands separators (a plain space never is: "2 100"
// is two numbers). When both "." and "," appear the last one is the decimal separator
// ("1.234,56" and "1,234.56" are 1234.56). A separator that appears several times is a
// thousands separator ("1.234.567"). A single separator is a thousands separator when exactly
// three digits follow it and one to three digits, not starting with 0, precede it ("1,000"
// and "1.000" are 1000), otherwise a decimal one ("2,5" is 2.5, "0,500" is 0.5, "1234.567"
// is 1234.567, "1.2345" is 1.2345). Thousands groups must have three digits, the first one to
// three. Magnitude words make the answer invalid rather than wrong ("150 mil", "2 million").
func parseNumber(text string) (float64, bool) {
	rs := []rune(text)
	var (
		found    bool
		value    float64
		spanFrom int
		spanTo   int
	)
	for i := 0; i < len(rs); {
		start := i
		if !isNumberDigit(rs[i]) {
			if !(rs[i] == '.' || rs[i] == ',') || i+1 >= len(rs) || !isNumberDigit(rs[i+1]) || (i > 0 && isNumberDigit(rs[i-1])) {
				i++
				continue
			}
		}
		// A number token: digits with single separators between them (or one leading "." / ",").
		var b strings.Builder
		j := i
		for j < len(rs) {
			r := rs[j]
			if d, ok := asciiDigit(r); ok {
				b.WriteByte(d)
				j++
				continue
			}
			if isNumberSeparator(r) && j+1 < len(rs) && isNumberDigit(rs[j+1]) && (j > start || r == '.' || r == ',') {
				b.WriteRune(r)
				j++
				continue
			}
			break
		}
		if found {
			return 0, false // a second number
		}
		if !currencyGlue(rs[:start], true) || !currencyGlue(rs[j:], false) {
			return 0, false
		}
		f, ok := parseNumberToken(b.String())
		if !ok {
			return 0, false
		}
		if negativeSign(rs[:start]) {
			f = -f
		}
		found, value, spanFrom, spanTo = true, f, start, j
		i = j
	}
	if !found {
		return 0, false
	}
	words := 0
	for _, w := range strings.Fields(foldAnswer(string(rs[:spanFrom]) + " " + string(rs[spanTo:]))) {
		if strings.IndexFunc(w, unicode.IsLetter) < 0 {
			continue
		}
		words++
		for _, l := range strings.FieldsFunc(w, func(r rune) bool { return !unicode.IsLetter(r) }) {
			if magnitudeWords[l] {
				return 0, false
			}
		}
	}
	if words > maxNumberWords {
		return 0, false
	}
	if value == 0 {
		value = 0 // no negative zero
	}
	return value, true
}

func isNumberDigit(r rune) bool { _, ok := asciiDigit(r); return ok }

// asciiDigit maps ASCII, full-width and Arabic-Indic digits to their ASCII digit.
func asciiDigit(r rune) (byte, bool) {
	for _, zero := range [...]rune{'0', 0xFF10, 0x0660, 0x06F0, 0x0966} {
		if r >= zero && r <= zero+9 {
			return byte('0' + r - zero), true
		}
	}
	return 0, false
}

func isNumberSeparator(r rune) bool {
	switch r {
	case '.', ',', '\'', '’', '\u00a0', '\u202f', '\u2009':
		return true
	}
	return false
}

// currencyGlue reports whether the letters touching a number on one side (before it when
// before is true) are absent or a currency code.
func currencyGlue(rs []rune, before bool) bool {
	var letters []rune
	if before {
		k := len(rs)
		for k > 0 && unicode.IsLetter(rs[k-1]) {
			k--
		}
		letters = rs[k:]
	} else {
		k := 0
		for k < len(rs) && unicode.IsLetter(rs[k]) {
			k++
		}
		letters = rs[:k]
	}
	return len(letters) == 0 || currencyCodes[strings.ToLower(string(letters))]
}

// negativeSign reports whether the text before a number ends with a minus sign, possibly
// followed by a currency sign ("-5", "-$5", "-R$5", "R$-5"), that does not follow a letter or
// digit (so "10-20" and "covid-19" are not negative).
func negativeSign(rs []rune) bool {
	k := len(rs)
	for k > 0 && rs[k-1] == ' ' {
		k--
	}
	if sign := k; k > 0 && unicode.Is(unicode.Sc, rs[k-1]) {
		for k > 0 && unicode.Is(unicode.Sc, rs[k-1]) {
			k--
		}
		for k > 0 && unicode.IsLetter(rs[k-1]) && sign-k < 4 { // R$, US$
			k--
		}
	} else {
		k = len(rs)
	}
	if k == 0 || (rs[k-1] != '-' && rs[k-1] != '−') {
		return false
	}
	return k == 1 || !isAnswerWordRune(rs[k-2])
}

// parseNumberToken turns digits and separators (see parseNumber) into a number.
func parseNumberToken(tok string) (float64, bool) {
	var groups []string // digit runs
	var seps []rune     // seps[i] separates groups[i] and groups[i+1]
	cur := strings.Builder{}
	for _, r := range tok {
		if r >= '0' && r <= '9' {
			cur.WriteRune(r)
			continue
		}
		groups = append(groups, cur.String())
		seps = append(seps, r)
		cur.Reset()
	}
	groups = append(groups, cur.String())

	intPart, frac := strings.Join(groups, ""), ""
	if len(seps) > 0 {
		last := seps[len(seps)-1]
		decimal := -1 // index in seps of the decimal separator
		if last == '.' || last == ',' {
			count := strings.Count(string(seps), string(last))
			switch {
			case count > 1:
				// repeated: thousands separator
			case len(seps) > 1:
				decimal = len(seps) - 1
			case len(groups[1]) != 3 || groups[0] == "" || groups[0][0] == '0' || len(groups[0]) > 3:
				decimal = 0
			}
		}
		grouped := seps
		if decimal >= 0 {
			grouped = seps[:decimal]
			intPart = strings.Join(groups[:decimal+1], "")
			frac = groups[decimal+1]
		}
		if len(grouped) > 0 {
			for _, s := range grouped {
				if s != grouped[0] {
					return 0, false
				}
			}
			if n := len(groups[0]); n < 1 || n > 3 {
				return 0, false
			}
			for _, g := range groups[1 : len(grouped)+1] {
				if len(g) != 3 {
					return 0, false
				}
			}
		}
	}
	if intPart == "" {
		intPart = "0"
	}
	s := intPart
	if frac != "" {
		s += "." + frac
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// ---- e-mail ----

// parseEmail checks an address — local@domain.tld, one @, no spaces, a domain of at least
// two valid labels and an alphabetic (or xn--) top-level label — after removing a "mailto:"
// prefix, enclosing angle brackets and a trailing full stop. It returns the address with the
// domain lower-cased.
func parseEmail(text string) (string, bool) {
	s := text
	if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
		if i := strings.IndexByte(s, '?'); i >= 0 {
			s = s[:i]
		}
	}
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	s = strings.TrimSuffix(s, ".")
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.Count(s, "@") != 1 || len(s) > 254 || !utf8.ValidString(s) {
		return "", false
	}
	local, domain := s[:at], strings.ToLower(s[at+1:])
	if len(local) > 64 || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", false
	}
	for _, r := range local {
		if !(isAnswerWordRune(r) || strings.ContainsRune(".!#$%&'*+/=?^_`{|}~-", r)) {
			return "", false
		}
	}
	if !validAnswerHost(domain) {
		return "", false
	}
	return local + "@" + domain, true
}

// validAnswerHost reports whether s is a domain name with at least two labels of letters,
// digits and inner hyphens (at most 63 bytes each), the last one alphabetic or punycode.
func validAnswerHost(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 || len(s) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !isAnswerWordRune(r) && r != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.HasPrefix(tld, "xn--") {
		return true
	}
	if utf8.RuneCountInString(tld) < 2 {
		return false
	}
	for _, r := range tld {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// ---- phone ----

// parsePhone reads a phone number in the default region (national format) or in
// international format with "+" or "00"; it must be a valid number, returned in E.164.
// Digits without a prefix that are not a valid national number are also tried as an
// international number ("5511999990000" when the region is US or unknown).
func parsePhone(text, region string) (string, bool) {
	if text == "" || len(text) > 64 {
		return "", false
	}
	region = strings.ToUpper(strings.TrimSpace(region))
	digits := strings.TrimLeft(text, " ([")
	var tries []string
	switch {
	case strings.HasPrefix(digits, "+"), strings.HasPrefix(digits, "＋"):
		tries = []string{text}
	case strings.HasPrefix(digits, "00"):
		tries = []string{"+" + digits[2:], text}
	case digits != "" && digits[0] >= '0' && digits[0] <= '9':
		tries = []string{text, "+" + digits}
	default:
		tries = []string{text}
	}
	for _, s := range tries {
		n, err := phonenumbers.Parse(s, region)
		if err == nil && phonenumbers.IsValidNumber(n) {
			return phonenumbers.Format(n, phonenumbers.E164), true
		}
	}
	return "", false
}

// ---- date ----

// parseDate reads a calendar date and returns it as YYYY-MM-DD. Accepted:
//
//   - YYYY-MM-DD (also with / or .);
//   - D/M/Y or M/D/Y with /, - or . and a 2- or 4-digit year or none (this year): month first
//     in English (except en-GB and other day-first English locales), day first otherwise and
//     when the language is unknown; when only the other reading is a real date, that one;
//   - a month name or abbreviation in English, Spanish or Portuguese with a day and an
//     optional year, in either order, with ordinals, commas, weekdays and "de"/"of"/"the"
//     ("5 January 2026", "January 5th, 2026", "5 de janeiro de 2026", "sábado, 5 de enero");
//   - today, tomorrow, yesterday, the day after tomorrow, the day before yesterday and the same
//     in Portuguese and Spanish (hoje, amanhã, ontem, depois de amanhã, anteontem; hoy, mañana,
//     ayer, pasado mañana, anteayer), relative to env.Now in env.Location.
//
// A 2-digit year is the one within 80 years before and 20 after now. Impossible dates and
// years outside 1000–9999 are invalid.
func parseDate(text string, env AnswerEnv) (string, bool) {
	now := env.Now
	if env.Location != nil {
		now = now.In(env.Location)
	}
	s := normalizeAnswer(text)
	if s == "" || len(s) > 64 {
		return "", false
	}
	if off, ok := relativeDays[s]; ok {
		y, m, d := now.Date()
		return formatAnswerDate(time.Date(y, m, d+off, 12, 0, 0, 0, time.UTC))
	}
	if y, m, d, ok := numericDate(s, now, monthFirst(env.Language)); ok {
		return makeAnswerDate(y, m, d)
	}
	if y, m, d, ok := namedDate(s, now); ok {
		return makeAnswerDate(y, m, d)
	}
	return "", false
}

var relativeDays = map[string]int{
	"today": 0, "hoje": 0, "hoy": 0,
	"tomorrow": 1, "amanha": 1, "manana": 1,
	"yesterday": -1, "ontem": -1, "ayer": -1,
	"day after tomorrow": 2, "the day after tomorrow": 2, "depois de amanha": 2, "pasado manana": 2,
	"day before yesterday": -2, "the day before yesterday": -2, "anteontem": -2, "antes de ontem": -2, "anteayer": -2, "antier": -2,
}

// monthFirst reports whether a language writes numeric dates month first.
func monthFirst(lang string) bool {
	lang = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(lang), "_", "-"))
	base, region, _ := strings.Cut(lang, "-")
	if base != "en" && base != "eng" {
		return false
	}
	switch region {
	case "gb", "uk", "ie", "au", "nz", "in", "za", "sg", "ng", "ke":
		return false
	}
	return true
}

// numericDate parses Y-M-D, D/M/Y, M/D/Y and D/M forms.
func numericDate(s string, now time.Time, mdy bool) (y, m, d int, ok bool) {
	sep := strings.IndexAny(s, "/-.")
	if sep < 0 {
		return 0, 0, 0, false
	}
	parts := strings.Split(s, s[sep:sep+1])
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, false
	}
	for _, p := range parts {
		if !isAnswerDigits(p) || len(p) > 4 {
			return 0, 0, 0, false
		}
	}
	if len(parts[0]) == 4 {
		if len(parts) != 3 || len(parts[1]) > 2 || len(parts[2]) > 2 {
			return 0, 0, 0, false
		}
		return answerAtoi(parts[0]), answerAtoi(parts[1]), answerAtoi(parts[2]), true
	}
	if len(parts[0]) > 2 || len(parts[1]) > 2 {
		return 0, 0, 0, false
	}
	y = now.Year()
	if len(parts) == 3 {
		var yok bool
		if y, yok = fullYear(parts[2], now); !yok {
			return 0, 0, 0, false
		}
	}
	a, b := answerAtoi(parts[0]), answerAtoi(parts[1])
	first, second := [2]int{b, a}, [2]int{a, b} // (month, day): day first, then month first
	if mdy {
		first, second = second, first
	}
	if validAnswerDate(y, first[0], first[1]) {
		return y, first[0], first[1], true
	}
	return y, second[0], second[1], true // checked by makeDate
}

// fullYear turns a 2- or 4-digit year into a full year.
func fullYear(p string, now time.Time) (int, bool) {
	switch len(p) {
	case 4:
		return answerAtoi(p), true
	case 2:
		ref := now.Year()
		if now.IsZero() {
			ref = 2000
		}
		y := ref/100*100 + answerAtoi(p)
		if y >= ref+20 {
			y -= 100
		} else if y < ref-80 {
			y += 100
		}
		return y, true
	}
	return 0, false
}

var answerMonths = map[string]int{
	// English
	"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
	"august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
	"oct": 10, "nov": 11, "dec": 12,
	// Portuguese (accents removed)
	"janeiro": 1, "fevereiro": 2, "marco": 3, "abril": 4, "maio": 5, "junho": 6, "julho": 7,
	"agosto": 8, "setembro": 9, "outubro": 10, "novembro": 11, "dezembro": 12,
	"fev": 2, "abr": 4, "mai": 5, "ago": 8, "set": 9, "out": 10, "dez": 12,
	// Spanish
	"enero": 1, "febrero": 2, "marzo": 3, "mayo": 5, "junio": 6, "julio": 7,
	"septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
	"ene": 1, "dic": 12,
}

// dateFillers are words ignored in a date with a month name: articles, prepositions, weekdays.
var dateFillers = map[string]bool{
	"de": true, "del": true, "of": true, "the": true, "on": true, "el": true, "dia": true,
	"monday": true, "tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true, "sunday": true,
	"mon": true, "tue": true, "tues": true, "wed": true, "thu": true, "thur": true, "thurs": true, "fri": true, "sat": true, "sun": true,
	"segunda": true, "terca": true, "quarta": true, "quinta": true, "sexta": true, "sabado": true, "domingo": true, "feira": true,
	"lunes": true, "martes": true, "miercoles": true, "jueves": true, "viernes": true,
}

// namedDate parses dates with a month name: one month, a day and an optional year.
func namedDate(s string, now time.Time) (y, m, d int, ok bool) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == ',' || r == '.' || r == '-' || r == '/'
	})
	var nums []string
	for _, f := range fields {
		if n, isMonth := answerMonths[f]; isMonth {
			if m != 0 {
				return 0, 0, 0, false
			}
			m = n
			continue
		}
		if dateFillers[f] {
			continue
		}
		digits := strings.TrimRightFunc(f, unicode.IsLetter)
		switch suffix := f[len(digits):]; suffix {
		case "", "st", "nd", "rd", "th", "o", "a", "er", "ero":
		default:
			return 0, 0, 0, false
		}
		if !isAnswerDigits(digits) || len(digits) > 4 || (len(digits) > 2 && len(digits) < len(f)) {
			return 0, 0, 0, false
		}
		nums = append(nums, digits)
	}
	if m == 0 {
		return 0, 0, 0, false
	}
	y = now.Year()
	switch len(nums) {
	case 1:
		if len(nums[0]) > 2 {
			return 0, 0, 0, false
		}
		d = answerAtoi(nums[0])
	case 2:
		day, year := nums[0], nums[1]
		if len(day) > 2 {
			day, year = year, day
		}
		if len(day) > 2 {
			return 0, 0, 0, false
		}
		var yok bool
		if y, yok = fullYear(year, now); !yok {
			return 0, 0, 0, false
		}
		d = answerAtoi(day)
	default:
		return 0, 0, 0, false
	}
	return y, m, d, true
}

func answerAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func validAnswerDate(y, m, d int) bool {
	if y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 {
		return false
	}
	t := time.Date(y, time.Month(m), d, 12, 0, 0, 0, time.UTC)
	return t.Day() == d && int(t.Month()) == m
}

func makeAnswerDate(y, m, d int) (string, bool) {
	if !validAnswerDate(y, m, d) {
		return "", false
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d), true
}

func formatAnswerDate(t time.Time) (string, bool) {
	return makeAnswerDate(t.Year(), int(t.Month()), t.Day())
}

// ---- url ----

// parseURL checks a web address. Without a scheme, https:// is assumed; the scheme must be
// http or https, the host a domain name with a dot, an IP address or localhost, and there may
// be no user info or spaces. It returns the URL with its scheme and host lower-cased.
func parseURL(text string) (string, bool) {
	s := strings.TrimSuffix(strings.TrimPrefix(text, "<"), ">")
	if s == "" || strings.ContainsFunc(s, unicode.IsSpace) || len(s) > 2048 {
		return "", false
	}
	if !strings.Contains(s, "://") {
		s = "https://" + strings.TrimPrefix(s, "//")
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false
	}
	u.Host = strings.ToLower(u.Host)
	host := strings.TrimSuffix(u.Hostname(), ".")
	if host != "localhost" && !validAnswerHost(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", false
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", false
		}
	}
	// url.URL.String percent-encodes a non-ASCII host; keep it as written ("café.com").
	rest := strings.TrimPrefix(u.String(), u.Scheme+":"+(&url.URL{Host: u.Host}).String())
	return u.Scheme + "://" + u.Host + rest, true
}
