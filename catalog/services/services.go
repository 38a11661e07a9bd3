package services

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed services.yaml
var data []byte

// Level is an account level of the provider: simplified, standard or
// confirmed (the provider's `level` claim and its acr_values).
type Level string

// The account levels, lowest first.
const (
	Simplified Level = "simplified"
	Standard   Level = "standard"
	Confirmed  Level = "confirmed"
)

// Rank orders the levels: 1, 2, 3; anything else (no claim) is 0.
func (l Level) Rank() int {
	switch l {
	case Simplified:
		return 1
	case Standard:
		return 2
	case Confirmed:
		return 3
	}
	return 0
}

// Meets reports whether an account of level l may use a service that
// requires need.
func (l Level) Meets(need Level) bool { return l.Rank() >= need.Rank() }

// Text is a message in Russian and English.
type Text struct {
	RU string `yaml:"ru"`
	EN string `yaml:"en"`
}

// In returns the text in lang ("en", else Russian).
func (t Text) In(lang string) string {
	if lang == "en" && t.EN != "" {
		return t.EN
	}
	return t.RU
}

// Category groups services on the home page.
type Category struct {
	ID    string `yaml:"id"`
	Title Text   `yaml:"title"`
}

// Field is one field of a service's application form.
type Field struct {
	Name string `yaml:"name"`
	// Claim names the userinfo claim that pre-fills the field, if any.
	Claim    string `yaml:"claim"`
	Required bool   `yaml:"required"`
	Label    Text   `yaml:"label"`
	Hint     Text   `yaml:"hint"`
}

// Service is one state service of the catalog.
type Service struct {
	ID       string   `yaml:"id"`
	Category string   `yaml:"category"`
	Level    Level    `yaml:"level"`
	Scopes   []string `yaml:"scopes"`
	Title    Text     `yaml:"title"`
	Summary  Text     `yaml:"summary"`
	Keywords []string `yaml:"keywords"`
	Fields   []Field  `yaml:"fields"`
}

// Catalog is the loaded catalog. It is read-only once loaded.
type Catalog struct {
	Categories []Category `yaml:"categories"`
	Services   []Service  `yaml:"services"`
}

// Load reads the embedded catalog and checks it.
func Load() (*Catalog, error) { return Parse(data) }

// Parse reads a catalog from YAML and checks it: unique ids, known
// categories and levels, the openid scope, named fields. Every problem is
// reported at once.
func Parse(b []byte) (*Catalog, error) {
	var c Catalog
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("services: parse: %w", err)
	}
	var errs []error
	cats := map[string]bool{}
	for _, cat := range c.Categories {
		if cat.ID == "" || cats[cat.ID] {
			errs = append(errs, fmt.Errorf("category %q: empty or repeated id", cat.ID))
		}
		cats[cat.ID] = true
	}
	ids := map[string]bool{}
	for _, s := range c.Services {
		if s.ID == "" || ids[s.ID] {
			errs = append(errs, fmt.Errorf("service %q: empty or repeated id", s.ID))
		}
		ids[s.ID] = true
		if !cats[s.Category] {
			errs = append(errs, fmt.Errorf("service %s: unknown category %q", s.ID, s.Category))
		}
		if s.Level.Rank() == 0 {
			errs = append(errs, fmt.Errorf("service %s: unknown level %q", s.ID, s.Level))
		}
		if !slices.Contains(s.Scopes, "openid") {
			errs = append(errs, fmt.Errorf("service %s: scopes must include openid", s.ID))
		}
		if s.Title.RU == "" || s.Title.EN == "" {
			errs = append(errs, fmt.Errorf("service %s: title needs ru and en", s.ID))
		}
		names := map[string]bool{}
		for _, f := range s.Fields {
			if f.Name == "" || names[f.Name] || f.Label.RU == "" || f.Label.EN == "" {
				errs = append(errs, fmt.Errorf("service %s: field %q: empty or repeated name, or a label without ru and en", s.ID, f.Name))
			}
			names[f.Name] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	return &c, nil
}

// Get returns the service with the id.
func (c *Catalog) Get(id string) (*Service, bool) {
	for i := range c.Services {
		if c.Services[i].ID == id {
			return &c.Services[i], true
		}
	}
	return nil, false
}

// InCategory lists the services of a category, in file order.
func (c *Catalog) InCategory(id string) []Service {
	var out []Service
	for _, s := range c.Services {
		if s.Category == id {
			out = append(out, s)
		}
	}
	return out
}

// Search lists the services whose title, summary or keywords (either
// language) contain every word of q, case-insensitively; an empty q lists
// every service.
func (c *Catalog) Search(q string) []Service {
	words := strings.Fields(strings.ToLower(strings.ReplaceAll(q, "ё", "е")))
	var out []Service
	for _, s := range c.Services {
		hay := strings.ToLower(strings.Join(append([]string{s.Title.RU, s.Title.EN, s.Summary.RU, s.Summary.EN}, s.Keywords...), " "))
		hay = strings.ReplaceAll(hay, "ё", "е")
		match := true
		for _, w := range words {
			if !strings.Contains(hay, w) {
				match = false
				break
			}
		}
		if match {
			out = append(out, s)
		}
	}
	return out
}

// Scopes is every scope some service asks for, without repeats, in first
// appearance order: what the catalog's client must be allowed.
func (c *Catalog) Scopes() []string {
	var out []string
	for _, s := range c.Services {
		for _, sc := range s.Scopes {
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	return out
}
