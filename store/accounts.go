package store

import (
	"context"
	"time"
)

// Citizens' accounts: levels, identifiers, personal data and documents,
// the checks that vouch for them, and the contract of their storage.

// Level is an account's assurance level.
type Level string

// Account levels, lowest first.
const (
	LevelSimplified Level = "simplified"
	LevelStandard   Level = "standard"
	LevelConfirmed  Level = "confirmed"
)

// Rank orders levels: simplified 1, standard 2, confirmed 3, anything else 0.
func (l Level) Rank() int {
	switch l {
	case LevelSimplified:
		return 1
	case LevelStandard:
		return 2
	case LevelConfirmed:
		return 3
	}
	return 0
}

// Valid reports whether l is one of the three levels.
func (l Level) Valid() bool { return l.Rank() > 0 }

// IdentifierKind names what a login identifier is.
type IdentifierKind string

// Identifier kinds. Values are stored normalized: phone as +7XXXXXXXXXX,
// e-mail in lower case, SNILS as 11 digits, INN as 10 or 12 digits, a
// Russian passport as its series and number, 10 digits.
const (
	IdentifierPhone    IdentifierKind = "phone"
	IdentifierEmail    IdentifierKind = "email"
	IdentifierSNILS    IdentifierKind = "snils"
	IdentifierINN      IdentifierKind = "inn"
	IdentifierPassport IdentifierKind = "passport"
)

// IdentifierKinds lists every identifier kind; each is unique across
// accounts and can be looked up with FindAccount.
var IdentifierKinds = []IdentifierKind{IdentifierPhone, IdentifierEmail, IdentifierSNILS, IdentifierINN, IdentifierPassport}

// Document types.
const (
	DocPassport       = "passport"         // Russian passport
	DocForeign        = "foreign_document" // a foreign citizen's document
	DocDriversLicence = "drivers_licence"
	DocMedicalPolicy  = "medical_policy" // OMS
)

// Document is an identity or other document of a citizen. Dates are
// YYYY-MM-DD or empty. The store keeps it as it is; validation is the
// caller's.
type Document struct {
	Type           string // one of the Doc* constants
	Series         string
	Number         string
	IssueDate      string
	ExpiryDate     string
	Issuer         string
	DepartmentCode string // NNN-NNN (Russian passport)
}

// EvidenceKind names how a piece of the account's identity was checked.
type EvidenceKind string

// Evidence kinds, also the account's confirmation methods.
const (
	EvidenceRegistry  EvidenceKind = "registry"  // the state registries' check (standard level)
	EvidenceOperator  EvidenceKind = "operator"  // in person at a service centre
	EvidenceLetter    EvidenceKind = "letter"    // a code sent by post
	EvidenceBank      EvidenceKind = "bank"      // a bank's identification
	EvidenceSignature EvidenceKind = "signature" // a qualified electronic signature
)

// VerificationStatus is the state of a registry check.
type VerificationStatus string

// Verification states.
const (
	VerificationPending  VerificationStatus = "pending"
	VerificationApproved VerificationStatus = "approved"
	VerificationRejected VerificationStatus = "rejected"
)

// Verification is the latest check of the account's personal data against
// the state registries.
type Verification struct {
	ID     string
	Status VerificationStatus
	Reason string // why it was rejected; empty otherwise
	// Digest is a hash of the data that were checked, so a later change of
	// them is seen to need another check.
	Digest      string
	RequestedAt time.Time
	DecidedAt   time.Time // zero while pending
}

// Evidence records one way the account's identity was checked.
type Evidence struct {
	Kind   EvidenceKind
	At     time.Time
	Ref    string // what did it: an operator's id, a check's id
	Digest string // hash of the data it vouched for
}

// LetterCode is a confirmation code sent by post; only its hash is kept.
// A voided code (too many wrong tries, or the data it was ordered for
// changed) keeps its record without CodeHash: when it was sent still
// counts.
type LetterCode struct {
	CodeHash []byte
	// Digest is the hash of the checked personal data the letter was
	// ordered for; the code confirms those data only.
	Digest    string
	Address   string
	SentAt    time.Time
	ExpiresAt time.Time
	Attempts  int
}

