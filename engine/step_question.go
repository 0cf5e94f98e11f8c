package engine

import (
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
)

var zeroTime time.Time

func init() { register("question", questionHandler{}) }

// question — send the question, then wait for a valid answer.
type questionHandler struct{}

func (questionHandler) enter(c *cursor, s *flow.Step) outcome {
	b := s.Body.(*flow.QuestionStep)
	text := c.ask(s, b, c.render(&b.Text))
	c.trace(s, "", map[string]any{"text": text, "answer": b.Kind()}, nil, "")
	return c.wait(true, c.now.Add(c.questionTimeout(b)), "")
}

// ask sends a question's text (or its invalid text) with its options as buttons.
func (c *cursor) ask(s *flow.Step, b *flow.QuestionStep, text string) string {
	m := tandem.Message{Text: text}
	for _, o := range b.Options {
		title := c.render(&o.Title)
		if title == "" {
			title = o.ID
		}
		m.Buttons = append(m.Buttons, tandem.Button{ID: o.ID, Title: title})
	}
	if b.Media != nil {
		m.Media = c.media(b.Media)
	}
	c.send(m, b.Render, false)
	return text
}

func (c *cursor) questionTimeout(b *flow.QuestionStep) time.Duration {
	if b.Timeout != nil && *b.Timeout > 0 {
		return b.Timeout.D()
	}
	return c.settings().Wait()
}

func (questionHandler) resume(c *cursor, s *flow.Step, ev *tandem.Event) outcome {
	b := s.Body.(*flow.QuestionStep)
	switch ev.Kind {
	case tandem.EventTimer:
		c.output(s, map[string]any{"value": nil, "valid": false, "timed_out": true})
		c.trace(s, "timeout", nil, map[string]any{"timed_out": true}, "")
		if b.OnTimeout != "" {
			return c.branch(s, b.OnTimeout)
		}
		return c.end(tandem.RunExpired, tandem.ReasonTimeout)
	case tandem.EventMessage:
	default:
		return c.wait(true, c.now.Add(c.questionTimeout(b)), "")
	}
	m := ev.Message
	choices := make([]Choice, len(b.Options))
	for i, o := range b.Options {
		choices[i] = Choice{ID: o.ID, Title: c.render(&o.Title), Synonyms: o.Synonyms}
		if choices[i].Title == "" {
			choices[i].Title = o.ID
		}
	}
	value, option, ok := ValidateAnswer(b.Kind(), m, choices, c.answerEnv())
	out := map[string]any{"value": value, "text": m.Text, "valid": ok, "type": m.Type}
	if option != "" {
		out["option"] = option
		for _, ch := range choices {
			if ch.ID == option {
				out["title"] = ch.Title // what the customer saw: {{step.ask.title}}
			}
		}
	}
	if m.Media != nil {
		out["media"] = map[string]any{"url": m.Media.URL, "mime": m.Media.Mime}
	}
	if m.Location != nil {
		out["location"] = map[string]any{"lat": m.Location.Lat, "lng": m.Location.Lng}
	}
	if !ok {
		used := c.localInt("retries")
		if used < b.MaxRetries() {
			c.setLocal("retries", used+1)
			text := c.render(&b.InvalidText)
			if b.InvalidText.IsZero() {
				text = c.render(&b.Text)
			}
			c.ask(s, b, text)
			c.trace(s, "invalid", map[string]any{"text": m.Text}, map[string]any{"retry": used + 1}, "")
			return c.wait(true, c.now.Add(c.questionTimeout(b)), "")
		}
		out["value"] = nil
		c.output(s, out)
		c.trace(s, "invalid", map[string]any{"text": m.Text}, out, "")
		return c.branch(s, b.OnInvalid)
	}
	c.output(s, out)
	if b.Save != "" {
		if err := c.assign(b.Save, value, modeSet, ""); err != nil {
			c.trace(s, "answer", map[string]any{"text": m.Text}, out, err.Error())
			return c.fail(s, "", err.Error())
		}
	}
	c.trace(s, "answer", map[string]any{"text": m.Text}, out, "")
	for _, o := range b.Options {
		if o.ID == option && o.Next != "" {
			return c.goTo(o.Next)
		}
	}
	return c.next(s)
}

func (c *cursor) answerEnv() AnswerEnv {
	loc := c.env.Location
	if loc == nil {
		loc = time.UTC
	}
	region := c.env.Region
	if region == "" {
		// A number written without its country code is in the customer's own country, as
		// their phone (a WhatsApp sender's) says; tandem test does the same.
		region = PhoneRegion(c.contact.Phone)
	}
	return AnswerEnv{Now: c.now, Location: loc, Region: region, Language: c.language()}
}
