package e2e

import (
	"os"
	"testing"

	"github.com/esia-oidc/idp/internal/testserver"
)

// TestMain removes the idp binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	testserver.RemoveBinary()
	os.Exit(code)
}
