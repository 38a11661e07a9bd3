package account

import (
	"errors"
	"testing"
	"time"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// now is 12:00 in Moscow on 3 December 2026.
var now = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		err  *Error
	}{
		{"17.05.1990", date(1990, 5, 17), nil},
		{" 17.05.1990 ", date(1990, 5, 17), nil},
		{"7.5.1990", date(1990, 5, 7), nil},
		{"1990-05-17", date(1990, 5, 17), nil},
		{"29.02.2000", date(2000, 2, 29), nil},
		{"2024-02-29", date(2024, 2, 29), nil},
		{"31.12.9999", date(9999, 12, 31), nil},
		{"", time.Time{}, ErrRequired},
		{"  ", time.Time{}, ErrRequired},
		{"17/05/1990", time.Time{}, ErrDateFormat},
		{"17.05.90", time.Time{}, ErrDateFormat},
		{"1990-5-17", time.Time{}, ErrDateFormat},
		{"17.05.1990г", time.Time{}, ErrDateFormat},
		{"17 мая 1990", time.Time{}, ErrDateFormat},
		{"１７.05.1990", time.Time{}, ErrDateFormat},
		{"1990-05-17T00:00:00Z", time.Time{}, ErrDateFormat},
		{"29.02.2001", time.Time{}, ErrDateInvalid},
		{"31.04.2001", time.Time{}, ErrDateInvalid},
		{"00.01.2001", time.Time{}, ErrDateInvalid},
		{"01.13.2001", time.Time{}, ErrDateInvalid},
		{"2001-00-10", time.Time{}, ErrDateInvalid},
		{"01.01.0000", time.Time{}, ErrDateInvalid},
	} {
		got, err := ParseDate(tc.in)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || !got.IsZero() {
				t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatDate(t *testing.T) {
	if got := FormatDate(date(1990, 5, 7)); got != "07.05.1990" {
		t.Fatalf("FormatDate = %q", got)
	}
	if got := FormatDate(date(12, 1, 2)); got != "02.01.0012" {
		t.Fatalf("FormatDate = %q", got)
	}
}

func TestParseBirthDate(t *testing.T) {
	for _, tc := range []struct {
		in  string
		now time.Time
		err *Error
	}{
		{"17.05.1990", now, nil},
		{"03.12.2026", now, nil}, // born today
		{"04.12.2026", time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC), nil}, // already 4 December in Kamchatka
		{"04.12.2026", now, ErrBirthFuture},
		{"01.01.2030", now, ErrBirthFuture},
		{"03.12.1896", now, nil}, // 130 years today
		{"02.12.1896", now, ErrBirthTooOld},
		{"01.01.1000", now, ErrBirthTooOld},
		{"32.01.2000", now, ErrDateInvalid},
		{"2000", now, ErrDateFormat},
		{"", now, ErrRequired},
	} {
		got, err := ParseBirthDate(tc.in, tc.now)
		if tc.err == nil {
			if err != nil || got.IsZero() {
				t.Errorf("ParseBirthDate(%q) = %v, %v", tc.in, got, err)
			}
			continue
		}
		if !errors.Is(err, tc.err) || !got.IsZero() {
			t.Errorf("ParseBirthDate(%q) = %v, %v; want %v", tc.in, got, err, tc.err)
		}
	}
}

func TestIssueDates(t *testing.T) {
	birth := date(2000, 5, 17)
	leap := date(2008, 2, 29)
	for _, tc := range []struct {
		name   string
		check  func(issued, birth, now time.Time) error
		issued time.Time
		birth  time.Time
		err    *Error
	}{
		{"passport on the 14th birthday", CheckPassportIssueDate, date(2014, 5, 17), birth, nil},
		{"passport later", CheckPassportIssueDate, date(2020, 6, 1), birth, nil},
		{"passport the day before 14", CheckPassportIssueDate, date(2014, 5, 16), birth, ErrIssueBefore14},
		{"passport as a child", CheckPassportIssueDate, date(2005, 1, 1), birth, ErrIssueBefore14},
		{"passport today", CheckPassportIssueDate, date(2026, 12, 3), birth, nil},
		{"passport tomorrow", CheckPassportIssueDate, date(2026, 12, 4), birth, ErrIssueFuture},
		{"passport, birth unknown", CheckPassportIssueDate, date(1990, 1, 1), time.Time{}, nil},
		{"passport, 29 February born, 28 February at 14", CheckPassportIssueDate, date(2022, 2, 28), leap, nil},
		{"passport, 29 February born, the day before", CheckPassportIssueDate, date(2022, 2, 27), leap, ErrIssueBefore14},
		{"passport, future before birth check", CheckPassportIssueDate, date(2030, 1, 1), date(2020, 1, 1), ErrIssueFuture},
		{"other document on the birth day", CheckIssueDate, birth, birth, nil},
		{"other document before birth", CheckIssueDate, date(2000, 5, 16), birth, ErrIssueBeforeBirth},
		{"other document in the future", CheckIssueDate, date(2027, 1, 1), birth, ErrIssueFuture},
		{"licence on the 16th birthday", CheckLicenceIssueDate, date(2016, 5, 17), birth, nil},
		{"licence at 15", CheckLicenceIssueDate, date(2015, 6, 1), birth, ErrIssueBefore16},
		{"licence in the future", CheckLicenceIssueDate, date(2027, 6, 1), birth, ErrIssueFuture},
	} {
		if err := tc.check(tc.issued, tc.birth, now); tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestCheckExpiryDate(t *testing.T) {
	if err := CheckExpiryDate(date(2030, 1, 1), date(2020, 1, 1)); err != nil {
		t.Errorf("later expiry: %v", err)
	}
	if err := CheckExpiryDate(date(2020, 1, 1), date(2020, 1, 1)); !errors.Is(err, ErrExpiryBeforeIssue) {
		t.Errorf("same day: %v", err)
	}
	if err := CheckExpiryDate(date(2019, 1, 1), date(2020, 1, 1)); !errors.Is(err, ErrExpiryBeforeIssue) {
		t.Errorf("earlier: %v", err)
	}
}
