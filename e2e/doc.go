// Package e2e holds the end-to-end tests: they build cmd/idp, run it on
// PostgreSQL and Redis (internal/testserver) and act as relying parties with
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2, as browserless agents
// on the hosted pages, and (browser_test.go) as a citizen in Chromium.
package e2e
