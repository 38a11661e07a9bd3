package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
)

// commonText is the list of common passwords: one a line, lower case
// (data/README.md says where it comes from and under which licence).
//
//go:embed data/common-passwords.txt
var commonText string

var commonSet = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	for _, w := range strings.Split(commonText, "\n") {
		if w = strings.TrimSpace(w); w != "" {
			m[w] = struct{}{}
		}
	}
	return m
})

// isCommon reports whether pw, folded to lower case, is on the list: as
// typed, as typed with the Russian layout on instead of the Latin one, or
// with the digits, marks and spaces at its ends stripped.
func isCommon(pw string) bool {
	set := commonSet()
	lower := strings.ToLower(pw)
	for _, w := range []string{lower, fromRussianLayout(lower)} {
		if _, ok := set[w]; ok {
			return true
		}
		core := strings.TrimFunc(w, func(r rune) bool { return !unicode.IsLetter(r) })
		if _, ok := set[core]; ok && len(core) >= 4 {
			return true
		}
	}
	return false
}

// russianKeys and latinKeys are the same keys of the ЙЦУКЕН and QWERTY
// layouts, lower case.
const (
	russianKeys = "йцукенгшщзхъфывапролджэячсмитьбюё"
	latinKeys   = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
)

var russianToLatin = func() map[rune]rune {
	ru, la := []rune(russianKeys), []rune(latinKeys)
	m := make(map[rune]rune, len(ru))
	for i := range ru {
		m[ru[i]] = la[i]
	}
	return m
}()

// fromRussianLayout returns what s would be had it been typed on the same
// keys with the Latin layout on ("йцукен" → "qwerty").
func fromRussianLayout(s string) string {
	return strings.Map(func(r rune) rune {
		if l, ok := russianToLatin[r]; ok {
			return l
		}
		return r
	}, s)
}
