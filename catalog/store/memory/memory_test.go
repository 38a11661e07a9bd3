package memory_test

import (
	"testing"

	"github.com/esia-oidc/idp/catalog/store"
	"github.com/esia-oidc/idp/catalog/store/memory"
	"github.com/esia-oidc/idp/catalog/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now store.Clock) store.Store { return memory.New(now) })
}
