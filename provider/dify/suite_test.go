package dify_test

import (
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/provider/dify"
	"github.com/tandemchat/tandem/provider/providertest"
)

// The failures of the shared provider suite map as they do for every kind. (providertest.Run
// as a whole does not fit: a Dify app is given only the new query, never the system text and
// the history, which Dify keeps itself.)
func TestSharedFailures(t *testing.T) {
	providertest.RunFailures(t, providertest.Kind{
		New: func(baseURL, key string) tandem.Provider {
			p, err := dify.New(provider.Config{ID: "p", Kind: dify.Kind, APIKey: key, BaseURL: baseURL}, provider.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Op: tandem.AIAssist,
	})
}
