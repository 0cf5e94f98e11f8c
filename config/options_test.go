package config_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem/config"
)

// A desk entry reaches its adapter as text options named as in tandem.yaml: nested keys with a
// dot, durations as Go durations, booleans as true/false, unset keys left out.
func TestDeskOptions(t *testing.T) {
	t.Parallel()
	no := false
	poll := config.Duration(45 * time.Second)
	d := config.Desk{ID: "lc", Kind: "livechat", OrganizationID: "org", ClientID: "cid", GroupID: 2, Continuous: true,
		IgnoreBots: &no, PAT: &config.LiveChatPAT{AccountID: "acc", Token: "pat-token"}, PollInterval: &poll,
		Timeout: config.Duration(3 * time.Second), AccountID: 7, Line: 12}
	want := map[string]string{"id": "lc", "kind": "livechat", "organization_id": "org", "client_id": "cid", "group_id": "2",
		"continuous": "true", "ignore_bots": "false", "pat.account_id": "acc", "pat.token": "pat-token", "poll_interval": "45s",
		"timeout": "3s", "account_id": "7"}
	if got := d.Options(); !reflect.DeepEqual(got, want) {
		t.Errorf("Options() =\n %v\nwant\n %v", got, want)
	}
	zero := config.Duration(0)
	if got := (config.Desk{PollInterval: &zero}).Options()["poll_interval"]; got != "0s" {
		t.Errorf("poll_interval: 0 = %q, want 0s (set, off)", got)
	}
}
