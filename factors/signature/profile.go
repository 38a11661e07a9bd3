package signature

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/identifier"
)

// Object identifiers of the Russian qualified-certificate profile (order
// of the FSB of Russia No. 795) and of X.520.
var (
	OIDSNILS  = asn1.ObjectIdentifier{1, 2, 643, 100, 3}
	OIDINN    = asn1.ObjectIdentifier{1, 2, 643, 3, 131, 1, 1}
	OIDINNLE  = asn1.ObjectIdentifier{1, 2, 643, 100, 4} // a legal entity's INN
	OIDOGRN   = asn1.ObjectIdentifier{1, 2, 643, 100, 1}
	OIDOGRNIP = asn1.ObjectIdentifier{1, 2, 643, 100, 5} // an individual entrepreneur's OGRN
	OIDSN     = asn1.ObjectIdentifier{2, 5, 4, 4}        // surname
	OIDGN     = asn1.ObjectIdentifier{2, 5, 4, 42}       // given name and patronymic
	OIDCN     = asn1.ObjectIdentifier{2, 5, 4, 3}

	// OIDSubjectSignTool and OIDIssuerSignTool are the extensions naming
	// the certified signature tools of the owner and of the centre.
	OIDSubjectSignTool = asn1.ObjectIdentifier{1, 2, 643, 100, 111}
	OIDIssuerSignTool  = asn1.ObjectIdentifier{1, 2, 643, 100, 112}
	// OIDPolicyKC1 .. OIDPolicyKA1 are the certificate policies naming the
	// class of the owner's signature tool.
	OIDPolicyKC1 = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 1}
	OIDPolicyKC2 = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 2}
	OIDPolicyKC3 = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 3}
	OIDPolicyKB1 = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 4}
	OIDPolicyKB2 = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 5}
	OIDPolicyKA1 = asn1.ObjectIdentifier{1, 2, 643, 100, 113, 6}
)

// qualifiedPolicies are the signature-tool classes of a qualified
// certificate; hardwarePolicies those of them (KC2 and above) whose tool
// is a certified device: KC1 is typically a software key store.
var (
	qualifiedPolicies = []asn1.ObjectIdentifier{OIDPolicyKC1, OIDPolicyKC2, OIDPolicyKC3, OIDPolicyKB1, OIDPolicyKB2, OIDPolicyKA1}
	hardwarePolicies  = qualifiedPolicies[1:]
)

// Person is the citizen a certificate names, normalized: SNILS as 11
// digits, INN as 10 or 12 digits (empty when the certificate has none, or
// one that does not check), OGRN as given, names as account.NormalizeName
// keeps them.
type Person struct {
	SNILS      string
	INN        string
	OGRN       string
	LastName   string
	FirstName  string
	MiddleName string
	CommonName string
	// Qualified: the certificate carries the qualified-certificate marker
	// (see the package documentation).
	Qualified bool
	// HardwareKey: the certificate is qualified and its signature-tool
	// class (KC2 and above) implies a certified hardware device.
	HardwareKey bool
}

// maxAttr bounds the subject attributes worth reading.
const maxAttr = 256

