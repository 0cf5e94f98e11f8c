package inbox

import "context"

// PollOnce reads what changed once and emits it, as the event stream's loop does at each look:
// a test that does not Start the inbox decides when the stream looks.
func (s *Service) PollOnce(ctx context.Context) error { return s.b.poll(ctx) }
