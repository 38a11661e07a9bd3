// Package signature is the electronic-signature factor: a trust store of
// the accredited certification centres' CA certificates (TrustStore), chain
// verification with crypto/x509 and revocation by OCSP and CRL
// (Revocation: cached, fail-closed unless configured fail-open), the
// subject of the Russian qualified-certificate profile (Person: SNILS, INN,
// OGRN, surname, given names), and the signed-challenge formats a citizen
// may bring: a CMS/PKCS#7 detached signature (github.com/smallstep/pkcs7)
// or a JWS in compact serialization with an x5c header
// (github.com/go-jose/go-jose/v4).
//
// A Verifier judges a certificate the same way whichever route brought it
// (a TLS client certificate, or the signer of a challenge): trusted chain,
// validity, revocation, and a subject that names a citizen (a SNILS).
//
// # Keys
//
// RSA and ECDSA keys are verified by the standard library. GOST R
// 34.10-2012 keys would plug in through the Format (the signature over
// the challenge) and ChainVerifier (the certificate chain) interfaces; no
// maintained Go GOST library is served by the Go module proxy today (the
// gogost modules answer 403 there), so none is built in: a certificate
// with a GOST key is refused as untrusted (its signature algorithm is
// unknown to crypto/x509).
//
// # Qualified certificates
//
// A certificate counts as qualified (Person.Qualified) when it carries
// what the qualified-certificate profile (order of the FSB of Russia No.
// 795) requires of one: the subjectSignTool extension (1.2.643.100.111),
// the issuerSignTool extension (1.2.643.100.112), and a certificate policy
// naming the class of the signature tool (1.2.643.100.113.1 to .6, KC1 to
// KA1). Its amr is "hwk" (Person.HardwareKey) only when that class is KC2
// or above (.113.2 to .6), a certified hardware device; a KC1 tool is
// typically a software key store, and its amr, like that of a certificate
// that is not qualified, is "swk". Only certificates
// chaining to the configured trust store are judged at all, so an
// operator trusts only accredited centres for the qualified marker to mean
// what the law says.
package signature
