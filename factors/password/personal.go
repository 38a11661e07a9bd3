package password

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Personal data a password may not hold (rule 5 of CheckNew). Every token
// is a run of at least minPersonal letters or digits, so a password with
// no three letters or digits in a row (what Generate makes) never holds
// one.
const (
	minPersonal   = 3 // letters of a name part, letters or digits of an e-mail run
	minPhoneTail  = 7 // last digits of the phone
	maxTokenInput = 256
)

// holdsPersonal reports whether pw, folded, holds any token of p.
func holdsPersonal(pw string, p Personal) bool {
	s := fold(pw)
	for _, t := range personalTokens(p) {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

// fold is the form in which passwords and personal data are compared:
// lower case, ё as е.
func fold(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "ё", "е")
}

// personalTokens lists the folded substrings of p a password may not hold:
// each run of letters of a name (three or more) and its Latin
// transliterations, the last 7 digits of the phone, and each run of letters
// or digits of the e-mail's local part (three or more), and each run of
// letters within it.
func personalTokens(p Personal) []string {
	var out []string
	add := func(t string) {
		if utf8.RuneCountInString(t) >= minPersonal {
			out = append(out, t)
		}
	}
	for _, n := range p.Names {
		for _, part := range runsOf(clip(n), unicode.IsLetter) {
			part = fold(part)
			add(part)
			for _, tab := range translit {
				add(transliterate(part, tab))
			}
		}
	}
	var digits []rune
	for _, r := range clip(p.Phone) {
		if r >= '0' && r <= '9' {
			digits = append(digits, r)
		}
	}
	if len(digits) >= minPhoneTail {
		out = append(out, string(digits[len(digits)-minPhoneTail:]))
	}
	local := clip(p.Email)
	if at := strings.LastIndexByte(local, '@'); at >= 0 {
		local = local[:at]
	}
	for _, run := range runsOf(local, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		add(fold(run))
		for _, letters := range runsOf(run, unicode.IsLetter) {
			add(fold(letters))
		}
	}
	return out
}

// clip bounds what a hostile caller can make the policy work through.
func clip(s string) string {
	if len(s) > maxTokenInput {
		return s[:maxTokenInput]
	}
	return s
}

// runsOf returns the maximal runs of s whose characters satisfy in.
func runsOf(s string, in func(rune) bool) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !in(r) })
}

// translit holds two transliterations of Russian names to Latin: the one of
// Russian passports (ICAO Doc 9303) and a common one (й y, х h, ю yu, я ya).
var translit = []map[rune]string{
	{
		'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ж': "zh", 'з': "z",
		'и': "i", 'й': "i", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p",
		'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch",
		'ш': "sh", 'щ': "shch", 'ъ': "ie", 'ы': "y", 'ь': "", 'э': "e", 'ю': "iu", 'я': "ia",
	},
	{
		'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ж': "zh", 'з': "z",
		'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p",
		'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "h", 'ц': "ts", 'ч': "ch",
		'ш': "sh", 'щ': "sch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu", 'я': "ya",
	},
}

// transliterate writes a folded word in Latin letters by tab; a word with
// a letter tab does not know is returned as "" (nothing to add).
func transliterate(word string, tab map[rune]string) string {
	var b strings.Builder
	for _, r := range word {
		l, ok := tab[r]
		if !ok {
			return ""
		}
		b.WriteString(l)
	}
	return b.String()
}
