package main

import (
	_ "embed"
	"net/http"

	"github.com/tandemchat/tandem/config"
)

// demoShopPage is the demo's shop: a made-up store with the widget's snippet on it.
//
//go:embed demoshop/index.html
var demoShopPage []byte

// demoWebChannel is the demo's widget channel. Any site may embed it, so that a developer can
// paste the snippet into a page of their own.
var demoWebChannel = config.Channel{ID: "web", Kind: "web", AllowedOrigins: []string{"*"}, Title: "ACME Outdoor", Color: "#2f5d4a"}

// demoWelcomeFlow greets the shop's visitors when they open the chat, with the main menu's
// choices as buttons.
const demoWelcomeFlow = `format: 1
id: web-welcome
name: Website welcome
description: Greets the demo shop's visitors when they open the chat and offers the main menu.
trigger: {on: conversation_start, channels: [web]}
steps:
  - id: menu
    type: question
    text: "Hi! Welcome to ACME Outdoor. What can I do for you?"
    options:
      - {id: order, title: "Order status", synonyms: [order, tracking], next: check_order}
      - {id: sales, title: "Talk to sales", synonyms: [price, quote], next: to_sales}
      - {id: human, title: "A person, please", synonyms: [human, agent, person], next: to_human}
      - {id: question, title: "Ask a question", synonyms: [question, faq], next: to_faq}
  - id: check_order
    type: flow
    start: order-status
    mode: replace
  - id: to_sales
    type: flow
    start: lead-qualification
    mode: replace
  - id: to_human
    type: flow
    start: human
    mode: replace
  - id: to_faq
    type: flow
    start: faq-agent
    mode: replace
`

// mountDemoShop serves the shop at /demo/.
func mountDemoShop(mux *http.ServeMux) {
	mux.HandleFunc("GET /demo/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(demoShopPage)
	})
	mux.HandleFunc("GET /demo", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/demo/", http.StatusFound) })
}
