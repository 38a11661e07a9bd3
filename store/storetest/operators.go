package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func newOperator(clk *Clock, id, login string) *store.Operator {
	created := clk.Now().Add(-time.Hour + 7*time.Microsecond)
	return &store.Operator{ID: id, Login: login, Name: "Оператор " + id,
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		Roles:        []string{store.RoleOperator}, CreatedAt: created, UpdatedAt: created.In(moscow)}
}

func normOperator(o *store.Operator) store.Operator {
	n := *o
	n.Roles = normStrings(o.Roles)
	n.CreatedAt, n.UpdatedAt = normTime(o.CreatedAt), normTime(o.UpdatedAt)
	return n
}

func checkOperator(t *testing.T, what string, got, want *store.Operator) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: got nil operator", what)
	}
	if g, w := normOperator(got), normOperator(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func mustCreateOperator(t *testing.T, s store.Operators, o *store.Operator) {
	t.Helper()
	if err := s.CreateOperator(ctx(t), o); err != nil {
		t.Fatalf("CreateOperator(%s): %v", o.ID, err)
	}
}

func operatorTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"CreateGetFind", testOperatorCreateGet},
		{"Missing", testOperatorMissing},
		{"LoginUnique", testOperatorLoginUnique},
		{"ConcurrentCreate", testOperatorConcurrentCreate},
		{"List", testOperatorList},
		{"Update", testOperatorUpdate},
		{"Copies", testOperatorCopies},
		{"HasRole", testOperatorHasRole},
	}
}

func testOperatorCreateGet(t *testing.T, s store.Durable, clk *Clock) {
	o := newOperator(clk, "op-1", "ivanova")
	o.Roles = []string{store.RoleOperator, store.RoleSupervisor}
	mustCreateOperator(t, s, o)
	got, err := s.GetOperator(ctx(t), "op-1")
	if err != nil {
		t.Fatalf("GetOperator: %v", err)
	}
	checkOperator(t, "GetOperator", got, o)
	got, err = s.FindOperator(ctx(t), "ivanova")
	if err != nil {
		t.Fatalf("FindOperator: %v", err)
	}
	checkOperator(t, "FindOperator", got, o)
	// A disabled operator without roles round-trips too.
	d := newOperator(clk, "op-2", "petrov")
	d.Roles, d.Disabled, d.PasswordHash = nil, true, ""
	mustCreateOperator(t, s, d)
	got, err = s.GetOperator(ctx(t), "op-2")
	if err != nil {
		t.Fatalf("GetOperator(disabled): %v", err)
	}
	checkOperator(t, "GetOperator(disabled)", got, d)
}

func testOperatorMissing(t *testing.T, s store.Durable, clk *Clock) {
	mustCreateOperator(t, s, newOperator(clk, "op-1", "ivanova"))
	if _, err := s.GetOperator(ctx(t), "op-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetOperator(missing): got %v, want ErrNotFound", err)
	}
	for _, login := range []string{"petrov", "Ivanova", "", "op-1"} {
		if _, err := s.FindOperator(ctx(t), login); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("FindOperator(%q): got %v, want ErrNotFound", login, err)
		}
	}
	if _, err := s.UpdateOperator(ctx(t), "op-2", func(*store.Operator) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateOperator(missing): got %v, want ErrNotFound", err)
	}
}

func testOperatorLoginUnique(t *testing.T, s store.Durable, clk *Clock) {
	first := newOperator(clk, "op-1", "ivanova")
	mustCreateOperator(t, s, first)
	if err := s.CreateOperator(ctx(t), newOperator(clk, "op-2", "ivanova")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateOperator(taken login): got %v, want ErrConflict", err)
	}
	if _, err := s.GetOperator(ctx(t), "op-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetOperator(rejected): got %v, want ErrNotFound", err)
	}
	if err := s.CreateOperator(ctx(t), newOperator(clk, "op-1", "other")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateOperator(taken ID): got %v, want ErrConflict", err)
	}
	if _, err := s.FindOperator(ctx(t), "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindOperator(login of rejected): got %v, want ErrNotFound", err)
	}
	second := newOperator(clk, "op-2", "petrov")
	mustCreateOperator(t, s, second)
	if _, err := s.UpdateOperator(ctx(t), "op-2", func(o *store.Operator) error {
		o.Login, o.Name = "ivanova", "Thief"
		return nil
	}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateOperator(taken login): got %v, want ErrConflict", err)
	}
	got, err := s.GetOperator(ctx(t), "op-2")
	if err != nil {
		t.Fatalf("GetOperator: %v", err)
	}
	checkOperator(t, "operator after rejected update", got, second)
	if got, err := s.FindOperator(ctx(t), "ivanova"); err != nil || got.ID != "op-1" {
		t.Fatalf("FindOperator(ivanova): got %v, %v; want op-1", got, err)
	}
}

