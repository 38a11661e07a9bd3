//go:build ignore

// gen.go writes citizenships.tsv: the ISO 3166-1 countries as alpha-3 code,
// Russian name and English name, from the CLDR data of golang.org/x/text,
// sorted by code, and ICAO's XXA (Doc 9303) for stateless persons. A few
// names are set here where CLDR's are missing or out of date. Run from this
// folder: go run gen.go > citizenships.tsv
package main

import (
	"fmt"
	"sort"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// reserved are the exceptionally reserved codes of ISO 3166-1, which CLDR
// counts as regions but which are no country of their own.
var reserved = map[string]bool{"AC": true, "CP": true, "DG": true, "EA": true, "IC": true, "TA": true}

// withdrawn are codes of ISO 3166-3 (formerly used) that CLDR still holds.
var withdrawn = map[string]bool{"ANT": true, "NTZ": true, "PCI": true, "SCG": true, "SUN": true, "YUG": true}

// names replace CLDR names that are missing or that ISO 3166-1 has changed
// since.
var names = map[string][2]string{
	"ATF": {"Французские Южные территории", "French Southern Territories"},
	"MKD": {"Северная Македония", "North Macedonia"},
	"SWZ": {"Эсватини", "Eswatini"},
}

func main() {
	type row struct{ code, ru, en string }
	var rows []row
	seen := map[string]bool{}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			r, err := language.ParseRegion(string([]rune{a, b}))
			if err != nil || !r.IsCountry() || r.IsPrivateUse() || r.Canonicalize() != r || reserved[r.String()] {
				continue
			}
			code := r.ISO3()
			if len(code) != 3 || code == "ZZZ" || code[0] == 'X' || withdrawn[code] || seen[code] {
				continue
			}
			seen[code] = true
			ru, en := display.Russian.Regions().Name(r), display.English.Regions().Name(r)
			if n, ok := names[code]; ok {
				ru, en = n[0], n[1]
			}
			if ru == "" || en == "" {
				panic("no name for " + code)
			}
			rows = append(rows, row{code, ru, en})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].code < rows[j].code })
	for _, r := range rows {
		fmt.Printf("%s\t%s\t%s\n", r.code, r.ru, r.en)
	}
	fmt.Printf("XXA\tЛицо без гражданства\tStateless person\n")
}
