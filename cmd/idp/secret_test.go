package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestSecretResealArguments: the job needs a database and a set secret key,
// and refuses a previous key it cannot read, before it touches anything.
func TestSecretResealArguments(t *testing.T) {
	ctx := context.Background()
	var errOut bytes.Buffer
	if err := run(ctx, []string{"secret"}, func(string) string { return "" }, io.Discard, &errOut); !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "idp secret reseal") {
		t.Errorf("idp secret: %v, usage %q", err, errOut.String())
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no database", map[string]string{"IDP_SECRET_KEY": strings.Repeat("ab", 32)}, "IDP_DATABASE_URL"},
		{"no secret key", map[string]string{"IDP_DATABASE_URL": "postgres://db/idp"}, "IDP_SECRET_KEY"},
		{"dev generates no key for it", map[string]string{"IDP_DATABASE_URL": "postgres://db/idp", "IDP_DEV": "true"}, "IDP_SECRET_KEY"},
		{"short previous key", map[string]string{"IDP_DATABASE_URL": "postgres://db/idp", "IDP_SECRET_KEY": strings.Repeat("ab", 32),
			"IDP_SECRET_KEY_PREVIOUS": "short-one"}, "IDP_SECRET_KEY_PREVIOUS"},
	} {
		err := run(ctx, []string{"secret", "reseal"}, func(k string) string { return tc.env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "short-one") {
			t.Errorf("%s: the error echoes the key: %v", tc.name, err)
		}
	}
}
