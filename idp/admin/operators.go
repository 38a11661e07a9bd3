package admin

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

// operatorLogin is the shape of an operator's login: lower case only, so
// that two logins never differ by case alone.
var operatorLogin = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// operatorRoles are the roles an operator may have.
var operatorRoles = []string{store.RoleOperator, store.RoleSupervisor}

// operatorFromRequest validates a new operator and returns it without ID,
// password hash or times.
func operatorFromRequest(req adminclient.NewOperator) (*store.Operator, *problem) {
	o := &store.Operator{Login: req.Login, Name: strings.TrimSpace(req.Name)}
	if !operatorLogin.MatchString(o.Login) {
		return nil, badRequest("login must be 1 to 64 of a-z, 0-9, '.', '_', '-', '@', starting with a letter or digit")
	}
	if o.Name == "" {
		return nil, badRequest("name is required")
	}
	if utf8.RuneCountInString(o.Name) > maxNameLen {
		return nil, badRequest("name is longer than %d characters", maxNameLen)
	}
	if strings.ContainsFunc(o.Name, unicode.IsControl) {
		return nil, badRequest("name must not hold control characters")
	}
	if len(req.Roles) == 0 {
		return nil, badRequest("roles must name one or more of operator, supervisor")
	}
	for _, r := range req.Roles {
		if !slices.Contains(operatorRoles, r) {
			return nil, badRequest("roles may hold only operator and supervisor")
		}
		if !slices.Contains(o.Roles, r) {
			o.Roles = append(o.Roles, r)
		}
	}
	if req.Password == "" {
		return nil, badRequest("password is required")
	}
	if len(req.Password) > maxPasswordLen {
		return nil, badRequest("password is longer than %d bytes", maxPasswordLen)
	}
	return o, nil
}

// createOperator creates a service-centre operator with a password; 409
// when the login is taken.
func (a *API) createOperator(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req adminclient.NewOperator
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, p)
		return
	}
	o, p := operatorFromRequest(req)
	if p != nil {
		writeProblem(w, p)
		return
	}
	loginTaken := &problem{http.StatusConflict, codeConflict, "login is already taken by another operator"}
	if _, err := a.Operators.FindOperator(ctx, o.Login); err == nil {
		writeProblem(w, loginTaken)
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		a.internalError(w, r, "find operator", err)
		return
	}
	if err := password.Check(req.Password); err != nil {
		// The policy error's text never holds the password.
		writeProblem(w, &problem{http.StatusBadRequest, codeInvalidRequest, err.Error()})
		return
	}
	hash, err := a.Passwords.Hash(ctx, req.Password)
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "5")
		writeProblem(w, &problem{http.StatusServiceUnavailable, "temporarily_unavailable", "too many password hashes at once; retry later"})
		return
	}
	if err != nil {
		a.internalError(w, r, "hash password", err)
		return
	}
	now := a.now()
	o.ID, o.PasswordHash, o.CreatedAt, o.UpdatedAt = a.NewID(), hash, now, now
	err = a.Operators.CreateOperator(ctx, o)
	if errors.Is(err, store.ErrConflict) {
		writeProblem(w, loginTaken) // lost a race since the check above
		return
	}
	if err != nil {
		a.internalError(w, r, "create operator", err)
		return
	}
	a.log().InfoContext(ctx, "admin: operator created", "operator_id", o.ID, "roles", o.Roles)
	writeJSON(w, http.StatusCreated, adminclient.OperatorInfo{
		ID: o.ID, Login: o.Login, Name: o.Name, Roles: o.Roles, Disabled: o.Disabled, CreatedAt: o.CreatedAt,
	})
}
