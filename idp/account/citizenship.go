package account

import (
	_ "embed"
	"strings"
	"sync"
)

// DefaultCitizenship is the citizenship a form starts with.
const DefaultCitizenship = "RUS"

// Country is a choice of the citizenship field: an ISO 3166-1 alpha-3 code
// (or XXA, stateless) and its names.
type Country struct {
	Code   string // RUS
	NameRU string // Россия
	NameEN string // Russia
}

//go:embed data/citizenships.tsv
var citizenshipsTSV string

var citizenships = sync.OnceValues(func() ([]Country, map[string]bool) {
	var list []Country
	codes := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(citizenshipsTSV), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			panic("account: malformed line in data/citizenships.tsv: " + line)
		}
		list = append(list, Country{Code: f[0], NameRU: f[1], NameEN: f[2]})
		codes[f[0]] = true
	}
	return list, codes
})

// Citizenships returns the choices of the citizenship field (a fresh copy):
// Russia first, then every other ISO 3166-1 country by code, and XXA
// (stateless person, ICAO Doc 9303) last. A page sorts them by name in its
// language if it wishes.
func Citizenships() []Country {
	list, _ := citizenships()
	out := make([]Country, 0, len(list))
	for _, c := range list {
		if c.Code == DefaultCitizenship {
			out = append(out, c)
		}
	}
	for _, c := range list {
		if c.Code != DefaultCitizenship {
			out = append(out, c)
		}
	}
	return out
}

// NormalizeCitizenship returns a citizenship code upper-cased, when it is
// one of Citizenships. Errors: ErrRequired, ErrCitizenship.
func NormalizeCitizenship(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return "", ErrRequired
	}
	if _, codes := citizenships(); !codes[s] {
		return "", ErrCitizenship
	}
	return s, nil
}
