package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestSecretKeyBytes(t *testing.T) {
	t.Parallel()
	hex64 := strings.Repeat("0f", 32)
	tests := []struct {
		key  string
		want []byte
	}{
		{hex64, []byte(strings.Repeat("\x0f", 32))},
		{"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", []byte("0123456789abcdef0123456789abcdef")},     // base64
		{"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", []byte("0123456789abcdef0123456789abcdef")},      // unpadded
		{"correct horse battery staple, but longer", []byte("correct horse battery staple, but longer")}, // raw
		{strings.Repeat("0f", 31), []byte(strings.Repeat("0f", 31))},                                     // 62 hex digits: raw
		{"short", nil},
		{"MDEyMzQ1Njc4OWFiY2RlZg==", nil}, // base64 of 16 bytes, 24 chars raw
		{"", nil},
	}
	for _, tt := range tests {
		c := &Config{SecretKey: tt.key}
		if got := c.SecretKeyBytes(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SecretKeyBytes(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
