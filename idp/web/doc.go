// Package web holds the hosted pages of the identity provider: the embedded
// html/template pages (login, consent, logout, logged out, error) with their
// layout, the Russian and English message catalog, language selection, the
// static assets (CSS, icon) and the double-submit CSRF tokens that every form
// carries.
//
// The pages work without JavaScript and carry no inline script or style, so
// they run under a Content-Security-Policy that forbids both. One
// same-origin script exists (static/pow.js): it solves the proof of work
// the recovery page asks after repeated attempts. Handlers render
// through a Renderer; user-facing messages are catalog keys, and internal
// causes of errors are only logged, never shown.
package web
