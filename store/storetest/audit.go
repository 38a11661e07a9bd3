package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

func auditTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"AppendList", testAuditAppendList},
		{"Filters", testAuditFilters},
		{"Paging", testAuditPaging},
		{"IDsSortByTime", testAuditIDOrder},
		{"DuplicateID", testAuditDuplicate},
		{"Copies", testAuditCopies},
	}
}

func normAudit(e *store.AuditEvent) store.AuditEvent {
	n := *e
	n.At = normTime(e.At)
	if len(n.Details) == 0 {
		n.Details = nil
	}
	return n
}

func checkAudit(t *testing.T, what string, got, want []*store.AuditEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d: %+v", what, len(got), len(want), got)
	}
	for i := range want {
		if g, w := normAudit(got[i]), normAudit(want[i]); !reflect.DeepEqual(g, w) {
			t.Fatalf("%s[%d]:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

func mustAppend(t *testing.T, s store.Audit, e *store.AuditEvent) *store.AuditEvent {
	t.Helper()
	if err := s.AppendAudit(ctx(t), e); err != nil {
		t.Fatalf("AppendAudit(%s): %v", e.Action, err)
	}
	return e
}

func mustList(t *testing.T, s store.Audit, q store.AuditQuery) []*store.AuditEvent {
	t.Helper()
	list, err := s.ListAudit(ctx(t), q)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", q, err)
	}
	return list
}

func testAuditAppendList(t *testing.T, s store.Durable, clk *Clock) {
	if list := mustList(t, s, store.AuditQuery{}); len(list) != 0 {
		t.Fatalf("ListAudit(empty store): %v", list)
	}
	a := mustAppend(t, s, &store.AuditEvent{Actor: "operator:op-1", Action: "account.confirm", AccountID: "acc-1",
		Details: map[string]string{"method": "operator", "document_checked": "true"}})
	if a.ID == "" || !sameTime(a.At, clk.Now()) {
		t.Fatalf("AppendAudit set ID %q, At %v; want an ID and the clock's time %v", a.ID, a.At, clk.Now())
	}
	clk.Advance(time.Second)
	b := mustAppend(t, s, &store.AuditEvent{Actor: "system", Action: "account.delete", AccountID: "acc-2"})
	at := clk.Now().Add(-time.Hour).In(moscow)
	c := mustAppend(t, s, &store.AuditEvent{ID: store.NewAuditID(at), At: at, Actor: "citizen:acc-1", Action: "letter.request"})
	checkAudit(t, "ListAudit", mustList(t, s, store.AuditQuery{}), []*store.AuditEvent{b, a, c})
}

func testAuditFilters(t *testing.T, s store.Durable, clk *Clock) {
	var all []*store.AuditEvent
	for i := range 6 {
		clk.Advance(time.Millisecond)
		all = append(all, mustAppend(t, s, &store.AuditEvent{
			Actor: fmt.Sprintf("operator:op-%d", i%2), Action: "account.view", AccountID: fmt.Sprintf("acc-%d", i%3)}))
	}
	pick := func(idx ...int) []*store.AuditEvent {
		var l []*store.AuditEvent
		for _, i := range idx {
			l = append(l, all[i])
		}
		return l
	}
	checkAudit(t, "by account", mustList(t, s, store.AuditQuery{AccountID: "acc-1"}), pick(4, 1))
	checkAudit(t, "by actor", mustList(t, s, store.AuditQuery{Actor: "operator:op-0"}), pick(4, 2, 0))
	checkAudit(t, "by both", mustList(t, s, store.AuditQuery{Actor: "operator:op-1", AccountID: "acc-0"}), pick(3))
	checkAudit(t, "nobody", mustList(t, s, store.AuditQuery{AccountID: "acc-9"}), nil)
	checkAudit(t, "limit", mustList(t, s, store.AuditQuery{Limit: 2}), pick(5, 4))
	checkAudit(t, "unstorable", mustList(t, s, store.AuditQuery{AccountID: "a\x00b"}), nil)
}

func testAuditPaging(t *testing.T, s store.Durable, clk *Clock) {
	const n = 7
	var all []*store.AuditEvent
	for range n {
		// Several in one instant: their IDs still order them as appended.
		all = append(all, mustAppend(t, s, &store.AuditEvent{Actor: "system", Action: "sweep"}))
	}
	var got []*store.AuditEvent
	before := ""
	for page := 0; ; page++ {
		if page > n {
			t.Fatal("paging does not end")
		}
		list := mustList(t, s, store.AuditQuery{Before: before, Limit: 3})
		if len(list) == 0 {
			break
		}
		got = append(got, list...)
		before = list[len(list)-1].ID
	}
	want := make([]*store.AuditEvent, n)
	for i := range all {
		want[n-1-i] = all[i]
	}
	checkAudit(t, "pages", got, want)
}

func testAuditIDOrder(t *testing.T, _ store.Durable, clk *Clock) {
	prev := ""
	for i := range 50 {
		id := store.NewAuditID(clk.Now())
		if id <= prev {
			t.Fatalf("NewAuditID #%d = %q does not sort after %q", i, id, prev)
		}
		prev = id
		if i%10 == 0 {
			clk.Advance(time.Microsecond)
		}
	}
	early, late := store.NewAuditID(clk.Now().Add(time.Microsecond)), store.NewAuditID(clk.Now())
	if late >= early {
		t.Fatalf("an ID made later for an earlier time sorts after: %q >= %q", late, early)
	}
}

func testAuditDuplicate(t *testing.T, s store.Durable, clk *Clock) {
	a := mustAppend(t, s, &store.AuditEvent{Actor: "system", Action: "first"})
	err := s.AppendAudit(ctx(t), &store.AuditEvent{ID: a.ID, Actor: "system", Action: "second"})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("AppendAudit(taken ID): got %v, want ErrConflict", err)
	}
	checkAudit(t, "after conflict", mustList(t, s, store.AuditQuery{}), []*store.AuditEvent{a})
}

func testAuditCopies(t *testing.T, s store.Durable, clk *Clock) {
	e := mustAppend(t, s, &store.AuditEvent{Actor: "system", Action: "x", Details: map[string]string{"k": "v"}})
	want := normAudit(e)
	want.Details = map[string]string{"k": "v"}
	e.Details["k"] = "mutated"
	got := mustList(t, s, store.AuditQuery{})
	checkAudit(t, "after mutating the input", got, []*store.AuditEvent{&want})
	got[0].Details["k"] = "mutated"
	checkAudit(t, "after mutating a result", mustList(t, s, store.AuditQuery{}), []*store.AuditEvent{&want})
}
