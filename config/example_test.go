package config_test

import (
	"fmt"

	"github.com/tandemchat/tandem/config"
)

func ExampleParse() {
	src := `
workspace: {name: ACME, timezone: America/Sao_Paulo}
providers:
  - {id: openai, kind: openai, api_key: "${OPENAI_API_KEY}", model: gpt-4o-mini}
  - {id: hook, kind: webhook, url: "https://example.com/answer", secret: "${HOOK_SECRET:-dev-secret}"}
`
	env := map[string]string{"OPENAI_API_KEY": "sk-example"}
	c, err := config.Parse("tandem.yaml", []byte(src), func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := c.Provider(c.DefaultProvider)
	fmt.Println(p)
	fmt.Println(c.Location(), c.Handoff.WaitTimeout)

	_, err = config.Parse("tandem.yaml", []byte("providers:\n  - {id: a, kind: openai, apikey: x}\n"), nil)
	fmt.Println(err)
	// Output:
	// {id=openai kind=openai api_key=*** model=gpt-4o-mini}
	// America/Sao_Paulo 1m
	// tandem.yaml:2: providers[0].apikey: unknown key; did you mean api_key?
}