// Account is a citizen's account. ID is a stable opaque identifier (the
// subject of tokens); it is never a phone number or an e-mail address.
type Account struct {
	ID    string
	Level Level

	LastName   string
	FirstName  string
	MiddleName string
	Birthdate  string // YYYY-MM-DD, or empty
	Gender     string // "M", "F", or empty

	// Normalized identifiers; empty when absent. Each is unique across accounts.
	Phone string
	Email string
	SNILS string

	PhoneVerified bool
	EmailVerified bool

	PasswordHash string // PHC string (argon2id); empty when no password is set

	Birthplace          string
	Citizenship         string // ISO 3166-1 alpha-3, such as RUS
	INN                 string // 10 or 12 digits; unique across accounts
	RegistrationAddress string
	ResidenceAddress    string

	// Passport is the Russian passport; its Series+Number is the
	// IdentifierPassport, unique across accounts.
	Passport        *Document
	ForeignDocument *Document
	DriversLicence  *Document
	MedicalPolicy   *Document

	// ConfirmationMethod is how the account reached the confirmed level;
	// empty below it.
	ConfirmationMethod EvidenceKind
	Verification       *Verification // the latest registry check; nil if none
	Evidence           []Evidence
	Letter             *LetterCode // the live letter code; nil if none

	// Factors are the account's second factors and whether every login
	// needs one; nil when none is enrolled.
	Factors *SecondFactors

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Identifier returns the account's identifier of the given kind.
func (a *Account) Identifier(kind IdentifierKind) string {
	switch kind {
	case IdentifierPhone:
		return a.Phone
	case IdentifierEmail:
		return a.Email
	case IdentifierSNILS:
		return a.SNILS
	case IdentifierINN:
		return a.INN
	case IdentifierPassport:
		if a.Passport == nil {
			return ""
		}
		return a.Passport.Series + a.Passport.Number
	}
	return ""
}

// Clone returns a deep copy of a: nothing it points to is shared.
func (a *Account) Clone() *Account {
	if a == nil {
		return nil
	}
	c := *a
	c.Passport = a.Passport.clone()
	c.ForeignDocument = a.ForeignDocument.clone()
	c.DriversLicence = a.DriversLicence.clone()
	c.MedicalPolicy = a.MedicalPolicy.clone()
	if a.Verification != nil {
		v := *a.Verification
		c.Verification = &v
	}
	if a.Evidence != nil {
		c.Evidence = append([]Evidence(nil), a.Evidence...)
	}
	if a.Letter != nil {
		l := *a.Letter
		if a.Letter.CodeHash != nil {
			l.CodeHash = append([]byte(nil), a.Letter.CodeHash...)
		}
		c.Letter = &l
	}
	c.Factors = a.Factors.Clone()
	return &c
}

// SecondFactors are an account's second factors (beyond the password) and
// its policy.
type SecondFactors struct {
	// TOTP is the authenticator app's secret, sealed (idp/seal, purpose
	// "totp", bound to the account id); nil when not enrolled.
	TOTP *TOTPFactor `json:"totp,omitempty"`
	// Backup holds the keyed hashes of the unused backup codes; nil when
	// none were made.
	Backup *BackupCodes `json:"backup,omitempty"`
	// Codes names the confirmed contact a login code is sent to as a
	// second factor: CodeChannelSMS (the phone) or CodeChannelEmail; empty
	// when off.
	Codes string `json:"codes,omitempty"`
	// Required: every login of the account needs a second factor, whatever
	// the client asks.
	Required bool `json:"required,omitempty"`
	// Banks are the bank logins linked to the account (factors/bank): a
	// way to log in, not a second factor; nil when none.
	Banks []BankLink `json:"banks,omitempty"`
	// Certificates are the electronic-signature certificates bound to the
	// account (factors/signature): the signature login accepts these. They
	// are a way to log in, not a second factor asked after a password.
	Certificates []BoundCertificate `json:"certificates,omitempty"`
}

// BankLink is a bank login linked to the account: the connector's id and
// the bank's subject for the citizen. A (Connector, Subject) pair names
// one account at most (BankLinks.FindAccountByBank).
type BankLink struct {
	Connector string    `json:"connector"`
	Subject   string    `json:"subject"`
	LinkedAt  time.Time `json:"linked_at"`
}

// BankLinks finds accounts by a linked bank login.
type BankLinks interface {
	// FindAccountByBank returns the account that linked the connector's
	// subject, or ErrNotFound.
	FindAccountByBank(ctx context.Context, connector, subject string) (*Account, error)
}

// Bank returns the account's link of the connector, or nil.
func (f *SecondFactors) Bank(connector string) *BankLink {
	if f == nil {
		return nil
	}
	for i := range f.Banks {
		if f.Banks[i].Connector == connector {
			return &f.Banks[i]
		}
	}
	return nil
}

// Empty reports whether nothing is kept: no second factor, no policy, no
// linked bank, no bound certificate (the account's Factors may then be nil).
func (f *SecondFactors) Empty() bool {
	return f == nil || (!f.Any() && !f.Required && len(f.Banks) == 0 && len(f.Certificates) == 0)
}

// BoundCertificate is a certificate bound to an account by its first use
// after the password.
type BoundCertificate struct {
	Fingerprint string    `json:"fingerprint"` // SHA-256 of the DER, hex
	Subject     string    `json:"subject"`
	Serial      string    `json:"serial"` // hex
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"not_after"`
	Qualified   bool      `json:"qualified"`
	BoundAt     time.Time `json:"bound_at"`
}

// Certificate returns the bound certificate of the fingerprint, or nil.
func (f *SecondFactors) Certificate(fingerprint string) *BoundCertificate {
	if f == nil {
		return nil
	}
	for i := range f.Certificates {
		if f.Certificates[i].Fingerprint == fingerprint {
			return &f.Certificates[i]
		}
	}
	return nil
}

// The channels of the code factor.
const (
	CodeChannelSMS   = "sms"
	CodeChannelEmail = "email"
)

// TOTPFactor is an enrolled authenticator app.
type TOTPFactor struct {
	Sealed     []byte    `json:"sealed"`
	EnrolledAt time.Time `json:"enrolled_at"`
}

// BackupCodes are the keyed hashes of an account's unused backup codes; a
// used code's hash is removed in the transaction that accepts it.
type BackupCodes struct {
	Hashes    []string  `json:"hashes"`
	CreatedAt time.Time `json:"created_at"`
}

// Any reports whether any second factor is enrolled.
func (f *SecondFactors) Any() bool {
	return f != nil && (f.TOTP != nil || f.Codes != "" || (f.Backup != nil && len(f.Backup.Hashes) > 0))
}

// Clone returns a deep copy (nil for nil).
func (f *SecondFactors) Clone() *SecondFactors {
	if f == nil {
		return nil
	}
	c := *f
	if f.TOTP != nil {
		t := *f.TOTP
		t.Sealed = append([]byte(nil), f.TOTP.Sealed...)
		c.TOTP = &t
	}
	if f.Backup != nil {
		b := *f.Backup
		b.Hashes = append([]string(nil), f.Backup.Hashes...)
		c.Backup = &b
	}
	if f.Banks != nil {
		c.Banks = append([]BankLink(nil), f.Banks...)
	}
	if f.Certificates != nil {
		c.Certificates = append([]BoundCertificate(nil), f.Certificates...)
	}
	return &c
}

func (d *Document) clone() *Document {
	if d == nil {
		return nil
	}
	c := *d
	return &c
}

// Accounts stores citizens' accounts.
type Accounts interface {
	// CreateAccount stores a new account. ErrConflict when the ID or any of
	// its identifiers is already taken.
	CreateAccount(ctx context.Context, a *Account) error
	// GetAccount returns the account with the ID, or ErrNotFound.
	GetAccount(ctx context.Context, id string) (*Account, error)
	// FindAccount returns the account holding the normalized identifier, or ErrNotFound.
	FindAccount(ctx context.Context, kind IdentifierKind, value string) (*Account, error)
	// UpdateAccount reads the account, applies update and writes the result in
	// one transaction. If update returns an error nothing is written and that
	// error is returned. ErrConflict when the update takes an identifier that
	// another account holds. The ID and CreatedAt cannot be changed.
	UpdateAccount(ctx context.Context, id string, update func(*Account) error) (*Account, error)
	// DeleteAccount removes the account and its remembered consents, and
	// frees its identifiers; ErrNotFound when absent. It does not remove
	// what other stores hold for the account (grants and tokens, SSO
	// sessions, counters, audit events): the caller revokes those.
	DeleteAccount(ctx context.Context, id string) error
}
