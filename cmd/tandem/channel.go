package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/telegram"
	"github.com/tandemchat/tandem/internal/safehttp"
)

const channelUsage = `Usage:
  tandem channel telegram set-webhook [--config tandem.yaml] [--channel ID] [--url https://bot.acme.com] [--drop-pending]

Registers the webhook of the configuration's Telegram channels (or one of them) with
Telegram: <url>/hooks/telegram/<id>, with the channel's secret token, for the updates Tandem
handles. --url is this server's public address as Telegram reaches it (HTTPS, port 443, 80,
88 or 8443); without it, the channel's public_url. tandem serve does the same at start when
public_url is set.`

// runChannel is `tandem channel ...`.
func (m *Main) runChannel(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(m.Stdout, channelUsage)
		return flag.ErrHelp
	}
	if len(args) < 2 || args[0] != "telegram" || args[1] != "set-webhook" {
		return usagef("channel: use `tandem channel telegram set-webhook [--config tandem.yaml] [--channel ID] [--url https://...]`")
	}
	fs := m.newFlags("channel telegram set-webhook", "channel telegram set-webhook [--config tandem.yaml] [--channel ID] [--url https://bot.acme.com] [--drop-pending]")
	cfgPath := fs.String("config", "tandem.yaml", "the workspace configuration")
	only := fs.String("channel", "", "the id of one Telegram channel (default: all of them)")
	url := fs.String("url", "", "this server's public URL as Telegram reaches it (default: the channel's public_url)")
	drop := fs.Bool("drop-pending", false, "discard the updates Telegram still holds for the bot")
	if _, err := m.parse(fs, args[2:]); err != nil {
		return err
	}
	if *url != "" && !strings.HasPrefix(*url, "https://") && !strings.HasPrefix(*url, "http://") {
		return usagef("channel telegram set-webhook: --url %q is not a URL such as https://bot.acme.com", *url)
	}
	cfg, err := m.loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	client := safehttp.NewClient(safehttp.Options{AllowPrivate: true, Timeout: time.Minute})
	done := 0
	for _, c := range cfg.Channels {
		if c.Kind != telegram.Kind || (*only != "" && c.ID != *only) {
			continue
		}
		ch, err := channel.New(c.Config(), channel.Deps{HTTP: client})
		if err != nil {
			return err
		}
		tg := ch.(*telegram.Channel)
		public := strings.TrimRight(*url, "/")
		if public == "" {
			public = strings.TrimRight(c.PublicURL, "/")
		}
		if public == "" {
			return fmt.Errorf("Telegram channel %s: give --url https://your.server (or set public_url in its entry of %s)", c.ID, *cfgPath)
		}
		hook := public + tg.WebhookPath()
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = tg.SetWebhook(sctx, hook, *drop)
		cancel()
		if err != nil {
			return fmt.Errorf("Telegram channel %s: %w", c.ID, err)
		}
		fmt.Fprintf(m.Stdout, "Telegram channel %s: webhook set to %s\n", c.ID, hook)
		done++
	}
	if done == 0 {
		if *only != "" {
			return fmt.Errorf("%s has no Telegram channel %q", *cfgPath, *only)
		}
		return fmt.Errorf("%s has no channel of kind telegram", *cfgPath)
	}
	return nil
}
