package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/esia-oidc/idp/store"
)

// The documents, the verification, the evidence and the letter code of an
// account are jsonb columns. These types fix their JSON shape apart from
// the Go field names of package store.

type dbDocument struct {
	Type           string `json:"type,omitempty"`
	Series         string `json:"series,omitempty"`
	Number         string `json:"number,omitempty"`
	IssueDate      string `json:"issue_date,omitempty"`
	ExpiryDate     string `json:"expiry_date,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	DepartmentCode string `json:"department_code,omitempty"`
}

// dbDocuments is the documents column; the passport is there too, and its
// series and number also in the passport column (the unique identifier).
type dbDocuments struct {
	Passport        *dbDocument `json:"passport,omitempty"`
	ForeignDocument *dbDocument `json:"foreign_document,omitempty"`
	DriversLicence  *dbDocument `json:"drivers_licence,omitempty"`
	MedicalPolicy   *dbDocument `json:"medical_policy,omitempty"`
}

type dbVerification struct {
	ID          string     `json:"id"`
	Status      string     `json:"status"`
	Reason      string     `json:"reason,omitempty"`
	Digest      string     `json:"digest,omitempty"`
	RequestedAt *time.Time `json:"requested_at,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
}

type dbEvidence struct {
	Kind   string     `json:"kind"`
	At     *time.Time `json:"at,omitempty"`
	Ref    string     `json:"ref,omitempty"`
	Digest string     `json:"digest,omitempty"`
}

type dbLetter struct {
	CodeHash  []byte     `json:"code_hash,omitempty"`
	Digest    string     `json:"digest,omitempty"`
	Address   string     `json:"address,omitempty"`
	SentAt    *time.Time `json:"sent_at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Attempts  int        `json:"attempts,omitempty"`
}

func toDBDocument(d *store.Document) *dbDocument {
	if d == nil {
		return nil
	}
	return &dbDocument{d.Type, d.Series, d.Number, d.IssueDate, d.ExpiryDate, d.Issuer, d.DepartmentCode}
}

func fromDBDocument(d *dbDocument) *store.Document {
	if d == nil {
		return nil
	}
	return &store.Document{Type: d.Type, Series: d.Series, Number: d.Number, IssueDate: d.IssueDate,
		ExpiryDate: d.ExpiryDate, Issuer: d.Issuer, DepartmentCode: d.DepartmentCode}
}

// personalJSON holds the jsonb columns of an account; nil pointers are SQL NULL.
type personalJSON struct {
	documents    []byte
	verification []byte // nil: NULL
	evidence     []byte
	letter       []byte // nil: NULL
	factors      []byte // nil: NULL
}

// encodePersonal returns the jsonb columns of a.
func encodePersonal(a *store.Account) (personalJSON, error) {
	var p personalJSON
	var err error
	p.documents, err = json.Marshal(dbDocuments{
		Passport:        toDBDocument(a.Passport),
		ForeignDocument: toDBDocument(a.ForeignDocument),
		DriversLicence:  toDBDocument(a.DriversLicence),
		MedicalPolicy:   toDBDocument(a.MedicalPolicy),
	})
	if err != nil {
		return p, fmt.Errorf("postgres: encode documents: %w", err)
	}
	if v := a.Verification; v != nil {
		if p.verification, err = json.Marshal(dbVerification{v.ID, string(v.Status), v.Reason, v.Digest,
			nullTime(v.RequestedAt), nullTime(v.DecidedAt)}); err != nil {
			return p, fmt.Errorf("postgres: encode verification: %w", err)
		}
	}
	ev := make([]dbEvidence, len(a.Evidence))
	for i, e := range a.Evidence {
		ev[i] = dbEvidence{string(e.Kind), nullTime(e.At), e.Ref, e.Digest}
	}
	if p.evidence, err = json.Marshal(ev); err != nil {
		return p, fmt.Errorf("postgres: encode evidence: %w", err)
	}
	if l := a.Letter; l != nil {
		if p.letter, err = json.Marshal(dbLetter{l.CodeHash, l.Digest, l.Address, nullTime(l.SentAt), nullTime(l.ExpiresAt), l.Attempts}); err != nil {
			return p, fmt.Errorf("postgres: encode letter: %w", err)
		}
	}
	if a.Factors != nil {
		// store.SecondFactors carries its own JSON names: it holds no
		// time or personal data that needs a conversion.
		if p.factors, err = json.Marshal(a.Factors); err != nil {
			return p, fmt.Errorf("postgres: encode factors: %w", err)
		}
	}
	return p, nil
}

// decodePersonal sets a's fields from its jsonb columns.
func decodePersonal(a *store.Account, p personalJSON) error {
	var docs dbDocuments
	if len(p.documents) > 0 {
		if err := json.Unmarshal(p.documents, &docs); err != nil {
			return fmt.Errorf("postgres: decode documents: %w", err)
		}
	}
	a.Passport = fromDBDocument(docs.Passport)
	a.ForeignDocument = fromDBDocument(docs.ForeignDocument)
	a.DriversLicence = fromDBDocument(docs.DriversLicence)
	a.MedicalPolicy = fromDBDocument(docs.MedicalPolicy)
	a.Verification = nil
	if len(p.verification) > 0 {
		var v dbVerification
		if err := json.Unmarshal(p.verification, &v); err != nil {
			return fmt.Errorf("postgres: decode verification: %w", err)
		}
		a.Verification = &store.Verification{ID: v.ID, Status: store.VerificationStatus(v.Status), Reason: v.Reason,
			Digest: v.Digest, RequestedAt: fromNullTime(v.RequestedAt), DecidedAt: fromNullTime(v.DecidedAt)}
	}
	a.Evidence = nil
	if len(p.evidence) > 0 {
		var ev []dbEvidence
		if err := json.Unmarshal(p.evidence, &ev); err != nil {
			return fmt.Errorf("postgres: decode evidence: %w", err)
		}
		for _, e := range ev {
			a.Evidence = append(a.Evidence, store.Evidence{Kind: store.EvidenceKind(e.Kind), At: fromNullTime(e.At), Ref: e.Ref, Digest: e.Digest})
		}
	}
	a.Letter = nil
	if len(p.letter) > 0 {
		var l dbLetter
		if err := json.Unmarshal(p.letter, &l); err != nil {
			return fmt.Errorf("postgres: decode letter: %w", err)
		}
		a.Letter = &store.LetterCode{CodeHash: l.CodeHash, Digest: l.Digest, Address: l.Address, SentAt: fromNullTime(l.SentAt),
			ExpiresAt: fromNullTime(l.ExpiresAt), Attempts: l.Attempts}
	}
	a.Factors = nil
	if len(p.factors) > 0 {
		var f store.SecondFactors
		if err := json.Unmarshal(p.factors, &f); err != nil {
			return fmt.Errorf("postgres: decode factors: %w", err)
		}
		a.Factors = &f
	}
	return nil
}
