package chatbase_test

import (
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/provider/chatbase"
	"github.com/tandemchat/tandem/provider/providertest"
)

// The failures of the shared provider suite map as they do for every kind. (providertest.Run
// as a whole does not fit: Chatbase is given the transcript but never the system text, which
// its API does not document; the chatbot's instructions live in Chatbase.)
func TestSharedFailures(t *testing.T) {
	providertest.RunFailures(t, providertest.Kind{
		New: func(baseURL, key string) tandem.Provider {
			p, err := chatbase.New(provider.Config{ID: "p", Kind: chatbase.Kind, APIKey: key, ChatbotID: "bot-1", BaseURL: baseURL}, provider.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Op: tandem.AIAssist,
	})
}
