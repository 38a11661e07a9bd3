// Package account holds the rules of a citizen's account data: names,
// dates, documents and the personal-data form of /account/personal (the
// field names of design.md's automation contract). It does no I/O: no
// database, no HTTP. Every refusal is an *Error whose Key names the
// message a page shows next to the field, in idp/web's catalog.
package account
