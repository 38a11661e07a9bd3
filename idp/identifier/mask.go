package identifier

import "github.com/esia-oidc/idp/store"

// Mask shows a normalized phone or e-mail as a page may name a contact
// without spelling it out: "+7 912 ***-**-67", "iv***@example.ru".
func Mask(kind store.IdentifierKind, id string) string {
	switch kind {
	case store.IdentifierPhone:
		if len(id) == 12 { // +7XXXXXXXXXX
			return id[:2] + " " + id[2:5] + " ***-**-" + id[10:]
		}
	case store.IdentifierEmail:
		for i := 0; i < len(id); i++ {
			if id[i] == '@' {
				if i <= 2 {
					return id[:1] + "***" + id[i:]
				}
				return id[:2] + "***" + id[i:]
			}
		}
	}
	return id
}