func testOperatorConcurrentCreate(t *testing.T, s store.Durable, clk *Clock) {
	const n = 8
	errs := concurrently(n, func(i int) error {
		return s.CreateOperator(ctx(t), newOperator(clk, fmt.Sprintf("op-%d", i), "same"))
	})
	winner := exactlyOneNil(t, "CreateOperator(same login)", errs, store.ErrConflict)
	if got, err := s.FindOperator(ctx(t), "same"); err != nil || got.ID != fmt.Sprintf("op-%d", winner) {
		t.Fatalf("FindOperator: got %v, %v; want op-%d", got, err, winner)
	}
}

func testOperatorList(t *testing.T, s store.Durable, clk *Clock) {
	list, err := s.ListOperators(ctx(t))
	if err != nil || len(list) != 0 {
		t.Fatalf("ListOperators(empty): got %v, %v", list, err)
	}
	b, a, c := newOperator(clk, "op-1", "b"), newOperator(clk, "op-2", "a"), newOperator(clk, "op-3", "c")
	for _, o := range []*store.Operator{b, a, c} {
		mustCreateOperator(t, s, o)
	}
	list, err = s.ListOperators(ctx(t))
	if err != nil {
		t.Fatalf("ListOperators: %v", err)
	}
	want := []*store.Operator{a, b, c}
	if len(list) != len(want) {
		t.Fatalf("ListOperators: %d operators, want %d", len(list), len(want))
	}
	for i := range want {
		checkOperator(t, fmt.Sprintf("ListOperators[%d]", i), list[i], want[i])
	}
}

func testOperatorUpdate(t *testing.T, s store.Durable, clk *Clock) {
	o := newOperator(clk, "op-1", "ivanova")
	mustCreateOperator(t, s, o)
	clk.Advance(time.Minute)
	want := *o
	want.Login, want.Name, want.PasswordHash = "ivanova2", "Иванова А.", "new-hash"
	want.Roles = []string{store.RoleSupervisor}
	want.Disabled = true
	want.UpdatedAt = clk.Now()
	got, err := s.UpdateOperator(ctx(t), "op-1", func(u *store.Operator) error {
		checkOperator(t, "updater input", u, o)
		u.Login, u.Name, u.PasswordHash, u.Roles, u.Disabled, u.UpdatedAt = want.Login, want.Name, want.PasswordHash, want.Roles, want.Disabled, want.UpdatedAt
		u.ID, u.CreatedAt = "op-other", clk.Now() // ignored
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateOperator: %v", err)
	}
	checkOperator(t, "UpdateOperator result", got, &want)
	stored, err := s.FindOperator(ctx(t), "ivanova2")
	if err != nil {
		t.Fatalf("FindOperator(new login): %v", err)
	}
	checkOperator(t, "FindOperator(new login)", stored, &want)
	if _, err := s.FindOperator(ctx(t), "ivanova"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindOperator(old login): got %v, want ErrNotFound", err)
	}
	if _, err := s.GetOperator(ctx(t), "op-other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetOperator(changed ID): got %v, want ErrNotFound", err)
	}
	// The old login is free again; an updater's error writes nothing.
	mustCreateOperator(t, s, newOperator(clk, "op-2", "ivanova"))
	if _, err := s.UpdateOperator(ctx(t), "op-1", func(u *store.Operator) error {
		u.Name = "x"
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatalf("UpdateOperator(updater fails): got %v, want its error", err)
	}
	stored, err = s.GetOperator(ctx(t), "op-1")
	if err != nil {
		t.Fatalf("GetOperator: %v", err)
	}
	checkOperator(t, "after failed update", stored, &want)
}

func testOperatorCopies(t *testing.T, s store.Durable, clk *Clock) {
	o := newOperator(clk, "op-1", "ivanova")
	o.Roles = []string{store.RoleOperator, store.RoleSupervisor}
	want := normOperator(o)
	mustCreateOperator(t, s, o)
	o.Roles[0] = "mutated"
	got, err := s.GetOperator(ctx(t), "op-1")
	if err != nil {
		t.Fatalf("GetOperator: %v", err)
	}
	checkOperator(t, "after mutating the input", got, &want)
	got.Roles[1] = "mutated"
	got, err = s.GetOperator(ctx(t), "op-1")
	if err != nil {
		t.Fatalf("GetOperator: %v", err)
	}
	checkOperator(t, "after mutating a result", got, &want)
}

func testOperatorHasRole(t *testing.T, _ store.Durable, clk *Clock) {
	o := newOperator(clk, "op-1", "x")
	if !o.HasRole(store.RoleOperator) || o.HasRole(store.RoleSupervisor) || o.HasRole("") {
		t.Fatalf("HasRole of %v wrong", o.Roles)
	}
}
