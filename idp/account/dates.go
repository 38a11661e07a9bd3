package account

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Date layouts: what a citizen types, and what an <input type="date">, the
// OpenID Connect birthdate claim and Personal's normalized values use.
const (
	DateLayout    = "02.01.2006"
	DateLayoutISO = time.DateOnly // 2006-01-02
)

// MaxAge is the oldest a citizen's birth date may make them, in years.
const MaxAge = 130

var (
	dottedDate = regexp.MustCompile(`^([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})$`)
	isoDate    = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})$`)
)

// ParseDate reads a date typed as DD.MM.YYYY (day and month may have one
// digit) or YYYY-MM-DD, around white space, and returns midnight UTC of
// that day. Errors: ErrRequired for nothing typed, ErrDateFormat for
// another shape, ErrDateInvalid for a day that does not exist (31.02.2000,
// year 0000).
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrRequired
	}
	var y, m, d string
	if p := dottedDate.FindStringSubmatch(s); p != nil {
		d, m, y = p[1], p[2], p[3]
	} else if p := isoDate.FindStringSubmatch(s); p != nil {
		y, m, d = p[1], p[2], p[3]
	} else {
		return time.Time{}, ErrDateFormat
	}
	year, _ := strconv.Atoi(y)
	month, _ := strconv.Atoi(m)
	day, _ := strconv.Atoi(d)
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if year < 1 || month < 1 || day < 1 || t.Day() != day || int(t.Month()) != month {
		return time.Time{}, ErrDateInvalid
	}
	return t, nil
}

// FormatDate writes the day of t as a citizen reads it: DD.MM.YYYY.
func FormatDate(t time.Time) string { return t.Format(DateLayout) }

// latestZone is where in Russia the date changes first (Kamchatka): a
// date is in the future only when it is after today there, so that no
// citizen's today counts as the future.
var latestZone = time.FixedZone("UTC+12", 12*60*60)

// today returns the date of now in latestZone, as midnight UTC.
func today(now time.Time) time.Time {
	y, m, d := now.In(latestZone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// day returns the calendar day of t (in t's location) as midnight UTC.
func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// birthday returns the day birth turns years old; one born on 29 February
// turns it on 28 February of a common year.
func birthday(birth time.Time, years int) time.Time {
	y, m, d := birth.Date()
	t := time.Date(y+years, m, d, 0, 0, 0, 0, time.UTC)
	if t.Month() != m {
		t = time.Date(y+years, m, d-1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

// ParseBirthDate reads a birth date as ParseDate does and refuses one
// after today (ErrBirthFuture) or more than MaxAge years ago
// (ErrBirthTooOld).
func ParseBirthDate(s string, now time.Time) (time.Time, error) {
	t, err := ParseDate(s)
	if err != nil {
		return time.Time{}, err
	}
	td := today(now)
	switch {
	case t.After(td):
		return time.Time{}, ErrBirthFuture
	case t.Before(birthday(td, -MaxAge)):
		return time.Time{}, ErrBirthTooOld
	}
	return t, nil
}

// CheckIssueDate checks the issue date of a document: not after today
// (ErrIssueFuture), not before its holder's birth (ErrIssueBeforeBirth).
// A zero birth (unknown) skips the second check.
func CheckIssueDate(issued, birth, now time.Time) error {
	return checkIssue(issued, birth, now, 0, ErrIssueBeforeBirth)
}

// CheckPassportIssueDate checks the issue date of a Russian passport: not
// after today (ErrIssueFuture), not before the 14th birthday
// (ErrIssueBefore14). A zero birth (unknown) skips the second check.
func CheckPassportIssueDate(issued, birth, now time.Time) error {
	return checkIssue(issued, birth, now, 14, ErrIssueBefore14)
}

// CheckLicenceIssueDate checks the issue date of a Russian driving
// licence: not after today (ErrIssueFuture), not before the 16th birthday
// (ErrIssueBefore16, the youngest age of any category). A zero birth
// (unknown) skips the second check.
func CheckLicenceIssueDate(issued, birth, now time.Time) error {
	return checkIssue(issued, birth, now, 16, ErrIssueBefore16)
}

func checkIssue(issued, birth, now time.Time, age int, tooEarly *Error) error {
	issued = day(issued)
	if issued.After(today(now)) {
		return ErrIssueFuture
	}
	if !birth.IsZero() && issued.Before(birthday(day(birth), age)) {
		return tooEarly
	}
	return nil
}

// CheckExpiryDate checks that a document expires after it was issued
// (ErrExpiryBeforeIssue). An expired document is not refused here.
func CheckExpiryDate(expires, issued time.Time) error {
	if !day(expires).After(day(issued)) {
		return ErrExpiryBeforeIssue
	}
	return nil
}
