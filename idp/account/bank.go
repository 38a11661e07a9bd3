package account

import (
	"errors"
	"strings"
	"time"

	"github.com/esia-oidc/idp/store"
)

// The confirmed level through a bank. A bank that identified its
// customers in person vouches for a citizen's data; when what it vouches
// for matches the account's checked personal data, the account is
// confirmed with method store.EvidenceBank, like an operator's check in
// person. What must match is the bank's configuration, of four groups:
// the SNILS, the full name, the birth date and the passport (series,
// number and, when the bank gives it, the issue date).

// BankPerson is what a bank vouches for (its verified claims only), with
// dates as YYYY-MM-DD.
type BankPerson struct {
	LastName, FirstName, MiddleName string
	Birthdate                       string
	SNILS                           string
	PassportSeries, PassportNumber  string
	PassportIssueDate               string
}

// The groups of BankMismatches.
const (
	MatchSNILS     = "snils"
	MatchName      = "name"
	MatchBirthdate = "birthdate"
	MatchPassport  = "passport"
)

// Mismatch is one reason a bank's data do not confirm the account: the
// group, and whether the bank did not vouch for it at all (Missing) or
// vouches for something else.
type Mismatch struct {
	Group   string
	Missing bool
}

// BankMismatches compares the bank's data with the account's in the
// groups, in that order; none means they match. A group the account has
// no data for is a mismatch too (nothing to compare with).
func BankMismatches(a *store.Account, p BankPerson, groups []string) []Mismatch {
	var out []Mismatch
	for _, g := range groups {
		var mine, theirs []string
		switch g {
		case MatchSNILS:
			mine, theirs = []string{a.SNILS}, []string{p.SNILS}
		case MatchName:
			mine = []string{foldName(a.LastName), foldName(a.FirstName), foldName(a.MiddleName)}
			theirs = []string{foldName(p.LastName), foldName(p.FirstName), foldName(p.MiddleName)}
		case MatchBirthdate:
			mine, theirs = []string{a.Birthdate}, []string{p.Birthdate}
		case MatchPassport:
			mine = []string{"", ""}
			if d := a.Passport; d != nil {
				mine = []string{digits(d.Series), digits(d.Number)}
				if p.PassportIssueDate != "" {
					mine = append(mine, d.IssueDate)
				}
			}
			theirs = []string{digits(p.PassportSeries), digits(p.PassportNumber)}
			if p.PassportIssueDate != "" {
				theirs = append(theirs, p.PassportIssueDate)
			}
		default:
			out = append(out, Mismatch{Group: g, Missing: true})
			continue
		}
		switch {
		case theirs[0] == "" || (g == MatchPassport && theirs[1] == ""):
			out = append(out, Mismatch{Group: g, Missing: true})
		case strings.Join(mine, "\x00") != strings.Join(theirs, "\x00"):
			out = append(out, Mismatch{Group: g})
		}
	}
	return out
}

// foldName compares names as people write them: case, ё and е, and
// spaces around hyphens do not matter.
func foldName(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	s = strings.ReplaceAll(s, "ё", "е")
	return strings.ReplaceAll(strings.ReplaceAll(s, " -", "-"), "- ", "-")
}

// digits keeps the digits of s (a series typed "45 10").
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// ErrNotConfirmable: the account is not at the standard level with its
// data checked as they are, so nothing can confirm it now.
var ErrNotConfirmable = errors.New("account: not at standard with checked data")

// ConfirmByBank raises the account to confirmed with method bank and a
// piece of evidence (ref names the bank), when it is at standard with its
// data checked as they are now; call it inside the update that also
// compared the data (BankMismatches), so that they cannot change between.
func ConfirmByBank(a *store.Account, ref string, now time.Time) error {
	if a.Level != store.LevelStandard || !Verified(a) {
		return ErrNotConfirmable
	}
	a.Level = store.LevelConfirmed
	a.ConfirmationMethod = store.EvidenceBank
	a.Evidence = append(a.Evidence, store.Evidence{Kind: store.EvidenceBank, At: now, Ref: ref, Digest: CheckedDigest(a)})
	a.UpdatedAt = now
	return nil
}

// ConfirmWaiting raises an account that has just reached standard (a
// registry check passed) to confirmed when evidence of an identification
// in person already vouches for the same data: a bank's, recorded when
// the account was registered through the bank, before the check. It
// reports whether it did.
func ConfirmWaiting(a *store.Account) bool {
	if a.Level != store.LevelStandard || !Verified(a) {
		return false
	}
	for _, e := range CurrentEvidence(a) {
		if e.Kind == store.EvidenceBank {
			a.Level, a.ConfirmationMethod = store.LevelConfirmed, store.EvidenceBank
			return true
		}
	}
	return false
}
