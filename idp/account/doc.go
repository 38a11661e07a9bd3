// Package account holds the rules of a citizen's account data: names,
// dates, documents and the personal-data form of /account/personal (the
// field names of design.md's automation contract). It is pure: no store,
// no HTTP. Every refusal is an *Error whose Key names the message a page
// shows next to the field, in idp/web's catalog.
//
// Files: names.go (last, first and middle names), dates.go (dates, birth
// and issue dates), documents.go (SNILS, INN, OMS, passport, foreign
// documents, driving licence), text.go (issuers, birthplaces, addresses),
// citizenship.go (the ISO 3166 list of data/), personal.go (the form and
// ValidatePersonal), errors.go (the codes).
package account
