// Package data holds the data files of idp/account, embedded by it:
// citizenships.tsv (ISO 3166-1 alpha-3 codes with Russian and English names,
// and XXA for stateless persons), written by gen.go from golang.org/x/text's
// CLDR names (see README.md). It has no code of its own.
package data