// ParsePerson reads the subject of a certificate in the qualified profile.
// It fails (ErrNoIdentity) when the certificate names no SNILS that
// checks: without one no account can be found for it. Other fields are
// read when present and well formed, and left empty otherwise.
func ParsePerson(c *x509.Certificate) (Person, error) {
	var p Person
	for _, n := range c.Subject.Names {
		v, ok := attrString(n)
		if !ok {
			continue
		}
		switch {
		case n.Type.Equal(OIDSNILS):
			if s, err := identifier.NormalizeSNILS(v); err == nil {
				p.SNILS = s
			}
		case n.Type.Equal(OIDINN):
			p.INN = normalizeINN(v)
		case n.Type.Equal(OIDOGRN), n.Type.Equal(OIDOGRNIP):
			if digitsOnly(v) && (len(v) == 13 || len(v) == 15) {
				p.OGRN = v
			}
		case n.Type.Equal(OIDSN):
			if s, err := account.NormalizeName(v, true); err == nil {
				p.LastName = s
			}
		case n.Type.Equal(OIDGN):
			// "Имя Отчество": the first word is the given name, the rest
			// the patronymic.
			first, middle, _ := strings.Cut(strings.TrimSpace(v), " ")
			if s, err := account.NormalizeName(first, true); err == nil {
				p.FirstName = s
			}
			if s, err := account.NormalizeName(middle, true); err == nil {
				p.MiddleName = s
			}
		case n.Type.Equal(OIDCN):
			p.CommonName = strings.TrimSpace(v)
		}
	}
	p.Qualified = Qualified(c)
	p.HardwareKey = HardwareKey(c)
	if p.SNILS == "" {
		return p, ErrNoIdentity
	}
	return p, nil
}

// attrString is the value of a subject attribute as a string (the
// profile's attributes are UTF8String, PrintableString or NumericString,
// which crypto/x509 all decodes to string).
func attrString(n pkix.AttributeTypeAndValue) (string, bool) {
	s, ok := n.Value.(string)
	if !ok || len(s) > maxAttr || !utf8.ValidString(s) {
		return "", false
	}
	return s, true
}

// normalizeINN keeps an INN whose control digits hold; a legal entity's
// 10-digit INN is sometimes written with two leading zeros in the
// individual's attribute, which are dropped.
func normalizeINN(v string) string {
	v = strings.TrimSpace(v)
	if len(v) == 12 && strings.HasPrefix(v, "00") && identifier.ValidINN(v[2:]) {
		return v[2:]
	}
	if identifier.ValidINN(v) {
		return v
	}
	return ""
}

func digitsOnly(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// Qualified reports whether the certificate carries the marker of the
// qualified profile: both sign-tool extensions and a signature-tool class
// policy.
func Qualified(c *x509.Certificate) bool { return markedWith(c, qualifiedPolicies) }

// HardwareKey reports whether the certificate is qualified with a
// signature-tool class of KC2 or above (1.2.643.100.113.2 to .6): its key
// is kept in a certified hardware device. A KC1 tool is typically a
// software key store.
func HardwareKey(c *x509.Certificate) bool { return markedWith(c, hardwarePolicies) }

// markedWith reports whether the certificate carries both sign-tool
// extensions and one of the policies.
func markedWith(c *x509.Certificate, policies []asn1.ObjectIdentifier) bool {
	var subjectTool, issuerTool bool
	for _, e := range c.Extensions {
		switch {
		case e.Id.Equal(OIDSubjectSignTool):
			subjectTool = true
		case e.Id.Equal(OIDIssuerSignTool):
			issuerTool = true
		}
	}
	if !subjectTool || !issuerTool {
		return false
	}
	for _, p := range c.Policies {
		if slices.ContainsFunc(policies, p.EqualASN1OID) {
			return true
		}
	}
	return slices.ContainsFunc(c.PolicyIdentifiers, func(id asn1.ObjectIdentifier) bool {
		return slices.ContainsFunc(policies, id.Equal)
	})
}

// Matches reports whether the person's SNILS and full name are the given
// ones: names compared without regard to case, and ё as е (the
// registries and centres differ in both).
func (p Person) Matches(snils, last, first, middle string) bool {
	return p.SNILS != "" && p.SNILS == snils &&
		account.SameName(p.LastName, last) && account.SameName(p.FirstName, first) && account.SameName(p.MiddleName, middle)
}

// String is the person for logs: no SNILS or INN in full.
func (p Person) String() string {
	tail := ""
	if len(p.SNILS) == 11 {
		tail = p.SNILS[9:]
	}
	return fmt.Sprintf("person(qualified=%t, snils=*********%s)", p.Qualified, tail)
}
