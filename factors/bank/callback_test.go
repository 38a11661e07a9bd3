package bank

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseCallback(t *testing.T) {
	for _, c := range []struct {
		query string
		want  Callback
		err   bool
	}{
		{query: "state=s1&code=c1", want: Callback{State: "s1", Code: "c1"}},
		{query: "state=s1&code=c1&iss=https%3A%2F%2Fbank.example", want: Callback{State: "s1", Code: "c1", Issuer: "https://bank.example"}},
		{query: "state=s1&error=access_denied&error_description=no", want: Callback{State: "s1", Error: "access_denied"}},
		{query: "state=s1&error=%3Cscript%3E", want: Callback{State: "s1", Error: "invalid_error"}},
		{query: "code=c1", err: true},
		{query: "state=s1", err: true},
		{query: "state=s1&code=c1&error=access_denied", err: true},
		{query: "state=s1&state=s2&code=c1", err: true},
		{query: "state=s1&code=c1&code=c2", err: true},
		{query: "state=s%201&code=c1", err: true},
		{query: "state=s1&code=c%0A1", err: true},
		{query: "state=" + strings.Repeat("s", maxState+1) + "&code=c1", err: true},
	} {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseCallback(q)
		if c.err {
			if !errors.Is(err, ErrCallback) {
				t.Errorf("ParseCallback(%s) = %+v, %v; want ErrCallback", c.query, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseCallback(%s) = %+v, %v; want %+v", c.query, got, err, c.want)
		}
	}
}
